"""Spreadsheet (XLSX) downloads of the same rows as the CSV exports, written in openpyxl's streaming mode."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable

from django.http import FileResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(page, value):
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)  # Excel has no time zones; exports are in UTC
    if isinstance(value, str):
        # Text stays text: a description such as "=1+1" must not become a formula, and the control
        # characters that XML cannot hold (the ledger stores them) are shown as U+FFFD.
        cell = WriteOnlyCell(page, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
        cell.data_type = "s"
        return cell
    return value


def xlsx_response(rows: Iterable[Iterable], columns: list[str], filename: str, sheet: str = "Export") -> FileResponse:
    """Rows go to a temporary file as they come (a million-row journal never sits in memory)."""
    book = Workbook(write_only=True)
    page = book.create_sheet(sheet[:31])
    page.append(columns)
    for row in rows:
        page.append([_cell(page, v) for v in row])
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, which closes it
    book.save(spool)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=filename, content_type=XLSX)
