"""CSV exports of the journal and the trial balance, streamed.

The formats are documented in docs/ledger.md so that an accountant can load
them into another system. Amounts are integer minor units; debits positive.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from typing import Protocol

from ledger.models import Account, JournalEntry, Posting
from ledger.services import _hashing
from ledger.services._snapshot import one_snapshot
from ledger.services.balances import trial_balance

JOURNAL_COLUMNS = [
    "entry_id",
    "effective_date",
    "posted_at",
    "account_code",
    "account_type",
    "currency",
    "amount_minor",
    "description",
    "idempotency_key",
]
TRIAL_BALANCE_COLUMNS = ["account_code", "account_name", "account_type", "currency", "debit_minor", "credit_minor"]


def journal_rows(
    *, date_from: dt.date | None = None, date_to: dt.date | None = None, chunk: int = 5_000
) -> Iterator[list]:
    """One row per posting, in posting order, fetched in keyset pages from one snapshot on PostgreSQL: an entry
    committed while the export runs is not in it, though its id may fall among the pages still to come. Until the
    rows are all read, that read-only transaction is the connection's: write on another."""
    with one_snapshot():
        yield from _journal_pages(date_from, date_to, chunk)


def _journal_pages(date_from: dt.date | None, date_to: dt.date | None, chunk: int) -> Iterator[list]:
    accounts = {a_id: (code, type_) for a_id, code, type_ in Account.objects.values_list("id", "code", "type")}
    entries = _entries(date_from, date_to).order_by("id")
    after = 0
    while True:
        page = list(
            entries.filter(id__gt=after).values_list(
                "id", "effective_date", "posted_at", "description", "idempotency_key"
            )[:chunk]
        )
        if not page:
            return
        meta = {row[0]: row for row in page}
        for entry_id, account_id, currency, amount in (
            Posting.objects.filter(entry_id__in=meta.keys())
            .order_by("entry_id", "leg_index")
            .values_list("entry_id", "account_id", "currency", "amount")
        ):
            _, effective_date, posted_at, description, key = meta[entry_id]
            if account_id not in accounts:  # opened since, seen by a caller's transaction that reads each query anew
                accounts[account_id] = Account.objects.values_list("code", "type").get(pk=account_id)
            code, type_ = accounts[account_id]
            yield [
                entry_id,
                effective_date.isoformat(),
                _hashing.utc_iso(posted_at),
                code,
                type_,
                currency,
                amount,
                description,
                key or "",
            ]
        after = page[-1][0]


def journal_count(*, date_from: dt.date | None = None, date_to: dt.date | None = None) -> int:
    """How many rows :func:`journal_rows` yields for the same dates (for a progress bar)."""
    return Posting.objects.filter(entry__in=_entries(date_from, date_to).values("id")).count()


def _entries(date_from: dt.date | None, date_to: dt.date | None):
    entries = JournalEntry.objects.all()
    if date_from:
        entries = entries.filter(effective_date__gte=date_from)
    if date_to:
        entries = entries.filter(effective_date__lte=date_to)
    return entries


def trial_balance_rows(*, as_of_date: dt.date | None = None) -> Iterator[list]:
    for row in trial_balance(as_of_date=as_of_date).rows:
        yield [row.account.code, row.name, row.type.value, row.account.currency, row.debit, row.credit]


# Spreadsheets run a cell that starts with one of these as a formula (=HYPERLINK(...) in a corpus title would reach
# the finance team's Excel through an entry's description). A leading apostrophe is the spreadsheets' own mark
# for text; a cell that already starts with one gets another, so removing exactly one restores the stored text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def spreadsheet_text(value: object) -> object:
    """A CSV cell that a spreadsheet shows as the stored text and never evaluates (docs/ledger.md, "Exports")."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class TextSink(Protocol):
    def write(self, text: str, /) -> object: ...


def write_csv(rows: Iterator[list], columns: list[str], out: TextSink) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([spreadsheet_text(cell) for cell in row])
        count += 1
    return count
