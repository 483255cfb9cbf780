"""Closing periods. After ``period_close(through=D)`` no entry may be dated on or before D."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from ledger.errors import LedgerError
from ledger.models import PeriodClose
from ledger.services._text import UNSTORABLE


@dataclass(frozen=True, slots=True)
class ClosedPeriod:
    through_date: dt.date
    closed_at: dt.datetime
    closed_by: str
    note: str


def closed_through() -> dt.date | None:
    return PeriodClose.objects.aggregate(m=Max("through_date"))["m"]


def period_close(*, through: dt.date, closed_by: str = "", note: str = "") -> ClosedPeriod:
    """Close the books through ``through``. Closing is final and moves only forward.

    Only days that have ended (in UTC) can be closed: a close cannot be undone,
    and an entry without a date takes today's, so closing today would refuse
    those until midnight, and a later day every post until then. On PostgreSQL the
    close waits for every in-flight posting transaction and blocks new ones
    until it commits, so no entry can slip into the period after the check.
    """
    if type(through) is not dt.date:
        raise ValueError(f"through must be a datetime.date, not {type(through).__name__}")
    # Both databases alike: PostgreSQL refuses a longer closer or a NUL with a DataError, SQLite stores them.
    if not isinstance(closed_by, str) or len(closed_by) > 200 or UNSTORABLE.search(closed_by):
        raise ValueError("closed_by must be text of at most 200 characters, without a NUL or a lone surrogate")
    if not isinstance(note, str) or UNSTORABLE.search(note):
        raise ValueError("note must be text without a NUL or a lone surrogate")
    today = timezone.now().astimezone(dt.UTC).date()
    if through >= today:
        raise LedgerError(f"cannot close the books through {through.isoformat()}: that day has not ended (UTC)")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # SHARE ROW EXCLUSIVE: it waits for posters and blocks them like SHARE, and it also
                # excludes a second closer, which would pass the forward-only check beside us.
                cursor.execute("LOCK TABLE ledger_entry IN SHARE ROW EXCLUSIVE MODE")
        current = closed_through()
        if current is not None and through <= current:
            raise LedgerError(f"the books are already closed through {current.isoformat()}; periods close forward only")
        # On PostgreSQL the insert's trigger also moves ledger_period_state, which posters at REPEATABLE READ or
        # SERIALIZABLE lock: one whose snapshot predates this close is refused (postgresql_posting.sql).
        row = PeriodClose.objects.create(through_date=through, closed_by=closed_by, note=note)
    return ClosedPeriod(row.through_date, row.closed_at, row.closed_by, row.note)


def periods_list() -> list[ClosedPeriod]:
    return [
        ClosedPeriod(p.through_date, p.closed_at, p.closed_by, p.note)
        for p in PeriodClose.objects.order_by("-through_date")
    ]
