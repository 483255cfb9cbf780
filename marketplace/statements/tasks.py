import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from marketplace.periods import previous_month
from marketplace.statements.services import statements_issue


@shared_task(name="statements.issue_monthly", acks_late=True, max_retries=3, default_retry_delay=600)
def issue_monthly() -> int:
    """Hourly: once a month has turned (after invoices), issue last month's royalty statements; repeats are no-ops."""
    now = timezone.now()
    month_start = dt.datetime.combine(now.astimezone(dt.UTC).date().replace(day=1), dt.time(), tzinfo=dt.UTC)
    if now < month_start + dt.timedelta(hours=settings.STATEMENT_ISSUE_AFTER_HOURS):
        return 0
    return len(statements_issue(period=previous_month(now)))
