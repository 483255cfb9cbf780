"""Dates as the ledger's reports, pages and commands take them: exactly YYYY-MM-DD.

``date.fromisoformat`` also reads ``20261031`` and ``2026-W44-6`` since Python 3.11: a form a finance user
did not mean, shown as a date they did not type.
"""

from __future__ import annotations

import datetime as dt
import re

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def parse_iso_date(text: str) -> dt.date:
    """``text`` as a calendar date; ValueError says whether the form or the day is wrong."""
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date in YYYY-MM-DD form")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date in the calendar") from None
