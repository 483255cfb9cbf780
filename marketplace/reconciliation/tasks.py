from celery import shared_task

from marketplace.reconciliation.services import rematch_pending, stripe_sync


@shared_task(name="reconciliation.sync_stripe", acks_late=True, max_retries=3, default_retry_delay=600)
def sync_stripe() -> int:
    """Import Stripe's new balance transactions from the last cursor, then retry every open exception."""
    imported = stripe_sync()
    rematch_pending()
    return imported.line_count if imported else 0
