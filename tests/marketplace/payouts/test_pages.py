"""The payout pages: a licensor's settings and onboarding, and the operator's runs under the four-eyes rule."""

import pytest

from ledger import services as ledger
from marketplace.payouts.models import PayeeProfile, PayoutRun, RunStatus
from marketplace.payouts.services import payout_run_execute
from tests.fixtures.market import make_user
from tests.marketplace.payouts.test_payouts import NL, owe

pytestmark = pytest.mark.django_db


def staff(email, *, finance_role: bool = True):
    """An operator finance person: staff access, and the finance role in the operator organisation."""
    from marketplace.orgs.models import Organisation, OrgKind
    from marketplace.orgs.services import membership_set

    user = make_user(email)
    user.is_staff = True
    user.save()
    if finance_role:
        ops, _ = Organisation.objects.get_or_create(
            slug="market-ops", defaults={"name": "Market Ops", "kind": OrgKind.OPERATOR}
        )
        membership_set(organisation=ops, user=user, role="finance")
    return user


def test_licensor_saves_bank_details_and_starts_stripe_onboarding(client, licensor, connect):
    client.force_login(licensor.user)
    bad = client.post("/o/northlight/payouts/", {"account_holder": "Northlight", "iban": "FR76 0000", "bic": ""})
    assert "This is not a valid IBAN" in bad.content.decode()
    good = client.post(
        "/o/northlight/payouts/", {"account_holder": "Northlight", "iban": "FR7630006000011234567890189", "bic": ""}
    )
    assert good.status_code == 302
    assert PayeeProfile.objects.get().bic == "AGRIFRPPXXX"
    onboard = client.post("/o/northlight/payouts/stripe/onboard/")
    assert onboard.status_code == 302 and onboard["Location"].startswith("https://connect.stripe.test/setup/")
    account = PayeeProfile.objects.get().stripe_account_id
    connect.control(f"accounts/{account}/complete")
    client.get("/o/northlight/payouts/stripe/return/")
    assert PayeeProfile.objects.get().payouts_enabled
    assert "Payouts enabled" in client.get("/o/northlight/payouts/").content.decode()


def test_payout_settings_are_for_a_licensors_finance_people_only(client, buyer, licensor):
    client.force_login(buyer[0].user)
    assert client.get("/o/lumen/payouts/").status_code == 404
    assert client.get("/o/northlight/payouts/").status_code == 404


def test_operator_runs_propose_review_approve_execute(client, licensor, connect):
    from marketplace.payouts import services

    services.payee_bank_details_save(
        access=licensor, account_holder="Northlight", iban="FR7630006000011234567890189", bic=""
    )
    owe(NL, 90_000, "r1")
    alice, bob = staff("alice@market.test"), staff("bob@market.test")
    client.force_login(alice)
    response = client.post("/finance/payouts/", {"currency": "EUR"})
    run = PayoutRun.objects.get()
    assert response["Location"] == f"/finance/payouts/{run.public_id}/"
    client.post(f"/finance/payouts/{run.public_id}/review/")
    page = client.post(f"/finance/payouts/{run.public_id}/approve/", follow=True).content.decode()
    assert "Four eyes" in page
    client.force_login(bob)
    client.post(f"/finance/payouts/{run.public_id}/approve/")
    client.post(f"/finance/payouts/{run.public_id}/execute/")
    run.refresh_from_db()
    assert run.status == RunStatus.EXECUTING
    payout_run_execute(run.pk)  # what the task does
    page = client.get(f"/finance/payouts/{run.public_id}/").content.decode()
    assert "1 of 1 sent" in page and "pain.001" in page
    xml = client.get(f"/finance/payouts/{run.public_id}/pain.001.xml")
    assert xml.status_code == 200 and b"FR7630006000011234567890189" in xml.content
    payout = run.payouts.get()
    client.post(f"/finance/bank-payouts/{payout.public_id}/paid/")
    payout.refresh_from_db()
    assert payout.status == "paid"
    assert ledger.account_balance("cash:bank", "EUR").balance == -90_000
    audit = client.get("/finance/audit/").content.decode()
    for action in ("payout_run.reviewed", "payout_run.approved", "payout_run.executed", "payout.paid"):
        assert action in audit
    assert "bob@market.test" in audit and "alice@market.test" in audit


def test_finance_pages_need_staff(client, licensor):
    client.force_login(licensor.user)
    assert client.get("/finance/payouts/").status_code == 403
    assert client.post("/finance/payouts/", {"currency": "EUR"}).status_code == 403


def test_moving_money_needs_the_finance_role_not_just_staff(client, licensor):
    owe(NL, 90_000, "r1")
    client.force_login(staff("auditor@market.test", finance_role=False))
    assert client.get("/finance/payouts/").status_code == 200  # reading is fine
    assert client.post("/finance/payouts/", {"currency": "EUR"}).status_code == 403
    assert client.post("/finance/reconciliation/stripe-sync/").status_code == 403
    assert not PayoutRun.objects.exists()


def test_finance_sets_thresholds_reserves_and_holds(client, licensor):
    from marketplace.finance.models import AuditEntry
    from marketplace.payouts import services

    payee = services.payee_bank_details_save(
        access=licensor, account_holder="Northlight", iban="FR7630006000011234567890189", bic=""
    )
    owe(NL, 90_000, "r1")
    client.force_login(staff("carol@market.test"))
    page = client.post(f"/finance/payees/{payee.pk}/", {"threshold": "100", "reserve_bp": "500", "on_hold": "on",
                                                        "hold_reason": ""}, follow=True).content.decode()  # fmt: skip
    assert "Say why the payee is on hold" in page
    client.post(f"/finance/payees/{payee.pk}/", {"threshold": "100", "reserve_bp": "500", "on_hold": "on",
                                                 "hold_reason": "chain-of-title dispute"})  # fmt: skip
    run = services.payout_run_propose(currency="EUR")
    assert run.payout_count == 0 and run.blocked[0]["reason"] == "on hold: chain-of-title dispute"
    services.payout_run_cancel(run=run, user=staff("dave@market.test"), reason="hold")
    client.post(f"/finance/payees/{payee.pk}/", {"threshold": "100", "reserve_bp": "500"})
    run = services.payout_run_propose(currency="EUR")
    assert [(p.amount, p.reserve) for p in run.payouts.all()] == [(85_500, 4_500)]
    assert AuditEntry.objects.filter(action="payee.terms").count() == 2
    assert "chain-of-title dispute" in str(AuditEntry.objects.filter(action="payee.terms").last().details)  # the hold


def test_a_local_account_outside_sepa_is_paid_by_a_listed_manual_transfer(client, licensor, operator):
    from marketplace.payouts import services

    client.force_login(licensor.user)
    bad = client.post("/o/northlight/payouts/", {"kind": "local", "account_holder": "Northlight", "bank_code": "!",
                                                 "account_number": "12"}).content.decode()  # fmt: skip
    assert "Give the bank&#x27;s code" in bad and "Give the account number" in bad
    local = {"kind": "local", "account_holder": "Northlight Inc", "bank_code": "026009593",
             "account_number": "000123456789"}  # fmt: skip
    client.post("/o/northlight/payouts/", local)
    payee = PayeeProfile.objects.get()
    assert payee.has_local_account and payee.blocked_reason == ""
    owe(NL, 90_000, "r1")
    alice, bob = staff("alice2@market.test"), staff("bob2@market.test")
    run = services.payout_run_propose(currency="EUR")
    services.payout_run_review(run=run, user=alice)
    services.payout_run_approve(run=run, user=bob)
    services.payout_run_start(run=run, user=bob)
    run = payout_run_execute(run.pk)
    assert run.bank_file == ""  # not a SEPA payee: nothing in the pain.001
    client.force_login(alice)
    rows = client.get(f"/finance/payouts/{run.public_id}/manual-transfers.csv")
    body = b"".join(rows.streaming_content).decode()
    assert "026009593,000123456789,90000,EUR,in_transit" in body
