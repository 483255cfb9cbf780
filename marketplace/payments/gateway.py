"""Stripe, at the edge. This is the only module that imports ``stripe``.

``STRIPE_API_BASE`` points the official SDK at another server: the tests use
localstripe (a stateful Stripe fake) and our own small Connect fake, because
Stripe's test mode cannot be reached from the test machines.
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from django.conf import settings


def _client() -> stripe.StripeClient:
    kwargs = {}
    if settings.STRIPE_API_BASE:
        kwargs["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, max_network_retries=2, **kwargs)


@dataclass(frozen=True)
class Intent:
    id: str
    client_secret: str
    status: str


def payment_intent_create(*, amount: int, currency: str, order_id: str, licensee: str) -> Intent:
    intent = _client().v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": currency.lower(),
            "metadata": {"order": order_id, "licensee": licensee},
            "payment_method_types": ["card"],
        },
        options={"idempotency_key": f"order:{order_id}:intent"},
    )
    return Intent(intent.id, intent.client_secret, intent.status)


def payment_intent_confirm_with_test_card(intent_id: str, number: str = "4242424242424242") -> str:
    """Pay a PaymentIntent with a test card, server-side. Only for the demo and the tests, against a
    Stripe fake: real buyers confirm in the browser with Stripe.js."""
    client = _client()
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2035, "cvc": "123"}}
    )
    client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
    return client.v1.payment_intents.confirm(intent_id).to_dict()["status"]


@dataclass(frozen=True)
class Capture:
    payment_intent: str
    amount: int
    fee: int
    currency: str


def capture_details(payment_intent: dict) -> Capture:
    """Amount and Stripe's fee for a succeeded PaymentIntent, from its charge's balance transaction."""
    amount = int(payment_intent.get("amount_received") or payment_intent["amount"])
    charge = payment_intent.get("latest_charge")
    charge_id = charge.get("id") if isinstance(charge, dict) else charge
    fee = 0
    if charge_id:
        client = _client()
        balance_transaction = client.v1.charges.retrieve(charge_id).to_dict().get("balance_transaction")
        if isinstance(balance_transaction, str):
            balance_transaction = client.v1.balance_transactions.retrieve(balance_transaction).to_dict()
        if balance_transaction:
            fee = int(balance_transaction.get("fee") or 0)
    return Capture(payment_intent["id"], amount, fee, payment_intent["currency"].upper())


class SignatureError(ValueError):
    """The Stripe-Signature header is missing, malformed, too old, or does not match."""


def event_from_webhook(payload: bytes, signature_header: str) -> dict:
    """Verify ``Stripe-Signature`` (HMAC-SHA256 of "{t}.{body}", 300 s tolerance) and parse the event."""
    if not signature_header:
        raise SignatureError("missing Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(
            payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
        )
    except stripe.SignatureVerificationError as exc:
        raise SignatureError(str(exc)) from None
    except ValueError as exc:
        raise SignatureError(f"the body is not a Stripe event: {exc}") from None
    return event.to_dict()
