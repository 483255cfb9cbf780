"""Finance closes a month in real headless Chromium: one user reviews the payout run, another approves and
executes it (a real Celery worker sends the payouts), the bank statement is uploaded and matched, the month closes;
an advance goes through the same four eyes."""

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ledger import services as ledger
from marketplace.payouts import services as payouts
from marketplace.payouts.models import PayoutRun
from marketplace.periods import month_end
from tests.browser.test_catalogue_flow import sign_in
from tests.fixtures.bankfiles import camt053
from tests.marketplace.payouts.test_pages import staff
from tests.marketplace.payouts.test_payouts import NL, owe

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.celery, pytest.mark.slow,
              pytest.mark.django_db(transaction=True)]  # fmt: skip


def test_review_approve_execute_reconcile_close(page, live_server, celery_worker, licensor, tmp_path):
    payouts.payee_bank_details_save(
        access=licensor, account_holder="Northlight", iban="FR7630006000011234567890189", bic=""
    )
    owe(NL, 90_000, "r1")
    staff("alice@market.test")
    staff("bob@market.test")
    base = live_server.url

    sign_in(page, base, "alice@market.test")
    page.goto(f"{base}/finance/payouts/")
    page.get_by_role("button", name="Propose a run").click()
    expect(page.get_by_role("heading", name="Payout run")).to_contain_text("Proposed")
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.get_by_text("You reviewed this run: another finance user must approve it.")).to_be_visible()
    run_url = page.url
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, base, "bob@market.test")
    page.goto(run_url)
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("button", name="Execute").click()
    expect(page.get_by_text("1 of 1 sent.")).to_be_visible(timeout=30_000)  # the page refreshes while executing
    expect(page.get_by_role("heading", name="Payout run")).to_contain_text("Executed", timeout=30_000)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the bank file (pain.001)").click()
    assert "<EndToEndId>" in Path(download.value.path()).read_text()

    payout = PayoutRun.objects.get().payouts.get()
    statement = tmp_path / "statement.xml"
    last_month = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    booked = last_month + dt.timedelta(days=27)
    statement.write_bytes(camt053([{"amount": -90_000, "ref": payout.public_id, "id": "S1", "info": "royalties",
                                    "date": booked}]))  # fmt: skip
    page.goto(f"{base}/finance/reconciliation/?from={last_month}&to={booked}")
    page.get_by_label("Bank statement (camt.053 XML or CSV)").set_input_files(str(statement))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("1 new line(s), 0 already imported, 1 matched")).to_be_visible()
    expect(page.get_by_text("reconciled").first).to_be_visible()

    page.goto(f"{base}/finance/close/")
    page.get_by_role("button", name=f"Close {last_month:%B}").click()
    closed = f"The books are closed through {month_end(last_month):%d %B %Y}."
    expect(page.get_by_text(closed, exact=True)).to_be_visible()
    assert ledger.closed_through() is not None
    assert ledger.account_balance(f"payouts_in_transit:{NL}", "EUR").balance == 0


@pytest.mark.usefixtures("licensor")
def test_an_advance_is_requested_by_one_finance_user_and_approved_by_another(page, live_server):
    staff("alice@market.test")
    staff("bob@market.test")
    base = live_server.url

    sign_in(page, base, "alice@market.test")
    page.goto(f"{base}/finance/advances/")
    page.get_by_label("Rights holder").select_option(label="Northlight")
    page.get_by_label("Amount").fill("1,500.00")
    page.get_by_label("Note").fill("Signing advance for the catalogue")
    page.get_by_role("button", name="Request advance").click()
    expect(page.get_by_text("Another finance user must approve it.")).to_be_visible()
    expect(page.get_by_text("awaiting a second finance user")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, base, "bob@market.test")
    page.goto(f"{base}/finance/advances/")
    page.get_by_role("button", name="Approve adv_").click()
    expect(page.get_by_text("approved and booked")).to_be_visible()
    positions = page.get_by_role("table", name="Advance positions")
    expect(positions).to_contain_text("1,500.00")
    assert ledger.account_balance(f"advance:{NL}", "EUR").balance == 150_000
