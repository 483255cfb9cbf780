"""Card payments: the Stripe webhook endpoint, and the whole flow against localstripe with a real worker."""

import hashlib
import hmac
import json
import time

import pytest
from django.conf import settings

from ledger import services as ledger
from marketplace.licensing.models import Order
from marketplace.payments.models import StripeEvent
from marketplace.payments.services import stripe_event_process
from tests.fixtures.celery import start_worker, wait_until
from tests.fixtures.stripe import register_webhook


def signed(body: bytes, secret: str | None = None, at: int | None = None) -> str:
    stamp = at or int(time.time())
    mac = hmac.new((secret or settings.STRIPE_WEBHOOK_SECRET).encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return f"t={stamp},v1={mac.hexdigest()}"


EVENT = {"id": "evt_1", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}


def test_webhook_signatures_are_verified_and_events_stored_once(client, db):
    body = json.dumps(EVENT).encode()
    ok = client.post("/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed(body))
    assert ok.json() == {"received": "evt_1", "duplicate": False}
    again = client.post("/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed(body))
    assert again.json()["duplicate"] is True
    assert StripeEvent.objects.count() == 1
    for header in ("", signed(body, secret="whsec_wrong"), signed(body, at=int(time.time()) - 3600), "garbage"):
        response = client.post("/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
        assert response.status_code == 400
        assert "signature verification failed" in response.json()["error"]
    event = stripe_event_process(StripeEvent.objects.get().pk)
    assert event.status == "ignored"
    assert stripe_event_process(event.pk).status == "ignored"


@pytest.mark.postgres
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_card_order_is_fulfilled_when_stripe_says_it_is_paid(market, buyer, localstripe, live_server):
    from config.celery_app import app
    from marketplace.payments import gateway

    register_webhook(localstripe, f"{live_server.url}/webhooks/stripe/", settings.STRIPE_WEBHOOK_SECRET)
    app.control.purge()
    worker = start_worker(extra_env={"STRIPE_API_BASE": localstripe})
    try:
        wait_until(lambda: app.control.ping(timeout=0.5), timeout=60, message="the worker")
        _, api = buyer
        quote = api.post("/api/v1/quotes/", {"offer": market["flat"].pk}, format="json").json()
        response = api.post(
            "/api/v1/orders/",
            {"quote": quote["id"], "payment_method": "card"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="card-1",
        ).json()
        assert (response["status"], response["licence"]) == ("pending_payment", None)
        assert response["client_secret"].startswith("pi_")
        order = Order.objects.get(public_id=response["id"])
        assert gateway.payment_intent_confirm_with_test_card(order.stripe_payment_intent) == "succeeded"
        wait_until(
            lambda: Order.objects.get(pk=order.pk).status == "completed", timeout=60, message="the payment webhook"
        )
        order.refresh_from_db()
        assert order.licence.status == "active"
        event = StripeEvent.objects.get(type="payment_intent.succeeded")
        assert event.status == "processed"
        # Captured into prepaid, then the 1,000.00 fee moved to commission and royalties.
        assert ledger.account_balance("cash:stripe", "EUR").balance == 100_000
        assert ledger.account_balance("prepaid:org:lumen", "EUR").balance == 0
        assert ledger.account_balance("revenue:commission", "EUR").balance == 20_000
        # The same event again changes nothing.
        stripe_event_process(event.pk)
        assert ledger.account_balance("cash:stripe", "EUR").balance == 100_000
    finally:
        worker.terminate()
        worker.wait(20)
