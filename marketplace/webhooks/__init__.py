"""Webhooks to licensees, signed per Standard Webhooks, retried with backoff, replayable."""
