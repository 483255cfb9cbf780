"""A royalty statement as CSV and PDF."""

from __future__ import annotations

import csv
import io

from ledger.money import Money
from marketplace.statements.models import RoyaltyStatement
from marketplace.web.pdf import table_document

CSV_COLUMNS = ["statement", "party", "period", "position", "date", "kind", "description", "corpus", "licence",
               "licensee", "quantity", "formula", "charge_minor", "commission_minor", "share_minor", "recouped_minor",
               "amount_minor", "currency", "rating_charge", "ledger_entry"]  # fmt: skip


def statement_rows(statement: RoyaltyStatement) -> list[list]:
    """Opening, one row per line, closing; amounts in minor units."""
    head = [statement.public_id, statement.party, statement.period.isoformat()[:7]]
    blank = [""] * 10  # description to share: the opening and closing rows have only an amount
    rows = [[*head, "", "", "opening", *blank, statement.opening, statement.currency, "", ""]]
    for line in statement.lines.all():
        rows.append(
            [*head, line.position, line.date.isoformat(), line.kind, line.description, line.corpus, line.licence,
             line.licensee, line.quantity, line.formula, line.gross, line.commission, line.share, line.recouped,
             line.amount, statement.currency, line.charge_id or "", line.entry_id]
        )  # fmt: skip
    rows.append([*head, "", "", "closing", *blank, statement.closing, statement.currency, "", ""])
    return rows


def statement_csv(statement: RoyaltyStatement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(statement_rows(statement))
    return out.getvalue()


def statement_pdf(statement: RoyaltyStatement) -> bytes:
    def money(amount: int) -> str:
        return Money(amount, statement.currency).format()

    rows = [
        [line.date.isoformat(),
         f"{line.description}<br/>{line.corpus} {line.licence} {line.licensee}<br/>{line.quantity} {line.formula}",
         money(line.recouped) if line.recouped else "", money(line.amount)]
        for line in statement.lines.all()
    ]  # fmt: skip
    return table_document(
        title=f"Royalty statement {statement.period:%Y-%m}",
        heading=f"Royalty statement — {statement.organisation.name}, {statement.period:%B %Y} ({statement.currency})",
        facts_html=f"Opening balance owed: {money(statement.opening)}<br/>Earned: {money(statement.earned)}; "
        f"recouped against advances: {money(statement.recouped)}; payouts: {money(statement.paid_out)}; returned: "
        f"{money(statement.returned)}<br/>Closing balance owed: <b>{money(statement.closing)}</b>; payouts in "
        f"transit {money(statement.in_transit)}; advance outstanding {money(statement.advance_outstanding)}; "
        f"reserve held on payouts {statement.reserve_bp / 100:g}%.",
        header=["Date", "Line", "Recouped", "Amount"],
        rows=rows,
        totals=[["", "Opening", "", money(statement.opening)], ["", "Closing", "", money(statement.closing)]],
        widths_mm=[22, 113, 22, 28],
        footnote="Each line's share is the charge less commission, times your weight among the rights holders "
        "(quantity x co-owner share), rounded so the parts sum to the whole. The usage events behind every charge "
        "are in your dashboard and its CSV export; this statement ties to the royalty ledger to the cent.",
    )
