"""A month of the marketplace, end to end, on the real services and our Stripe fakes over HTTP.

Licensees buy on account and use content; rating runs; one invoice is paid by card (localstripe) and the other by
wire; a payout run is proposed, reviewed, approved and executed, and one payout fails (its Stripe transfer is
reversed); Stripe's balance and the bank's camt.053 are reconciled; statements are issued; the month is closed.
At the end the books balance and suspense is zero.
"""

import contextlib
import datetime as dt

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from ledger import services as ledger
from marketplace.invoicing.services import invoice_issue
from marketplace.orgs.models import Organisation
from marketplace.payments import gateway
from marketplace.payments.models import EventStatus, StripeEvent
from marketplace.payments.services import stripe_event_process
from marketplace.payouts import services as payouts
from marketplace.payouts.models import PayeeProfile, PayoutStatus, Rail
from marketplace.periods import month_end
from marketplace.rating.services import rating_rate_all
from marketplace.reconciliation import services as recon
from marketplace.statements.services import statements_issue
from tests.fixtures.bankfiles import camt053
from tests.fixtures.celery import wait_until
from tests.fixtures.market import add_member
from tests.fixtures.rating import licence_on, report
from tests.fixtures.stripe import register_webhook

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HOURLY = {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}]}


def process_stripe_events() -> None:
    """What the Celery task does for each stored event (retrying those that arrived too early)."""
    for _ in range(3):
        pending = StripeEvent.objects.exclude(status__in=[EventStatus.PROCESSED, EventStatus.IGNORED])
        for pk in pending.values_list("pk", flat=True):
            with contextlib.suppress(Exception):  # recorded on the event; retried on the next pass
                stripe_event_process(pk)


def test_a_month(live_server, licensor, buyer, other_buyer, market, operator, localstripe, connect):
    hook = f"{live_server.url}/webhooks/stripe/"
    register_webhook(localstripe, hook, settings.STRIPE_WEBHOOK_SECRET)
    connect.control("webhook", url=hook, secret=settings.STRIPE_WEBHOOK_SECRET)
    lumen, kestrel = buyer[0].organisation, other_buyer[0].organisation
    reviewer = add_member(operator.organisation, "reviewer@market.test", "finance")
    approver = add_member(operator.organisation, "approver@market.test", "finance")

    # Rights holders: Northlight on Stripe Connect, its co-owner paid by bank.
    payouts.payee_stripe_onboarding_link(access=licensor, refresh_url="https://x.test/r", return_url="https://x.test/b")
    northlight = PayeeProfile.objects.get(organisation=licensor.organisation)
    connect.control(f"accounts/{northlight.stripe_account_id}/complete")  # account.updated, signed, to the app
    co_owner = Organisation.objects.get(slug="co-owner")
    PayeeProfile.objects.create(organisation=co_owner, rail=Rail.BANK, account_holder="Co Owner SARL",
                                iban="FR7630006000011234567890189", bic="AGRIFRPPXXX", threshold=100)  # fmt: skip

    # Licensees buy on account and use content; rating books it.
    this_month = timezone.now().date().replace(day=1)
    period = (this_month - dt.timedelta(days=1)).replace(day=1)  # the month being closed: last month
    used_at = dt.datetime.combine(period + dt.timedelta(days=14), dt.time(10), tzinfo=dt.UTC)
    for org in (lumen, kestrel):
        licence = licence_on(licensor, org, market["corpus"], HOURLY, starts_days_ago=45)
        events = [("seconds_delivered", 36, "m4")] * 50 + [("seconds_delivered", 72, "m1")] * 100  # 2.5 h
        report(licence, events, at=used_at)
    rating_rate_all()

    # Invoices: Lumen pays by card, Kestrel by wire.
    lumen_invoice = invoice_issue(licensee=lumen, currency="EUR", period=period)
    kestrel_invoice = invoice_issue(licensee=kestrel, currency="EUR", period=period)
    assert lumen_invoice.period == period
    assert lumen_invoice.total == kestrel_invoice.total == 25_000
    _, api = buyer
    assert api.post(f"/api/v1/invoices/{lumen_invoice.public_id}/pay/", HTTP_IDEMPOTENCY_KEY="p1").status_code == 201
    lumen_invoice.refresh_from_db()
    assert gateway.payment_intent_confirm_with_test_card(lumen_invoice.stripe_payment_intent) == "succeeded"
    # localstripe delivers a second after the fact, so a previous test's event may arrive too: wait for ours.
    ours = StripeEvent.objects.filter(
        type="payment_intent.succeeded", payload__data__object__id=lumen_invoice.stripe_payment_intent
    )
    wait_until(ours.exists, message="Stripe's event")
    process_stripe_events()
    lumen_invoice.refresh_from_db()
    assert lumen_invoice.status == "paid"
    intent = gateway._client().v1.payment_intents.retrieve(lumen_invoice.stripe_payment_intent).to_dict()
    charge_id = intent["latest_charge"] if isinstance(intent["latest_charge"], str) else intent["latest_charge"]["id"]
    fee = 25_000 - ledger.entry_get(ledger.entry_find(f"stripe:{intent['id']}:captured")).postings[0].amount
    connect.control("balance_transactions", type="charge", amount=25_000, fee=fee, source=charge_id)

    # Payouts: proposed from the ledger, reviewed and approved by different people, executed.
    process_stripe_events()  # account.updated, sent by Stripe when onboarding finished
    assert PayeeProfile.objects.get(pk=northlight.pk).payouts_enabled
    run = payouts.payout_run_propose(currency="EUR")
    payouts.payout_run_review(run=run, user=reviewer)
    payouts.payout_run_approve(run=run, user=approver)
    payouts.payout_run_start(run=run, user=approver)
    run = payouts.payout_run_execute(run.pk)
    by_party = {p.licensor.slug: p for p in run.payouts.all()}
    assert set(by_party) == {"northlight", "co-owner"}
    # Northlight's transfer is reversed by Stripe: the payout fails and the money is owed again.
    connect.control(f"transfers/{by_party['northlight'].stripe_transfer_id}/reverse")
    wait_until(lambda: StripeEvent.objects.filter(type="transfer.reversed").exists(), message="transfer.reversed")
    process_stripe_events()
    by_party["northlight"].refresh_from_db()
    assert by_party["northlight"].status == PayoutStatus.FAILED

    # Reconcile Stripe's balance and the bank's statement.
    recon.stripe_sync()
    bank = camt053([
        {"amount": -by_party["co-owner"].amount, "ref": by_party["co-owner"].public_id, "id": "E1"},
        {"amount": 25_000, "ref": None, "id": "E2", "info": f"Kestrel {kestrel_invoice.payment_reference}"},
    ])  # fmt: skip
    recon.bank_statement_import(data=bank, name="statement.xml", actor=reviewer)
    recon.rematch_pending()
    assert recon.month_exceptions(period) == {} and recon.month_exceptions(this_month) == {}
    kestrel_invoice.refresh_from_db()
    assert kestrel_invoice.status == "paid"

    # Statements: last month's earnings, this month's payouts; then last month is closed.
    earned = statements_issue(period=period)
    assert {s.party for s in earned} == {"org:northlight", "org:co-owner"}
    assert all(s.lines.filter(kind="earning").count() == 2 for s in earned)
    paid = statements_issue(period=this_month)
    for statement in paid:
        assert statement.closing == ledger.account_balance(f"royalty_payable:{statement.party}", "EUR").balance
        assert statement.opening == next(s.closing for s in earned if s.party == statement.party)
    northlight_statement = next(s for s in paid if s.party == "org:northlight")
    assert northlight_statement.lines.filter(kind="payout_returned").count() == 1
    assert recon.period_close(period=period, user=approver) == month_end(period)
    with pytest.raises(ValidationError, match="has not ended yet"):
        recon.period_close(period=this_month, user=approver)

    assert ledger.trial_balance().balanced
    assert not _has("suspense") or ledger.account_balance("suspense", "EUR").balance == 0
    assert ledger.account_balance("receivable:org:lumen", "EUR").balance == 0
    assert ledger.account_balance("receivable:org:kestrel", "EUR").balance == 0
    assert ledger.account_balance("payouts_in_transit:org:co-owner", "EUR").balance == 0


def _has(code: str) -> bool:
    return any(a.code == code for a in ledger.accounts_list(code_prefix=code))
