from celery import shared_task

from marketplace.api.idempotency import idempotency_sweep


@shared_task(name="api.sweep_idempotency", acks_late=True, max_retries=0)
def sweep_idempotency() -> int:
    """Forget idempotency keys older than their time to live."""
    return idempotency_sweep()
