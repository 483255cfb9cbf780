"""Rating tasks: thin wrappers that are safe to run twice (runs lock meters and claim events atomically)."""

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from marketplace.rating.models import RatingRun
from marketplace.rating.services import chunked, licences_to_rate, rating_rate_licences

log = logging.getLogger(__name__)


@shared_task(name="usage.rate", acks_late=True, max_retries=0)
def rate() -> int:
    """Every minute: one task per chunk of licences that have unrated usage (or a term to settle)."""
    chunks = chunked(licences_to_rate())
    for chunk in chunks:
        rate_licences.delay(chunk)
    return len(chunks)


@shared_task(
    name="usage.rate_licences",
    acks_late=True,
    autoretry_for=(DatabaseError,),
    max_retries=5,
    retry_backoff=5,
    retry_backoff_max=120,
)
def rate_licences(licence_ids: list[int], trigger: str = RatingRun.Trigger.SCHEDULE) -> int | None:
    run = rating_rate_licences(licence_ids, trigger=trigger)
    return None if run is None else run.pk


@shared_task(name="usage.sweep_unrated", acks_late=True, max_retries=0)
def sweep_unrated() -> int:
    """Rate, in this task, usage that has waited longer than it should: its enqueue was lost or its worker died."""
    stale = licences_to_rate(older_than=dt.timedelta(seconds=settings.RATING_SWEEP_AFTER_SECONDS))
    runs = 0
    for chunk in chunked(stale):
        if rating_rate_licences(chunk, trigger=RatingRun.Trigger.SWEEPER) is not None:
            runs += 1
    if runs:
        log.warning("rating sweeper rated %d chunk(s) left behind", runs)
    return runs
