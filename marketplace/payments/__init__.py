"""Payments through Stripe. ``marketplace.payments.gateway`` is the only module that imports ``stripe``."""
