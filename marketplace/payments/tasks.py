from celery import shared_task

from marketplace.payments.services import stripe_event_process, stripe_events_pending


@shared_task(name="payments.process_stripe_event", acks_late=True, bind=True, max_retries=5, default_retry_delay=15)
def process_stripe_event(self, pk: int) -> str:
    try:
        return stripe_event_process(pk).status
    except Exception as exc:
        raise self.retry(exc=exc) from exc


@shared_task(name="payments.sweep_stripe_events", acks_late=True, max_retries=0)
def sweep_stripe_events() -> int:
    """Process events whose task was lost or failed; each is processed at most once in effect."""
    pending = list(stripe_events_pending().values_list("pk", flat=True)[:500])
    for pk in pending:
        process_stripe_event.delay(pk)
    return len(pending)
