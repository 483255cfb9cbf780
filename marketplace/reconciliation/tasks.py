from celery import shared_task

from marketplace.reconciliation.services import rematch_pending, stripe_sync


@shared_task(name="reconciliation.sync_stripe", acks_late=True, max_retries=3, default_retry_delay=600)
def sync_stripe() -> int:
    """Import Stripe's new balance transactions from the last cursor, then retry every open exception."""
    imported = stripe_sync()
    rematch_pending()
    return imported.line_count if imported else 0


@shared_task(name="reconciliation.daily_report", acks_late=True, max_retries=3, default_retry_delay=600)
def daily_report() -> int:
    """Each morning: yesterday's reconciliation report per source, kept for the finance pages."""
    import datetime as dt

    from django.utils import timezone

    from marketplace.reconciliation.services import daily_report_record

    return len(daily_report_record(timezone.now().date() - dt.timedelta(days=1)))
