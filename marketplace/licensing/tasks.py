from celery import shared_task

from marketplace.licensing.services import licences_expire


@shared_task(name="licensing.expire_licences", acks_late=True, max_retries=3, default_retry_delay=60)
def expire_licences() -> list[int]:
    expired, warned = licences_expire()
    return [expired, warned]
