import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from marketplace.invoicing.services import invoices_issue
from marketplace.periods import previous_month
from marketplace.rating.models import RatingRun
from marketplace.rating.services import rating_rate_all


@shared_task(name="invoicing.issue_monthly", acks_late=True, max_retries=3, default_retry_delay=300)
def issue_monthly() -> int:
    """Hourly: once the month has turned (plus a margin), rate what is pending and issue last month's invoices.
    Invoices already issued are skipped, so every run after the first does nothing."""
    now = timezone.now()
    month_start = dt.datetime.combine(now.astimezone(dt.UTC).date().replace(day=1), dt.time(), tzinfo=dt.UTC)
    if now < month_start + dt.timedelta(hours=settings.INVOICE_ISSUE_AFTER_HOURS):
        return 0
    rating_rate_all(trigger=RatingRun.Trigger.SCHEDULE)
    return len(invoices_issue(period=previous_month(now)))
