from celery import shared_task

from marketplace.webhooks.services import deliveries_due, delivery_send, events_dispatch


@shared_task(name="webhooks.send", acks_late=True, max_retries=0)
def send_webhook(delivery_pk: int) -> str:
    """One attempt; failures are rescheduled in the database, not by Celery retries."""
    delivery = delivery_send(delivery_pk)
    return delivery.status if delivery else "not due"


@shared_task(name="webhooks.dispatch", acks_late=True, max_retries=0)
def dispatch_events() -> int:
    """Fan new domain events out to endpoints, then send everything that is due."""
    created = events_dispatch()
    for pk in deliveries_due():
        send_webhook.delay(pk)
    return created
