"""Collecting what licensees owe: an invoice paid by card (localstripe), refunds and disputes as their own entries."""

import json

import pytest
from django.utils import timezone

from ledger import services as ledger
from marketplace.invoicing.models import Invoice
from marketplace.invoicing.services import invoice_issue
from marketplace.payments import gateway
from marketplace.payments.models import StripeEvent
from marketplace.payments.services import stripe_event_process
from tests.fixtures.rating import licence_on
from tests.marketplace.api.test_card_payments import signed

pytestmark = pytest.mark.django_db


def deliver(client, event: dict) -> StripeEvent:
    body = json.dumps(event).encode()
    response = client.post(
        "/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed(body)
    )
    assert response.status_code == 200
    stored = StripeEvent.objects.get(event_id=event["id"])
    try:
        return stripe_event_process(stored.pk)
    except RuntimeError:  # the task would retry it
        stored.refresh_from_db()
        return stored


@pytest.fixture
def invoice(licensor, buyer, market):
    licence_on(licensor, buyer[0].organisation, market["corpus"], {"metric": None, "flat_fee": 50_000})
    return invoice_issue(licensee=buyer[0].organisation, currency="EUR", period=timezone.now().date())


def test_an_invoice_paid_by_card_settles_the_receivable(client, buyer, invoice, localstripe):
    _, api = buyer
    paid = api.post(f"/api/v1/invoices/{invoice.public_id}/pay/", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert paid.status_code == 201, paid.content
    assert (paid.json()["amount"], paid.json()["currency"]) == (50_000, "EUR")
    invoice.refresh_from_db()
    assert gateway.payment_intent_confirm_with_test_card(invoice.stripe_payment_intent) == "succeeded"
    intent = gateway._client().v1.payment_intents.retrieve(invoice.stripe_payment_intent).to_dict()
    event = {"id": "evt_inv_paid", "object": "event", "type": "payment_intent.succeeded", "data": {"object": intent}}
    assert deliver(client, event).status == "processed"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", 50_000)
    assert ledger.account_balance("receivable:org:lumen", "EUR").balance == 0
    fees = sum(
        row.debit - row.credit for row in ledger.trial_balance().rows if row.account.code == "expense:processing_fees"
    )
    assert ledger.account_balance("cash:stripe", "EUR").balance == 50_000 - fees
    again = api.post(f"/api/v1/invoices/{invoice.public_id}/pay/", HTTP_IDEMPOTENCY_KEY="pay-2")
    assert again.status_code == 400 and "nothing left to pay" in json.dumps(again.json())


def test_refunds_and_disputes_post_their_own_entries(client, invoice):
    Invoice.objects.filter(pk=invoice.pk).update(stripe_payment_intent="pi_test_1")
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_test_1", "currency": "eur", "amount": 50_000,
              "refunds": {"data": [{"id": "re_1", "amount": 5_000}]}}  # fmt: skip
    deliver(client, {"id": "evt_r1", "object": "event", "type": "charge.refunded", "data": {"object": charge}})
    two = {**charge, "refunds": {"data": [{"id": "re_1", "amount": 5_000}, {"id": "re_2", "amount": 1_000}]}}
    deliver(client, {"id": "evt_r2", "object": "event", "type": "charge.refunded", "data": {"object": two}})
    assert ledger.account_balance("cash:stripe", "EUR").balance == -6_000  # each refund once
    dispute = {"id": "dp_1", "object": "dispute", "payment_intent": "pi_test_1", "currency": "eur", "amount": 20_000,
               "charge": "ch_1", "status": "needs_response"}  # fmt: skip
    early = deliver(client, {"id": "evt_d0", "object": "event", "type": "charge.dispute.closed",
                             "data": {"object": {**dispute, "status": "lost"}}})  # fmt: skip
    assert early.status == "failed"  # closed before opened: retried later, not lost
    deliver(client, {"id": "evt_d1", "object": "event", "type": "charge.dispute.created", "data": {"object": dispute}})
    assert ledger.account_balance("suspense", "EUR").balance == 20_000
    assert stripe_event_process(early.pk).status == "processed"
    assert ledger.account_balance("suspense", "EUR").balance == 0
    assert ledger.account_balance("receivable:org:lumen", "EUR").balance == 50_000 + 6_000 + 20_000
