"""Licensing: quotes, orders, licences, certificates of lawful sourcing, and delivery."""
