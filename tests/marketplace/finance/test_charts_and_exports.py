"""Finance charts and spreadsheet exports."""

import io

import pytest
from openpyxl import load_workbook

from marketplace.rating.services import rating_rate_all
from marketplace.statements.services import statement_issue
from tests.fixtures.rating import licence_on, report
from tests.marketplace.payouts.test_pages import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def activity(licensor, buyer, market):
    licence = licence_on(
        licensor,
        buyer[0].organisation,
        market["corpus"],
        {"metric": "hours", "tiers": [{"up_to": None, "unit_price": 10_000}]},
    )
    report(licence, [("seconds_delivered", 7_200, "m0")])
    rating_rate_all()
    return licence


def test_charts_show_earnings_usage_and_cash_against_owed(client, activity):
    client.force_login(staff("charts@market.test"))
    page = client.get("/finance/charts/").content.decode()
    assert page.count("<svg") == 3
    assert "Charged (usage), " in page and ": 200" in page  # 2 h at 100.00 = 20,000 minor units, shown as 200
    assert "Tests corpus" in page or market_title(activity) in page
    assert "Owed to rights holders" in page


def market_title(licence) -> str:
    return licence.corpus.title


def test_exports_as_xlsx(client, activity, licensor):
    client.force_login(staff("xlsx@market.test"))
    response = client.get("/finance/export/trial-balance.xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "account_code" and any(r[0] == "revenue:commission" for r in rows)
    journal = load_workbook(io.BytesIO(b"".join(client.get("/finance/export/journal.xlsx").streaming_content))).active
    assert journal.max_row > 2
    from django.utils import timezone

    statement = statement_issue(party="org:northlight", currency="EUR", period=timezone.now().date())
    client.force_login(licensor.user)
    book = client.get(f"/o/northlight/statements/{statement.public_id}/xlsx/")
    rows = list(load_workbook(io.BytesIO(b"".join(book.streaming_content))).active.iter_rows(values_only=True))
    assert rows[1][5] == "opening" and rows[-1][5] == "closing"
    assert rows[-1][16] == statement.closing


def test_xlsx_journal_keeps_text_as_text(client, activity):
    """The ledger stores any text but NUL: a formula-like description stays text, a vertical tab is replaced."""
    from ledger import services as ledger
    from ledger.types import Leg, NewEntry
    from tests.fixtures.ledger import open_chart

    open_chart("EUR")
    ledger.entry_post(NewEntry(legs=[Leg("cash:stripe", "EUR", 5), Leg("revenue:commission", "EUR", -5)],
                               description="=HYPERLINK(\"http://x.test\")\x0bInvoice 42"))  # fmt: skip
    client.force_login(staff("xlsx-text@market.test"))
    response = client.get("/finance/export/journal.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cells = [row for row in sheet.iter_rows() if any(c.value == 5 for c in row)]
    descriptions = [c for c in cells[0] if isinstance(c.value, str) and "Invoice 42" in c.value]
    assert [(c.value, c.data_type) for c in descriptions] == [('=HYPERLINK("http://x.test")\ufffdInvoice 42', "s")]
