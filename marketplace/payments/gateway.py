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


def payment_intent_create(
    *, amount: int, currency: str, order_id: str, licensee: str, metadata: dict | None = None
) -> Intent:
    intent = _client().v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": currency.lower(),
            "metadata": metadata or {"order": order_id, "licensee": licensee},
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


# -- Connect: paying rights holders ------------------------------------------------------------------------


def _connect_client() -> stripe.StripeClient:
    kwargs = {}
    base = settings.STRIPE_CONNECT_API_BASE or settings.STRIPE_API_BASE
    if base:
        kwargs["base_addresses"] = {"api": base}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, max_network_retries=2, **kwargs)


class ConnectError(RuntimeError):
    """Stripe refused a Connect request; the message is Stripe's."""


def _connect(call):
    try:
        return call(_connect_client()).to_dict()
    except stripe.StripeError as exc:
        raise ConnectError(exc.user_message or str(exc)) from None


@dataclass(frozen=True)
class ConnectAccount:
    id: str
    details_submitted: bool
    payouts_enabled: bool


def _account(data: dict) -> ConnectAccount:
    return ConnectAccount(data["id"], bool(data.get("details_submitted")), bool(data.get("payouts_enabled")))


def connect_account_create(*, party: str, email: str, country: str) -> ConnectAccount:
    """An Express account with manual payouts: the platform decides when a rights holder is paid."""
    return _account(
        _connect(
            lambda c: c.v1.accounts.create(
                params={
                    "type": "express", "country": country, "email": email, "metadata": {"party": party},
                    "capabilities": {"transfers": {"requested": True}},
                    "settings": {"payouts": {"schedule": {"interval": "manual"}}},
                },
                options={"idempotency_key": f"connect:{party}:account"},
            )
        )
    )  # fmt: skip


def connect_account_get(account_id: str) -> ConnectAccount:
    return _account(_connect(lambda c: c.v1.accounts.retrieve(account_id)))


def connect_account_link(account_id: str, *, refresh_url: str, return_url: str) -> str:
    """A fresh onboarding link (they expire in minutes; the refresh URL asks for a new one)."""
    link = _connect(
        lambda c: c.v1.account_links.create(
            params={"account": account_id, "refresh_url": refresh_url, "return_url": return_url,
                    "type": "account_onboarding"}
        )
    )  # fmt: skip
    return link["url"]


def transfer_create(*, amount: int, currency: str, destination: str, payout_id: str) -> str:
    """Move a payout's amount to the rights holder's connected account. Keyed: a retry never pays twice."""
    transfer = _connect(
        lambda c: c.v1.transfers.create(
            params={"amount": amount, "currency": currency.lower(), "destination": destination,
                    "metadata": {"payout": payout_id}, "transfer_group": payout_id},
            options={"idempotency_key": f"clearframe:{payout_id}:transfer"},
        )
    )  # fmt: skip
    return transfer["id"]


def connected_payout_create(*, amount: int, currency: str, account: str, payout_id: str) -> str:
    """Pay the connected account's balance out to its bank (its payouts are manual). Keyed, like transfers."""
    payout = _connect(
        lambda c: c.v1.payouts.create(
            params={"amount": amount, "currency": currency.lower(), "metadata": {"payout": payout_id}},
            options={"idempotency_key": f"clearframe:{payout_id}:payout", "stripe_account": account},
        )
    )
    return payout["id"]


def balance_transactions_after(cursor: str | None, *, limit: int = 100) -> list[dict]:
    """Our Stripe balance's transactions newer than ``cursor``, oldest first (all of them on the first sync)."""
    client = _connect_client()
    if not cursor:
        found, after = [], None
        while True:
            params = {"limit": limit, **({"starting_after": after} if after else {})}
            page = client.v1.balance_transactions.list(params=params).to_dict()
            found += page["data"]
            if not page["has_more"] or not page["data"]:
                return list(reversed(found))
            after = page["data"][-1]["id"]
    found = []
    while True:
        page = client.v1.balance_transactions.list(params={"limit": limit, "ending_before": cursor}).to_dict()
        if not page["data"]:
            return found
        found += list(reversed(page["data"]))
        cursor = page["data"][0]["id"]
        if not page["has_more"]:
            return found


def charge_payment_intent(charge_id: str) -> str | None:
    """The PaymentIntent a charge belongs to (a balance transaction names only the charge)."""
    try:
        return _client().v1.charges.retrieve(charge_id).to_dict().get("payment_intent")
    except stripe.StripeError:
        return None


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
