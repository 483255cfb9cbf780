"""The finance pages: staff only, trial balance → account → entry, CSV downloads."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from ledger import services as ledger
from ledger.types import NewEntry, credit, debit
from tests.fixtures.ledger import eur


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_user("finance@clearframe.example", password="pw", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def entry_id(chart):
    return ledger.entry_post(
        NewEntry(
            legs=[
                debit("receivable:lic_acme", eur(250_000)),
                credit("revenue:commission", eur(50_000)),
                credit("royalty_payable:lor_north", eur(200_000)),
            ],
            description="Usage rated for March",
            metadata={"rating_run": 7, "late_periods": ["2026-02-01"], "note": "O'Brien", "none": None},
        )
    ).id


def test_finance_pages_are_for_staff_only(client, db, entry_id):
    url = reverse("finance:trial_balance")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    user = get_user_model().objects.create_user("someone@example.com", password="pw")
    client.force_login(user)
    for target in (
        url,
        reverse("finance:entry", args=[entry_id]),
        reverse("finance:account", args=["EUR", "cash:stripe"]),
        reverse("finance:journal_csv"),
    ):
        assert client.get(target).status_code == 403


def test_drill_down_from_trial_balance_to_account_to_entry(staff_client, entry_id):
    page = staff_client.get(reverse("finance:trial_balance"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Balanced" in html
    assert "2,500.00" in html  # receivable debit and the total
    account_url = reverse("finance:account", args=["EUR", "royalty_payable:lor_north"])
    assert account_url in html

    account = staff_client.get(account_url).content.decode()
    assert "2,000.00 EUR" in account
    entry_url = reverse("finance:entry", args=[entry_id])
    assert entry_url in account

    entry = staff_client.get(entry_url).content.decode()
    assert "Usage rated for March" in entry
    assert "rating_run" in entry
    # Metadata reads as JSON, not as Python's repr of it; text as it is.
    assert '<dd class="mono">[&quot;2026-02-01&quot;]</dd>' in entry and '<dd class="mono">null</dd>' in entry
    assert '<dd class="mono">O&#x27;Brien</dd>' in entry
    assert "500.00" in entry
    # A total line shows the entry balances: debits equal credits.
    assert '<th scope="row" colspan="2">Total</th><td class="num">2,500.00</td><td class="num">2,500.00</td>' in entry
    # Each currency's table is named by its heading.
    assert '<table aria-labelledby="tb-EUR">' in html


def test_unknown_account_and_entry_are_404(staff_client, entry_id):
    assert staff_client.get(reverse("finance:account", args=["EUR", "nope"])).status_code == 404
    assert staff_client.get(reverse("finance:entry", args=[entry_id + 1000])).status_code == 404
    bad_cursor = reverse("finance:account", args=["EUR", "cash:stripe"]) + "?cursor=zzz"
    assert staff_client.get(bad_cursor).status_code == 404
    # A currency typed in lower case finds the account; one that is no currency is no account.
    lower = staff_client.get(reverse("finance:account", args=["eur", "cash:stripe"]) + "?to=2026-01-31")
    assert lower["Location"] == reverse("finance:account", args=["EUR", "cash:stripe"]) + "?to=2026-01-31"
    assert staff_client.get(reverse("finance:account", args=["ZZZ", "cash:stripe"])).status_code == 404


def test_bad_date_shows_an_error_next_to_the_field(staff_client, entry_id):
    page = staff_client.get(reverse("finance:trial_balance") + "?as_of=31/12/2026")
    assert "Enter a date as YYYY-MM-DD" in page.content.decode()
    # The field keeps what was typed and is marked; the heading says the figures are today's.
    html = page.content.decode()
    assert 'value="31/12/2026"' in html and 'aria-invalid="true"' in html and 'id="as_of_error"' in html
    assert "now: the date asked for could not be read" in html
    # Other forms Python reads as dates are not dates here; a day the calendar lacks says so.
    for typed in ("20261031", "2026-W44-6"):
        assert (
            "is not a date in YYYY-MM-DD form"
            in staff_client.get(reverse("finance:trial_balance"), {"as_of": typed}).content.decode()
        )
    assert (
        "&#x27;2026-02-30&#x27; is not a date in the calendar"
        in staff_client.get(reverse("finance:trial_balance"), {"as_of": "2026-02-30"}).content.decode()
    )
    assert staff_client.get(reverse("finance:journal_csv") + "?from=yesterday").status_code == 400
    reversed_range = staff_client.get(reverse("finance:journal_csv") + "?from=2026-12-08&to=2026-12-01")
    assert reversed_range.status_code == 400
    assert reversed_range.content.decode() == (
        "from 2026-12-08 is after to 2026-12-01: choose a from date on or before the to date."
    )


def test_downloads_of_a_past_trial_balance_keep_its_date(staff_client, entry_id):
    page = staff_client.get(reverse("finance:trial_balance") + "?as_of=2026-01-31").content.decode()
    for name in ("finance:trial_balance_csv", "finance:trial_balance_xlsx"):
        assert f'href="{reverse(name)}?as_of=2026-01-31"' in page, name
    for name in ("finance:journal_csv", "finance:journal_xlsx"):  # the journal up to that date, both formats
        assert f'href="{reverse(name)}?to=2026-01-31"' in page, name
    dated = staff_client.get(reverse("finance:journal_csv") + "?from=2026-01-01&to=2026-01-31")
    assert dated["Content-Disposition"] == 'attachment; filename="journal-2026-01-01-to-2026-01-31.csv"'


def test_an_account_opened_from_a_dated_trial_balance_keeps_its_date_and_agrees_with_it(staff_client, entry_id):
    """A back-dated entry: the account page's balances are by effective date, as the trial balance's are."""
    import datetime as dt

    day = dt.date.today() - dt.timedelta(days=40)
    ledger.entry_post(
        NewEntry(
            legs=[debit("receivable:lic_acme", eur(30_000)), credit("royalty_payable:lor_north", eur(30_000))],
            description="Late report",
            effective_date=day,
        )
    )
    as_of = day.isoformat()
    tb = staff_client.get(reverse("finance:trial_balance") + f"?as_of={as_of}").content.decode()
    account_url = reverse("finance:account", args=["EUR", "royalty_payable:lor_north"]) + f"?to={as_of}"
    assert account_url in tb and f"{reverse('finance:journal_csv')}?to={as_of}" in tb
    page = staff_client.get(account_url).content.decode()
    # The late entry alone, by effective date; its row's running balance counts the entry posted before it.
    assert "Balance at the end of" in page and '<div class="value">300.00 EUR</div>' in page
    assert "credit balance" in page and '<td class="num">2,300.00 Cr</td>' in page  # on its side, not signed
    assert "Rows are in posting order" in page
    back = f'href="{reverse("finance:trial_balance")}?as_of={as_of}">← Trial balance as of'
    assert back in page  # back to the same date
    ranged = staff_client.get(
        reverse("finance:account", args=["EUR", "royalty_payable:lor_north"])
        + f"?from={(day + dt.timedelta(days=1)).isoformat()}"
    ).content.decode()
    assert "Opening balance, start of" in ranged and "Balance now" in ranged
    assert '<div class="value">300.00 EUR</div>' in ranged and '<div class="value">2,300.00 EUR</div>' in ranged
    # The statement ties out: opening + what moved in the range = closing.
    assert "debits 0.00, credits 2,000.00 EUR" in ranged
    # A liability adds up on its credit side: 300.00 + 2,000.00 - 0.00 = 2,300.00.
    assert "Opening 300.00 + credits 2,000.00 \u2212 debits 0.00 = closing 2,300.00 EUR: credit balances" in ranged
    asset = staff_client.get(
        reverse("finance:account", args=["EUR", "receivable:lic_acme"]) + f"?from={(day + dt.timedelta(days=1))}"
    ).content.decode()
    assert "Opening 300.00 + debits 2,500.00 \u2212 credits 0.00 = closing 2,800.00 EUR: debit balances" in asset
    backwards = staff_client.get(
        reverse("finance:account", args=["EUR", "royalty_payable:lor_north"]) + "?from=2026-12-01&to=2026-01-01"
    ).content.decode()
    assert "From is after To" in backwards and "Balance now" in backwards
    assert 'value="2026-12-01"' in backwards and 'value="2026-01-01"' in backwards  # kept, to be corrected
    earliest = reverse("finance:account", args=["EUR", "royalty_payable:lor_north"]) + "?from=0001-01-01"
    assert staff_client.get(earliest).status_code == 200


def test_csv_downloads(staff_client, entry_id):
    response = staff_client.get(reverse("finance:journal_csv"))
    assert response["Content-Disposition"] == 'attachment; filename="journal.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["account_code"], r["amount_minor"]) for r in rows] == [
        ("receivable:lic_acme", "250000"),
        ("revenue:commission", "-50000"),
        ("royalty_payable:lor_north", "-200000"),
    ]
    response = staff_client.get(reverse("finance:trial_balance_csv"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    totals = (sum(int(r["debit_minor"]) for r in rows), sum(int(r["credit_minor"]) for r in rows))
    assert totals == (250_000, 250_000)


def test_csv_download_cells_never_run_as_formulas(staff_client, chart):
    ledger.entry_post(
        NewEntry(
            legs=[debit("cash:stripe", eur(100)), credit("revenue:commission", eur(100))],
            description="=cmd|' /C calc'!A0",
        )
    )
    response = staff_client.get(reverse("finance:journal_csv"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["description"], r["amount_minor"]) for r in rows] == [
        ("'=cmd|' /C calc'!A0", "100"),
        ("'=cmd|' /C calc'!A0", "-100"),
    ]


def test_an_account_pages_forward_and_back(staff_client, chart):
    import re

    ledger.entries_post(
        [NewEntry(legs=[debit("cash:stripe", eur(n)), credit("equity:opening", eur(n))], description=f"top-up {n}")
         for n in range(1, 121)]
    )  # fmt: skip
    account = reverse("finance:account", args=["EUR", "cash:stripe"])

    def links(html: str) -> dict[str, str]:
        return {
            name: href.replace("&amp;", "&") for href, name in re.findall(r'href="([^"]*)">([^<]*page[^<]*)</a>', html)
        }

    first = staff_client.get(account).content.decode()
    assert "← Previous page" not in first
    second = staff_client.get(account + links(first)["Next page →"]).content.decode()
    assert links(second)["← Previous page"] == "?"  # the first page
    third = staff_client.get(account + links(second)["Next page →"]).content.decode()
    back = staff_client.get(account + links(third)["← Previous page"]).content.decode()

    def rows(html: str) -> str:
        return html[html.index("<tbody>") : html.index("</tbody>")]

    assert rows(back) == rows(second) != rows(third)


def test_a_balance_against_its_normal_side_is_also_named_dr_or_cr_in_the_tie_out(staff_client, chart):
    ledger.entry_post(
        NewEntry(legs=[debit("expense:processing_fees", eur(500)), credit("cash:stripe", eur(500))], description="Fee")
    )
    page = staff_client.get(reverse("finance:account", args=["EUR", "cash:stripe"]) + "?from=2000-01-01").content
    assert "= closing -5.00 EUR, that is 5.00 Cr: debit balances" in page.decode()
