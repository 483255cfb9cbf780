"""Recording domain events (inside the caller's transaction)."""

from marketplace.events.models import DomainEvent


def event_record(*, type: str, organisation, subject: str, payload: dict) -> DomainEvent:
    return DomainEvent.objects.create(type=type, organisation=organisation, subject=subject, payload=payload)
