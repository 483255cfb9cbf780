"""Stream a CSV download row by row, so a million-row export never sits in memory."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from ledger.services import spreadsheet_text


class _Echo:
    """A write-only file that hands each CSV line back to the streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Iterable], columns: list[str]) -> Iterator[str]:
    """The CSV's lines, header first; the same rows always give the same bytes (so they can be hashed)."""
    writer = csv.writer(_Echo(), lineterminator="\n")
    yield writer.writerow(columns)
    for row in rows:
        yield writer.writerow(row)


def csv_response(rows: Iterable[Iterable], columns: list[str], filename: str) -> StreamingHttpResponse:
    """A download for people, who open it in a spreadsheet: no cell is run as a formula (docs/ledger.md)."""
    safe_rows = ([spreadsheet_text(cell) for cell in row] for row in rows)
    response = StreamingHttpResponse(csv_lines(safe_rows, columns), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
