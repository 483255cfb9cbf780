"""Paying rights holders: payee details, runs proposed from the ledger, four eyes, execution through our Stripe
Connect fake and a pain.001 bank file, settlement and failure from Stripe's events."""

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
import sepaxml
import xmlschema
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from ledger import services as ledger
from ledger.types import NewEntry, credit, debit
from marketplace.finance import chart
from marketplace.finance.models import AuditEntry
from marketplace.orgs.models import Role
from marketplace.payments import gateway
from marketplace.payments.models import StripeEvent
from marketplace.payments.services import stripe_event_process
from marketplace.payouts import services as payouts
from marketplace.payouts.models import PayeeProfile, Payout, PayoutStatus, Rail, RunStatus
from tests.fixtures.market import add_member

pytestmark = pytest.mark.django_db

XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
NL, HB = "org:northlight", "org:harbour"


def owe(party: str, amount: int, key: str) -> None:
    """Royalties earned by ``party`` (as rating would book them)."""
    ledger.entry_post(
        NewEntry(
            legs=[
                debit(chart.account("receivable", "EUR", party="org:lumen"), ledger.Money(amount, "EUR")),
                credit(chart.account("royalty_payable", "EUR", party=party), ledger.Money(amount, "EUR")),
            ],
            description="royalties",
            idempotency_key=key,
        )
    )


def payable(party: str) -> int:
    return ledger.account_balance(f"royalty_payable:{party}", "EUR").balance


def in_transit(party: str) -> int:
    return ledger.account_balance(f"payouts_in_transit:{party}", "EUR").balance


@pytest.fixture
def finance_users(operator):
    return (
        add_member(operator.organisation, "reviewer@market.test", Role.FINANCE),
        add_member(operator.organisation, "approver@market.test", Role.FINANCE),
    )


@pytest.fixture
def onboarded(licensor, connect):
    """Northlight onboarded on Stripe Connect (through the onboarding link and the fake's completion)."""
    url = payouts.payee_stripe_onboarding_link(
        access=licensor, refresh_url="https://app.test/refresh", return_url="https://app.test/return"
    )
    assert url.startswith("https://connect.stripe.test/setup/")
    payee = PayeeProfile.objects.get(organisation=licensor.organisation)
    assert payee.rail == Rail.STRIPE and not payee.payouts_enabled
    connect.control(f"accounts/{payee.stripe_account_id}/complete")
    payouts.payee_stripe_sync(payee.stripe_account_id)
    payee.refresh_from_db()
    assert payee.payouts_enabled and payee.details_submitted
    return payee


@pytest.fixture
def bank_payee(other_licensor):
    return payouts.payee_bank_details_save(
        access=other_licensor, account_holder="Harbour Stock Ltd", iban="DE89 3704 0044 0532 0130 00", bic="COBADEFFXXX"
    )


def test_bank_details_are_validated_field_by_field(other_licensor):
    with pytest.raises(ValidationError) as bad:
        payouts.payee_bank_details_save(access=other_licensor, account_holder="", iban="DE00 1234", bic="NOTABIC")
    assert set(bad.value.message_dict) == {"account_holder", "iban", "bic"}
    with pytest.raises(ValidationError) as mismatch:
        payouts.payee_bank_details_save(
            access=other_licensor, account_holder="Harbour", iban="DE89370400440532013000", bic="AGRIFRPPXXX"
        )
    assert "The BIC is for FR, the IBAN for DE" in mismatch.value.message_dict["bic"][0]
    payee = payouts.payee_bank_details_save(
        access=other_licensor, account_holder="Harbour", iban="de89 3704 0044 0532 0130 00", bic=""
    )
    assert (payee.rail, payee.iban, payee.bic) == (Rail.BANK, "DE89370400440532013000", "COBADEFFXXX")
    assert AuditEntry.objects.filter(action="payee.bank_details").count() == 1


def test_a_run_is_proposed_from_the_ledger(onboarded, bank_payee, market):
    owe(NL, 120_000, "r1")
    owe(HB, 80_000, "r2")
    owe("org:co-owner", 30_000, "r3")  # no payout details: blocked, with the reason
    PayeeProfile.objects.filter(pk=bank_payee.pk).update(reserve_bp=1_000)  # hold back 10%
    run = payouts.payout_run_propose(currency="EUR")
    got = {p.licensor.slug: (p.amount, p.reserve, p.rail) for p in run.payouts.all()}
    assert got == {"northlight": (120_000, 0, "stripe"), "harbour": (72_000, 8_000, "bank")}
    assert run.total == 192_000 and run.status == RunStatus.PROPOSED
    assert run.blocked == [
        {"party": "org:co-owner", "name": "Co Owner", "amount": 30_000,
         "reason": "no payout details (Stripe Connect or bank account)"}
    ]  # fmt: skip
    assert payouts.payout_run_propose(currency="EUR") == run  # one open run per currency


def test_four_eyes(onboarded, finance_users):
    owe(NL, 120_000, "r1")
    reviewer, approver = finance_users
    run = payouts.payout_run_propose(currency="EUR")
    with pytest.raises(ValidationError, match="Only a reviewed run can be approved"):
        payouts.payout_run_approve(run=run, user=approver)
    payouts.payout_run_review(run=run, user=reviewer)
    with pytest.raises(PermissionDenied, match="Four eyes"):
        payouts.payout_run_approve(run=run, user=reviewer)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(run).objects.filter(pk=run.pk).update(approved_by=reviewer)
    run = payouts.payout_run_approve(run=run, user=approver)
    assert (run.status, run.approved_by, run.reviewed_by) == (RunStatus.APPROVED, approver, reviewer)
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "actor_label"))
    assert ("payout_run.reviewed", "reviewer@market.test") in actions
    assert ("payout_run.approved", "approver@market.test") in actions


def approved_run(finance_users):
    reviewer, approver = finance_users
    run = payouts.payout_run_propose(currency="EUR")
    payouts.payout_run_review(run=run, user=reviewer)
    payouts.payout_run_approve(run=run, user=approver)
    return payouts.payout_run_start(run=run, user=approver)


def test_execution_pays_through_connect_and_writes_a_valid_pain001(onboarded, bank_payee, finance_users, connect):
    owe(NL, 120_000, "r1")
    owe(HB, 80_000, "r2")
    run = payouts.payout_run_execute(approved_run(finance_users).pk)
    assert run.status == RunStatus.EXECUTED and run.done_count == 2
    stripe_payout = Payout.objects.get(licensor__slug="northlight")
    assert stripe_payout.status == PayoutStatus.IN_TRANSIT and stripe_payout.stripe_transfer_id.startswith("tr_")
    state = connect.state()
    assert [(t["amount"], t["destination"], t["metadata"]["payout"]) for t in state["transfers"]] == [
        (120_000, onboarded.stripe_account_id, stripe_payout.public_id)
    ]
    assert [(p["amount"], p["account"]) for p in state["payouts"]] == [(120_000, onboarded.stripe_account_id)]
    assert (payable(NL), in_transit(NL), payable(HB), in_transit(HB)) == (0, 120_000, 0, 80_000)

    xmlschema.XMLSchema(XSD).validate(run.bank_file)  # the official ISO 20022 schema
    bank_payout = Payout.objects.get(licensor__slug="harbour")
    assert "DE89370400440532013000" in run.bank_file and '<InstdAmt Ccy="EUR">800.00</InstdAmt>' in run.bank_file
    assert f"<EndToEndId>{bank_payout.public_id}</EndToEndId>" in run.bank_file
    assert f"<MsgId>{run.public_id}</MsgId>" in run.bank_file

    # Executing again, or re-sending a payout, pays nobody twice.
    payouts.payout_run_execute(run.pk)
    payouts.payout_send(stripe_payout.pk)
    assert len(connect.state()["transfers"]) == 1 and in_transit(NL) == 120_000


def test_a_run_that_crashed_halfway_completes_without_paying_twice(onboarded, finance_users, connect):
    owe(NL, 120_000, "r1")
    run = approved_run(finance_users)
    payout = run.payouts.get()
    # The worker booked the payout and made the transfer, then died before recording it.
    payout.sent_entry_id = payouts.postings.payout_sent(
        key=f"payout:{payout.public_id}:sent", currency="EUR", party=NL, amount=120_000, description="sent",
        metadata={},
    )  # fmt: skip
    payout.status = PayoutStatus.SENDING
    payout.save()
    gateway.transfer_create(amount=120_000, currency="EUR", destination=onboarded.stripe_account_id,
                            payout_id=payout.public_id)  # fmt: skip
    payouts.payout_run_execute(run.pk)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.IN_TRANSIT
    assert len(connect.state()["transfers"]) == 1
    assert (payable(NL), in_transit(NL)) == (0, 120_000)


def stripe_event(client, event: dict) -> StripeEvent:
    """Deliver an event as Stripe signs it, through the real endpoint, and process it as the task would."""
    from django.conf import settings

    payload = json.dumps(event).encode()
    t = int(time.time())
    signature = hmac.new(settings.STRIPE_WEBHOOK_SECRET.encode(), f"{t}.".encode() + payload, hashlib.sha256)
    response = client.post(
        "/webhooks/stripe/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={t},v1={signature.hexdigest()}",
    )
    assert response.status_code == 200, response.content
    stored = StripeEvent.objects.get(event_id=event["id"])
    try:
        return stripe_event_process(stored.pk)
    except Exception:
        stored.refresh_from_db()
        return stored


def test_stripe_settles_and_fails_payouts(client, onboarded, bank_payee, finance_users, connect, other_licensor):
    owe(NL, 120_000, "r1")
    run = payouts.payout_run_execute(approved_run(finance_users).pk)
    payout = run.payouts.get(licensor__slug="northlight")
    connect.control(f"payouts/{payout.stripe_payout_id}/paid")
    paid = connect.state()["events"][-1]
    assert paid["type"] == "payout.paid" and paid["account"] == onboarded.stripe_account_id
    assert stripe_event(client, paid).status == "processed"
    stripe_event(client, {**paid, "id": "evt_replayed_copy"})  # a replay under another id changes nothing
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert (in_transit(NL), ledger.account_balance("cash:stripe", "EUR").balance) == (0, -120_000)

    # Next month's payout fails at the bank: reversed, owed again, flagged.
    owe(NL, 50_000, "r2")
    run = payouts.payout_run_execute(approved_run(finance_users).pk)
    payout = run.payouts.get(licensor__slug="northlight")
    connect.control(f"payouts/{payout.stripe_payout_id}/failed")
    stripe_event(client, connect.state()["events"][-1])
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED and "bank account has been closed" in payout.failure_reason
    assert (payable(NL), in_transit(NL)) == (50_000, 0)
    assert ledger.entry_get(payout.reversal_entry_id).reverses == payout.sent_entry_id
    assert AuditEntry.objects.filter(action="payout.failed", subject=f"payout:{payout.public_id}").exists()


def test_an_early_payout_event_is_retried_not_lost(client, onboarded, finance_users, connect):
    owe(NL, 120_000, "r1")
    run = approved_run(finance_users)
    payout = run.payouts.get()
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.SENDING)
    obj = {"id": "po_x", "object": "payout", "metadata": {"payout": payout.public_id}}
    early = {"id": "evt_early", "object": "event", "type": "payout.paid", "data": {"object": obj}}
    stored = stripe_event(client, early)
    assert stored.status == "failed" and "still sending" in stored.error
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.PENDING)
    payouts.payout_run_execute(run.pk)
    assert stripe_event_process(stored.pk).status == "processed"
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
