"""Stripe events: stored once by id, then processed by a task that is safe to run again."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from marketplace.payments import gateway
from marketplace.payments.models import EventStatus, StripeEvent

log = logging.getLogger(__name__)


def stripe_event_receive(payload: bytes, signature_header: str) -> tuple[StripeEvent, bool]:
    """Verify and store an event. Returns (event, created); a replayed event is stored once."""
    event = gateway.event_from_webhook(payload, signature_header)
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(event_id=event["id"], type=event["type"], payload=event)
        created = True
    except IntegrityError:
        stored = StripeEvent.objects.get(event_id=event["id"])
        created = False
    if created:
        transaction.on_commit(lambda: _enqueue(stored.pk))
    return stored, created


def _enqueue(pk: int) -> None:
    from marketplace.payments.tasks import process_stripe_event

    try:
        process_stripe_event.delay(pk)
    except Exception:  # the sweeper processes events whose enqueue was lost
        log.exception("could not enqueue Stripe event %s", pk)


def stripe_event_process(pk: int) -> StripeEvent:
    """Act on one stored event. Effects are keyed, so processing twice, or out of order, changes nothing."""
    try:
        return _process(pk)
    except Exception as exc:
        # The work rolled back; record why, outside it, and let the task retry.
        StripeEvent.objects.filter(pk=pk).update(
            status=EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], attempts=F("attempts") + 1
        )
        raise


def _process(pk: int) -> StripeEvent:
    from marketplace.licensing import services as licensing

    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=pk)
        if event.status in (EventStatus.PROCESSED, EventStatus.IGNORED):
            return event
        obj = event.payload["data"]["object"]
        if event.type == "payment_intent.succeeded":
            capture = gateway.capture_details(obj)
            if (obj.get("metadata") or {}).get("invoice"):
                from marketplace.invoicing.services import invoice_paid_by_card

                invoice_paid_by_card(payment_intent_id=capture.payment_intent, amount=capture.amount, fee=capture.fee)
            else:
                licensing.order_paid(payment_intent_id=capture.payment_intent, amount=capture.amount, fee=capture.fee)
            event.status = EventStatus.PROCESSED
        elif event.type in ("charge.refunded", "charge.dispute.created", "charge.dispute.closed"):
            from marketplace.payments.disputes import charge_event

            charge_event(event.type, obj)
            event.status = EventStatus.PROCESSED
        elif event.type == "payment_intent.payment_failed":
            licensing.order_payment_failed(payment_intent_id=obj["id"])
            event.status = EventStatus.PROCESSED
        elif event.type in PAYOUT_EVENTS:
            _payout_event(event.type, obj)
            event.status = EventStatus.PROCESSED
        else:
            event.status = EventStatus.IGNORED
        event.attempts += 1
        event.processed_at = timezone.now()
        event.error = ""
        event.save()
    return event


PAYOUT_EVENTS = ("account.updated", "payout.paid", "payout.failed", "transfer.reversed")


def _payout_event(type_: str, obj: dict) -> None:
    """Connect events: onboarding status, and payouts settled, failed or reversed (matched by our payout id)."""
    from marketplace.payouts import services as payouts

    if type_ == "account.updated":
        payouts.payee_stripe_sync(
            obj["id"],
            details_submitted=bool(obj.get("details_submitted")),
            payouts_enabled=bool(obj.get("payouts_enabled")),
        )
        return
    payout_id = (obj.get("metadata") or {}).get("payout")
    if not payout_id:
        return
    if type_ == "payout.paid":
        # Settled today: our Stripe balance moved with the transfer, not on the day the holder's bank is credited.
        payouts.payout_paid(payout_id=payout_id)
    elif type_ == "payout.failed":
        reason = obj.get("failure_message") or obj.get("failure_code") or "the payout failed"
        payouts.payout_failed(payout_id=payout_id, reason=f"Stripe: {reason}")
    else:
        payouts.payout_failed(payout_id=payout_id, reason="Stripe: the transfer was reversed")


def stripe_events_pending():
    return StripeEvent.objects.filter(status__in=[EventStatus.RECEIVED, EventStatus.FAILED], attempts__lt=10)
