"""The ledger's admin lists stay index reads at any size: pages, counts, filters and search."""

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ledger import services as ledger
from ledger.models import Posting
from ledger.types import NewEntry, credit, debit
from tests.fixtures.ledger import eur, open_chart

POSTINGS = reverse("admin:ledger_posting_changelist")


def _post_mixed(count: int) -> None:
    """Two-leg entries (kept on their own row on PostgreSQL) between three-leg ones (posting rows)."""
    entries = []
    for n in range(count):
        if n % 4 == 3:
            legs = [
                debit("receivable:lic_acme", eur(1_000 + n)),
                credit("revenue:commission", eur(200)),
                credit("royalty_payable:lor_north", eur(800 + n)),
            ]
        else:
            legs = [debit("cash:stripe", eur(100 + n)), credit("equity:opening", eur(100 + n))]
        entries.append(NewEntry(legs=legs, description=f"entry {n}"))
    ledger.entries_post(entries)


def _listed(response) -> list[tuple[int, int]]:
    assert response.status_code == 200
    return [(leg.entry_id, leg.leg_index) for leg in response.context["cl"].result_list]


def _expected(codes: set[str] | None = None, currency: str | None = None) -> list[tuple[int, int]]:
    legs = Posting.objects.select_related("account")
    return sorted(
        (
            (leg.entry_id, leg.leg_index)
            for leg in legs
            if (codes is None or leg.account.code in codes) and (currency is None or leg.currency == currency)
        ),
        key=lambda key: (-key[0], key[1]),
    )


@pytest.fixture
def mixed(chart):
    _post_mixed(60)  # 45 two-leg and 15 three-leg entries: 135 legs, two pages


def test_postings_are_paged_newest_entry_first_across_both_forms_of_a_leg(mixed, admin_client):
    expected = _expected()
    assert len(expected) == 135
    first = admin_client.get(POSTINGS)
    assert first.context["cl"].result_count == 135
    assert _listed(first) == expected[:100]
    assert _listed(admin_client.get(POSTINGS, {"p": 2})) == expected[100:]
    assert admin_client.get(POSTINGS, {"p": 3}).status_code == 302  # past the end: back to the first page
    # Each row links to its entry; a leg's own page is found by its id in either form.
    page = first.content.decode()
    newest = expected[0][0]
    assert reverse("admin:ledger_journalentry_change", args=[newest]) in page
    for leg in Posting.objects.filter(entry_id__in=[newest, newest - 1]):
        shown = admin_client.get(reverse("admin:ledger_posting_change", args=[leg.pk]))
        assert shown.status_code == 200 and shown.context["original"] == leg
        assert ledger.Money(abs(leg.amount), "EUR").format() in shown.content.decode()  # money, not minor units
        if leg.pk > 0:  # a posting row is not also found at the id a row-kept leg of its entry would have
            aliased = -(2 * leg.entry_id + leg.leg_index)
            assert admin_client.get(reverse("admin:ledger_posting_change", args=[aliased])).status_code == 302
    assert admin_client.get(reverse("admin:ledger_posting_change", args=[10**9])).status_code == 302


def test_postings_narrow_by_currency_and_by_account_search(mixed, admin_client):
    open_chart("USD")
    ledger.entry_post(
        NewEntry(
            legs=[debit("cash:stripe", ledger.Money(5, "USD")), credit("equity:opening", ledger.Money(5, "USD"))],
            description="In dollars",
        )
    )
    usd = admin_client.get(POSTINGS, {"currency": "USD"})
    assert usd.context["cl"].result_count == 2
    assert _listed(usd) == _expected(currency="USD")
    eur_legs = _expected(currency="EUR")
    eur_page = admin_client.get(POSTINGS, {"currency": "EUR"})
    assert eur_page.context["cl"].result_count == len(eur_legs) == 135
    assert _listed(eur_page) == eur_legs[:100]
    # Every word must match the account's code or name.
    found = admin_client.get(POSTINGS, {"q": "royalty north"})
    assert _listed(found) == _expected({"royalty_payable:lor_north"}) and len(_listed(found)) == 15
    both = admin_client.get(POSTINGS, {"q": "cash", "currency": "EUR"})
    assert both.context["cl"].result_count == 45
    assert _listed(both) == _expected({"cash:stripe"}, currency="EUR")
    nothing = admin_client.get(POSTINGS, {"q": "no-such-account"})
    assert nothing.context["cl"].result_count == 0 and _listed(nothing) == []
    # Any other condition in the address is refused, not shown over every leg with the unfiltered count.
    cash = Posting.objects.filter(account__code="cash:stripe").first().account_id
    for lookup in ({"account": cash}, {"leg_index": 1}, {"amount__lt": 0}, {"entry__gte": 1}):
        assert admin_client.get(POSTINGS, lookup).status_code == 400, lookup


def _scanned(sql: str) -> dict[str, int]:
    """Rows each ledger table gave the plan of ``sql``, summed over its scan nodes. Sequential scans are priced
    out, as a large ledger prices them: on these small tables they are the cheap choice even where an index reads
    a few rows, and a query that can only scan still does."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
        finally:
            cursor.execute("RESET enable_seqscan")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    read: dict[str, int] = {}

    def walk(node: dict) -> None:
        table = node.get("Relation Name", "")
        if table.startswith("ledger_"):
            rows = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
            read[table] = read.get(table, 0) + rows
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return read


@pytest.mark.postgres
def test_admin_lists_read_a_page_not_the_ledger(chart, admin_client):
    _post_mixed(3_000)  # 6,750 legs
    ledger.entries_post(
        [
            NewEntry(
                legs=[debit("cash:stripe", eur(10)), credit("equity:opening", eur(10))],
                description=f"day {n}",
                effective_date=dt.date(2024, 1, 1) + dt.timedelta(days=n),
            )
            for n in range(600)
        ]
    )  # 1,200 day totals
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_entry; ANALYZE ledger_posting; ANALYZE ledger_account")
    pages = [
        POSTINGS,
        POSTINGS + "?p=2",
        POSTINGS + "?q=commission",
        POSTINGS + "?currency=EUR",
        reverse("admin:ledger_journalentry_changelist"),
        reverse("admin:ledger_accountday_changelist"),
    ]
    for page in pages:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(page).status_code == 200
        for query in queries.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT") or "ledger_" not in sql:
                continue
            for table, rows in _scanned(sql).items():
                # The entry and day lists count their rows (an index-only scan); nothing else may read more
                # than a few pages' worth of any ledger table.
                if "COUNT(*)" in sql and table in ("ledger_entry", "ledger_account_day"):
                    continue
                assert rows <= 1_000, f"{page}: {rows} rows of {table} read by {sql[:300]}"
