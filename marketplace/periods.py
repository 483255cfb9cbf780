"""Calendar months, the marketplace's accounting periods (invoices, statements, closes), in UTC."""

from __future__ import annotations

import calendar
import datetime as dt


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def previous_month(now: dt.datetime) -> dt.date:
    """The first day of the month before ``now``'s (UTC)."""
    return (now.astimezone(dt.UTC).date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def months_back(count: int, today: dt.date) -> list[dt.date]:
    """The first days of the last ``count`` months, oldest first, ending with ``today``'s."""
    months = [today.replace(day=1)]
    for _ in range(count - 1):
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return list(reversed(months))
