"""Reconciliation: bank statements (camt.053 and CSV) and Stripe balance transactions matched to the ledger by
reference and amount; exceptions matched by hand or adjusted to suspense; a month closes when clean or signed off."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ledger import services as ledger
from marketplace.finance.models import AuditEntry
from marketplace.invoicing.services import invoice_issue
from marketplace.payouts import services as payouts
from marketplace.payouts.models import PayeeProfile, PayoutStatus
from marketplace.periods import month_end
from marketplace.reconciliation import services as recon
from marketplace.reconciliation.models import ExternalLine, LineStatus
from marketplace.statements.services import statements_issue
from tests.fixtures.bankfiles import camt053
from tests.fixtures.market import add_member
from tests.fixtures.rating import licence_on
from tests.marketplace.payouts.test_payouts import NL, owe

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(operator):
    return (add_member(operator.organisation, "r@market.test", "finance"),
            add_member(operator.organisation, "a@market.test", "finance"))  # fmt: skip


def execute_run(finance):
    reviewer, approver = finance
    run = payouts.payout_run_propose(currency="EUR")
    payouts.payout_run_review(run=run, user=reviewer)
    payouts.payout_run_approve(run=run, user=approver)
    payouts.payout_run_start(run=run, user=approver)
    return payouts.payout_run_execute(run.pk)


@pytest.fixture
def bank_payout(licensor, finance):
    payouts.payee_bank_details_save(
        access=licensor, account_holder="Northlight", iban="FR7630006000011234567890189", bic=""
    )
    owe(NL, 90_000, "r1")
    return execute_run(finance).payouts.get()


def test_a_camt053_statement_settles_payouts_and_invoices_and_leaves_exceptions(
    bank_payout, licensor, buyer, market, finance
):
    lumen = buyer[0].organisation
    licence_on(licensor, lumen, market["corpus"], {"metric": None, "flat_fee": 50_000})
    invoice = invoice_issue(licensee=lumen, currency="EUR", period=timezone.now().date())
    statement = camt053([
        {"amount": -90_000, "ref": bank_payout.public_id, "id": "B1", "info": "ClearFrame royalties"},
        {"amount": invoice.total, "ref": None, "id": "B2", "info": f"Lumen AI invoice {invoice.payment_reference}"},
        {"amount": -1_250, "ref": None, "id": "B3", "info": "Account fee"},
    ])  # fmt: skip
    imported = recon.bank_statement_import(data=statement, name="stmt.xml", actor=finance[0])
    assert (imported.line_count, imported.matched_count) == (3, 2)

    bank_payout.refresh_from_db()
    assert bank_payout.status == PayoutStatus.PAID
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", invoice.total)
    assert ledger.account_balance("receivable:org:lumen", "EUR").balance == invoice.total - invoice.total
    assert ledger.account_balance("cash:bank", "EUR").balance == -90_000 + invoice.total

    # Importing the same statement again changes nothing.
    again = recon.bank_statement_import(data=statement, name="stmt.xml", actor=finance[0])
    assert (again.line_count, again.duplicate_count) == (0, 3)

    today = timezone.now().date()
    [bank] = [r for r in recon.report(date_from=today, date_to=today) if r.source == "bank"]
    assert [line.external_id for line in bank.unmatched_external] == ["B3"]
    assert bank.difference == -1_250 and not bank.clean

    fee = ExternalLine.objects.get(external_id="B3")
    with pytest.raises(ValidationError, match="reason"):
        recon.adjust_to_suspense(line=fee, user=finance[0], reason=" ")
    recon.adjust_to_suspense(line=fee, user=finance[0], reason="bank fee, to expense after review")
    assert ledger.account_balance("suspense", "EUR").balance == 1_250
    [bank] = [r for r in recon.report(date_from=today, date_to=today) if r.source == "bank"]
    assert bank.clean and bank.difference == 0 and bank.suspense_balance == 1_250
    assert AuditEntry.objects.filter(action="reconciliation.suspense", actor_label="r@market.test").exists()


def test_bank_lines_are_booked_on_the_bank_s_date_unless_it_is_closed_or_before_the_payment(
    bank_payout, licensor, buyer, market, finance
):
    lumen = buyer[0].organisation
    licence_on(licensor, lumen, market["corpus"], {"metric": None, "flat_fee": 50_000})
    invoice = invoice_issue(licensee=lumen, currency="EUR", period=timezone.now().date())
    today = dt.datetime.now(dt.UTC).date()
    three_days_ago, last_month = today - dt.timedelta(days=3), today.replace(day=1) - dt.timedelta(days=1)
    closed = min(three_days_ago, last_month) - dt.timedelta(days=1)  # whatever today's date, both lie after it
    ledger.period_close(through=closed)
    recon.bank_statement_import(
        data=camt053([
            # The wire was booked three days ago: so is the receivable it settles, whatever day we import it.
            {"amount": 20_000, "ref": None, "id": "W1", "info": invoice.payment_reference, "date": three_days_ago},
            # The bank says it paid the payout before we sent it: booked on the day it was sent.
            {"amount": -90_000, "ref": bank_payout.public_id, "id": "P1", "info": "royalties", "date": last_month},
        ]),
        name="stmt.xml", actor=finance[0],
    )  # fmt: skip
    wire, payout = ExternalLine.objects.get(external_id="W1"), ExternalLine.objects.get(external_id="P1")
    assert ledger.entry_get(wire.matched_entry_id).effective_date == three_days_ago
    assert ledger.entry_get(payout.matched_entry_id).effective_date == today
    # A line booked in a closed month lands today, in the open period.
    recon.bank_statement_import(
        data=camt053([{"amount": invoice.total - 20_000, "ref": None, "id": "W2", "info": invoice.payment_reference,
                       "date": closed}]),
        name="late.xml", actor=finance[0],
    )  # fmt: skip
    late = ExternalLine.objects.get(external_id="W2")
    assert ledger.entry_get(late.matched_entry_id).effective_date == today
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.status) == (invoice.total, "paid")


def test_a_payout_on_two_bank_lines_matches_once(bank_payout, finance):
    statement = camt053([{"amount": -90_000, "ref": bank_payout.public_id, "id": i, "info": "royalties"}
                         for i in ("D1", "D2")])  # fmt: skip
    assert recon.bank_statement_import(data=statement, name="d.xml", actor=finance[0]).matched_count == 1
    assert ExternalLine.objects.get(external_id="D2").status == LineStatus.UNMATCHED
    assert ledger.account_balance("cash:bank", "EUR").balance == -90_000


def test_a_return_is_never_dated_inside_a_month_already_stated_to_the_holder(licensor, finance, monkeypatch):
    payouts.payee_bank_details_save(
        access=licensor, account_holder="Northlight", iban="FR7630006000011234567890189", bic=""
    )
    owe(NL, 90_000, "r1")
    this_month = dt.datetime.now(dt.UTC).date().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    with monkeypatch.context() as past:  # the run was executed in the middle of last month
        sent = dt.datetime.combine(last_month + dt.timedelta(days=14), dt.time(12), tzinfo=dt.UTC)
        past.setattr(timezone, "now", lambda: sent)
        payout = execute_run(finance).payouts.get()
    assert ledger.entry_get(payout.sent_entry_id).effective_date == sent.date()
    statement = statements_issue(period=last_month)[0]
    assert (statement.party, statement.paid_out) == (NL, 90_000)
    # The bank returns it on the 28th of last month; we import the statement now.
    returned_on = last_month + dt.timedelta(days=27)
    recon.bank_statement_import(
        data=camt053([{"amount": 90_000, "ref": payout.public_id, "id": "R9", "info": "RETURN", "date": returned_on}]),
        name="return.xml", actor=finance[0],
    )  # fmt: skip
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    # Dated on the 28th, it would change a closing balance the holder already has; it lands after the statement.
    assert ledger.entry_get(payout.reversal_entry_id).effective_date == this_month
    assert ledger.account_balance(f"royalty_payable:{NL}", "EUR", as_of_date=month_end(last_month)).balance == (
        statement.closing
    )


def test_a_returned_bank_payout_is_reversed(bank_payout, finance):
    recon.bank_statement_import(
        data=camt053([{"amount": 90_000, "ref": bank_payout.public_id, "id": "R1", "info": "RETURN AC04"}]),
        name="return.xml", actor=finance[0],
    )  # fmt: skip
    bank_payout.refresh_from_db()
    assert bank_payout.status == PayoutStatus.FAILED
    assert ledger.account_balance(f"royalty_payable:{NL}", "EUR").balance == 90_000


def test_csv_statements_name_every_bad_row(finance):
    bad = b"date,amount,currency,reference,description,id\n2026-11-02,12.345,EUR,x,y,1\nnot-a-date,1,EUR,x,y,2\n"
    with pytest.raises(ValidationError) as error:
        recon.bank_statement_import(data=bad, name="bad.csv", actor=finance[0])
    messages = error.value.message_dict["file"]
    assert "line 2: amount: 12.345 has more decimal places than EUR allows (2)" in messages
    assert "line 3: date: 'not-a-date' is not YYYY-MM-DD" in messages
    assert not ExternalLine.objects.exists()
    with pytest.raises(ValidationError, match="Missing column"):
        recon.bank_statement_import(data=b"when,amount\n", name="x.csv", actor=finance[0])
    good = b"date,amount,currency,reference,description,id\n2026-11-02,-12.50,EUR,,fee,F1\n"
    assert recon.bank_statement_import(data=good, name="ok.csv", actor=finance[0]).line_count == 1


def test_manual_match_checks_the_amount(finance, bank_payout):
    line_data = camt053([{"amount": -90_000, "ref": "garbled", "id": "M1", "info": "royalties"}])
    recon.bank_statement_import(data=line_data, name="m.xml", actor=finance[0])
    line = ExternalLine.objects.get(external_id="M1")
    settled = payouts.payout_paid(payout_id=bank_payout.public_id, actor=finance[0])
    with pytest.raises(ValidationError, match="note"):
        recon.manual_match(line=line, entry_id=settled.settled_entry_id, user=finance[0], note="")
    with pytest.raises(ValidationError, match="moves 0 on cash:bank"):
        recon.manual_match(line=line, entry_id=settled.sent_entry_id, user=finance[0], note="the payout")
    recon.manual_match(line=line, entry_id=settled.settled_entry_id, user=finance[0], note="garbled reference")
    line.refresh_from_db()
    assert (line.status, line.matched_by) == (LineStatus.MATCHED, "r@market.test")


def test_stripe_balance_transactions_sync_from_the_cursor(onboarded_payee, finance, connect):
    owe(NL, 120_000, "r1")
    payout = execute_run(finance).payouts.get()
    first = recon.stripe_sync()
    assert first.line_count == 1 and first.matched_count == 0  # the transfer: its payout is not paid yet
    assert recon.stripe_sync() is None  # nothing new since the cursor
    connect.control(f"payouts/{payout.stripe_payout_id}/paid")
    payouts.payout_paid(payout_id=payout.public_id)
    assert recon.rematch_pending() == 1
    transfer_line = ExternalLine.objects.get(source="stripe")
    payout.refresh_from_db()
    assert (transfer_line.amount, transfer_line.matched_entry_id) == (-120_000, payout.settled_entry_id)


@pytest.fixture
def onboarded_payee(licensor, connect):
    payouts.payee_stripe_onboarding_link(access=licensor, refresh_url="https://x.test/r", return_url="https://x.test/b")
    payee = PayeeProfile.objects.get()
    connect.control(f"accounts/{payee.stripe_account_id}/complete")
    payouts.payee_stripe_sync(payee.stripe_account_id)
    return payee


def test_a_month_closes_when_clean_or_signed_off(finance, bank_payout):
    period = (timezone.now().date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    day = period + dt.timedelta(days=20)
    statement = camt053([{"amount": -90_000, "ref": bank_payout.public_id, "id": "C1", "date": day},
                         {"amount": -700, "id": "C2", "date": day}])  # fmt: skip
    recon.bank_statement_import(data=statement, name="c.xml", actor=finance[0])
    with pytest.raises(ValidationError, match="unreconciled"):
        recon.period_close(period=period, user=finance[0])
    recon.adjust_to_suspense(line=ExternalLine.objects.get(external_id="C2"), user=finance[0], reason="bank charge")
    assert recon.month_exceptions(period) == {}
    assert recon.period_close(period=period, user=finance[1]) == month_end(period)
    assert ledger.closed_through() == month_end(period)
    assert AuditEntry.objects.filter(action="period.closed").count() == 1
    with pytest.raises(ValidationError, match="has not ended yet"):
        recon.period_close(period=timezone.now().date(), user=finance[1])


def test_sign_off_allows_closing_with_exceptions(finance):
    period = (timezone.now().date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    day = period + dt.timedelta(days=3)
    csv_data = f"date,amount,currency,reference,description,id\n{day},5.00,EUR,,unknown,U1\n".encode()
    recon.bank_statement_import(data=csv_data, name="u.csv", actor=finance[0])
    with pytest.raises(ValidationError):
        recon.period_close(period=period, user=finance[0])
    signoff = recon.period_signoff(period=period, user=finance[0], note="refund of a card test; chased with the bank")
    assert signoff.exceptions == {"bank EUR": {"external": 1, "ledger": 0}}
    assert recon.period_close(period=period, user=finance[1]) == month_end(period)


def test_reconciliation_and_close_pages(client, finance, bank_payout):
    from tests.marketplace.payouts.test_pages import staff

    client.force_login(staff("fin@market.test"))
    period = (timezone.now().date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    day = period + dt.timedelta(days=20)
    statement = camt053([{"amount": -90_000, "ref": bank_payout.public_id, "id": "P1", "date": day},
                         {"amount": -300, "id": "P2", "date": day}])  # fmt: skip
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/finance/reconciliation/upload/", {"statement": SimpleUploadedFile("s.xml", statement)}, follow=True
    )
    assert "2 new line(s), 0 already imported, 1 matched" in response.content.decode()
    fee = ExternalLine.objects.get(external_id="P2")
    page = client.post(
        f"/finance/reconciliation/lines/{fee.pk}/suspense/", {"reason": ""}, follow=True
    ).content.decode()
    assert "Give the reason for the adjustment." in page
    client.post(f"/finance/reconciliation/lines/{fee.pk}/suspense/", {"reason": "bank charge"})
    overview = client.get(f"/finance/reconciliation/?from={period}&to={month_end(period)}").content.decode()
    assert "reconciled" in overview
    page = client.post(f"/finance/close/{period:%Y-%m}/close/", follow=True).content.decode()
    assert "The books are closed through" in page
    assert ledger.closed_through() == month_end(period)


def test_a_stripe_payout_to_our_bank_moves_cash_and_matches_both_sides(finance, connect):
    payout = connect.control("platform_payouts", amount=40_000, currency="eur")
    assert recon.stripe_sync().matched_count == 1
    statement = camt053([{"amount": 40_000, "ref": payout["id"], "id": "SP1", "info": "STRIPE PAYOUT"}])
    assert recon.bank_statement_import(data=statement, name="sp.xml", actor=finance[0]).matched_count == 1
    assert ledger.account_balance("cash:bank", "EUR").balance == 40_000
    assert ledger.account_balance("cash:stripe", "EUR").balance == -40_000
    today = timezone.now().date()
    assert all(r.clean for r in recon.report(date_from=today, date_to=today))


def test_the_daily_report_is_kept(finance, bank_payout, client):
    from marketplace.reconciliation.models import DailyReport
    from tests.marketplace.payouts.test_pages import staff

    today = timezone.now().date()
    recon.bank_statement_import(data=camt053([{"amount": -500, "id": "D1", "date": today}]), name="d.xml",
                                actor=finance[0])  # fmt: skip
    recon.daily_report_record(today)
    recon.daily_report_record(today)  # redrawn, not duplicated
    bank = DailyReport.objects.get(day=today, source="bank")
    assert (bank.unmatched_external, bank.unmatched_external_amount, bank.difference) == (1, -500, -500)
    client.force_login(staff("daily@market.test"))
    assert "Daily reports" in client.get("/finance/reconciliation/").content.decode()
    import io

    from openpyxl import load_workbook

    book = client.get(f"/finance/reconciliation/report.xlsx?from={today}&to={today}")
    rows = list(load_workbook(io.BytesIO(b"".join(book.streaming_content))).active.iter_rows(values_only=True))
    assert rows[0][0] == "source" and ("bank", "EUR") in [r[:2] for r in rows[1:]]
