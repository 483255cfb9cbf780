"""Celery entry points for the ledger. Thin: each calls one service."""

from celery import shared_task

from ledger import services as ledger


@shared_task(name="ledger.seal_chain", acks_late=True, max_retries=3, default_retry_delay=5)
def seal_chain() -> int:
    """Seal finished entries into the hash chain; running it twice seals nothing twice."""
    return ledger.chain_seal().sealed
