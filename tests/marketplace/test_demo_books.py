"""The demo books load again on any later day: `make run` reloads them at every start."""

import datetime as dt

import pytest

from ledger import services as ledger
from ledger.models import JournalEntry
from marketplace.web import demo

pytestmark = pytest.mark.django_db


def _load(today: dt.date) -> int:
    for currency in ("EUR", "USD"):
        demo._chart(currency)
    return demo._books(today)


def _journal() -> list[tuple]:
    return [(line.entry_id, line.amount) for line in ledger.account_statement_lines("cash:stripe", "EUR")]


def test_reloading_later_in_the_month_and_the_next_month_changes_nothing_already_posted():
    first = _load(dt.date(2026, 11, 3))
    assert first == JournalEntry.objects.count() > 0  # every entry counted, the payout's reversal too
    failed = ledger.entry_find("demo:2026-11:EUR:payout-failed")
    assert ledger.entry_find("demo:2026-11:EUR:payout-failed:reversal") is not None
    before = _journal()
    balance = ledger.account_balance("royalty_payable:org:harbour-stock", "EUR")

    assert _load(dt.date(2026, 11, 24)) == 0  # the same month: every key is there already
    assert _journal() == before
    assert ledger.account_balance("royalty_payable:org:harbour-stock", "EUR") == balance

    assert _load(dt.date(2026, 12, 2)) > 0  # a new month adds that month, and only that
    assert ledger.entry_find("demo:2026-12:EUR:payout-failed:reversal") is not None
    assert ledger.entry_find("demo:2026-11:EUR:payout-failed") == failed
