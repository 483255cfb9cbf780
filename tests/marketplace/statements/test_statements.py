"""Royalty statements tie to the ledger exactly, and every earning line recomputes from its usage events."""

import csv
import datetime as dt
import io
from fractions import Fraction

import pytest
from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from ledger import services as ledger
from marketplace.finance import postings
from marketplace.payouts import services as payouts
from marketplace.payouts.models import PayeeProfile
from marketplace.periods import month_end
from marketplace.rating.explain import charge_recompute
from marketplace.rating.services import rating_rate_all, split_earnings
from marketplace.statements.documents import statement_csv
from marketplace.statements.models import RoyaltyStatement
from marketplace.statements.services import statement_issue, statements_issue
from tests.fixtures.market import add_member
from tests.fixtures.rating import licence_on, report

pytestmark = pytest.mark.django_db

HOURLY = {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}]}
NL, CO = "org:northlight", "org:co-owner"


@pytest.fixture
def month(licensor, buyer, market, operator):
    """A month of business: a flat-fee sale, usage on a co-owned and a plain asset, an advance recouped, and a
    bank payout sent."""
    lumen = buyer[0].organisation
    postings.advance_pay(key="adv", currency="EUR", licensor=NL, amount=300, note="advance")
    licence_on(licensor, lumen, market["corpus"], {"metric": None, "flat_fee": 20_000})
    hourly = licence_on(licensor, lumen, market["corpus"], HOURLY)
    report(hourly, [("seconds_delivered", 360, "m4"), ("seconds_delivered", 720, "m1")])
    rating_rate_all()
    payouts.payee_bank_details_save(
        access=licensor, account_holder="Northlight", iban="FR7630006000011234567890189", bic=""
    )
    PayeeProfile.objects.filter(organisation=licensor.organisation).update(threshold=100)
    reviewer = add_member(operator.organisation, "r@market.test", "finance")
    approver = add_member(operator.organisation, "a@market.test", "finance")
    run = payouts.payout_run_propose(currency="EUR")
    payouts.payout_run_review(run=run, user=reviewer)
    payouts.payout_run_approve(run=run, user=approver)
    payouts.payout_run_start(run=run, user=approver)
    payouts.payout_run_execute(run.pk)
    add_member(licensor.organisation, "accounts@northlight.test", "finance")
    return timezone.now().date().replace(day=1)


def test_statement_ties_to_the_ledger_and_each_line_to_its_events(month, licensor):
    statement = statement_issue(party=NL, currency="EUR", period=month)
    # The ledger, independently: the balance before the month, after it, and every posting in between.
    opening = ledger.account_balance(f"royalty_payable:{NL}", "EUR", as_of_date=month - dt.timedelta(days=1)).balance
    closing = ledger.account_balance(f"royalty_payable:{NL}", "EUR", as_of_date=month_end(month)).balance
    page = ledger.account_statement(f"royalty_payable:{NL}", "EUR", date_from=month, date_to=month_end(month))
    assert (statement.opening, statement.closing) == (opening, closing) == (0, 0)
    assert sum(line.amount for line in statement.lines.all()) == -sum(p.amount for p in page.lines)
    kinds = [line.kind for line in statement.lines.all()]
    assert kinds.count("licence_fee") == 1 and kinds.count("earning") == 1 and kinds.count("payout") == 1
    # 20,000 fee: 16,000 royalties split 4.5:0.5 over the assets' seconds -> Northlight 14,400.
    # Usage 0.3 h = 3,000: 600 commission, 2,400 over weights m4 (0.1 h, half each), m1 (0.2 h):
    # Northlight 0.25/0.3 = 2,000 of which 300 recouped.
    earning = statement.lines.get(kind="earning")
    assert (earning.gross, earning.commission, earning.share, earning.recouped, earning.amount) == (
        3_000,
        600,
        2_000,
        300,
        1_700,
    )
    assert (statement.earned, statement.recouped, statement.paid_out) == (14_400 + 2_000, 300, 14_400 + 1_700)
    # The line recomputes from the events it cites.
    charge = earning.charge
    assert charge_recompute(charge).matches
    weights = {r["party"]: Fraction(r["weight"]) for r in charge.royalties}
    _, parts = split_earnings(charge.amount, charge.commission_bp, weights)
    assert {p: share for p, _, share in parts}[NL] == earning.share


def test_co_owner_gets_its_own_statement(month):
    statement = statement_issue(party=CO, currency="EUR", period=month)
    earning = statement.lines.get(kind="earning")
    assert (earning.share, earning.recouped, statement.closing) == (400, 0, 400 + 1_600)
    assert statement.closing == ledger.account_balance(f"royalty_payable:{CO}", "EUR").balance


def test_statements_are_issued_once_and_emailed_with_the_pdf(month, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        issued = statements_issue(period=month)
    assert {s.party for s in issued} == {NL, CO}
    assert statements_issue(period=month) == issued and RoyaltyStatement.objects.count() == 2
    northlight_mail = next(m for m in mail.outbox if "owner@northlight.example" in m.to)
    assert "accounts@northlight.test" in northlight_mail.to
    _, content, kind = northlight_mail.attachments[0]
    assert kind == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert "Royalty statement" in text and "Closing balance owed" in text


def test_statement_pages_and_downloads(client, month, licensor, other_licensor):
    statement = statement_issue(party=NL, currency="EUR", period=month)
    client.force_login(licensor.user)
    page = client.get(f"/o/northlight/statements/{statement.public_id}/").content.decode()
    assert "the events behind it" in page and "x 83.3333% share" in page
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/o/northlight/statements/{statement.public_id}/csv/").content.decode()))
    )
    assert rows[0]["kind"] == "opening" and rows[-1]["kind"] == "closing"
    assert sum(int(r["amount_minor"]) for r in rows[1:-1]) == statement.closing - statement.opening
    assert client.get(f"/o/northlight/statements/{statement.public_id}/pdf/").content[:4] == b"%PDF"
    client.force_login(other_licensor.user)
    assert client.get(f"/o/harbour/statements/{statement.public_id}/").status_code == 404


def test_csv_opening_and_closing_rows_carry_the_balances(month, licensor):
    statement = statement_issue(party=CO, currency="EUR", period=month)
    rows = list(csv.DictReader(io.StringIO(statement_csv(statement))))
    assert (rows[0]["kind"], int(rows[0]["amount_minor"])) == ("opening", statement.opening)
    assert (rows[-1]["kind"], int(rows[-1]["amount_minor"])) == ("closing", statement.closing)


def test_one_statement_that_does_not_tie_does_not_stop_the_others(month, monkeypatch):
    from marketplace.finance.models import AuditEntry
    from marketplace.statements import services

    real = services.statement_build

    def broken_for_co_owner(*, party, currency, period):
        if party == CO:
            raise services.StatementMismatch(f"{party}: opening + lines != closing")
        return real(party=party, currency=currency, period=period)

    monkeypatch.setattr(services, "statement_build", broken_for_co_owner)
    issued = statements_issue(period=month)
    assert [s.party for s in issued] == [NL]
    assert AuditEntry.objects.get(action="statement.mismatch").subject == CO
