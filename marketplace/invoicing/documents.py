"""An invoice as CSV and as PDF."""

from __future__ import annotations

import csv
import io

from ledger.money import Money
from marketplace.invoicing.models import Invoice
from marketplace.web.pdf import table_document

CSV_COLUMNS = ["invoice", "period", "position", "kind", "licence", "description", "metric", "quantity",
               "amount_minor", "tax_minor", "currency", "ledger_entries"]  # fmt: skip


def invoice_csv(invoice: Invoice) -> str:
    """One row per line, then the totals; amounts in integer minor units."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in invoice.lines.select_related("licence"):
        writer.writerow(
            [invoice.number, invoice.period.isoformat()[:7], line.position, line.kind,
             line.licence.public_id if line.licence else "", line.description, line.metric,
             "" if line.quantity is None else line.quantity, line.amount, line.tax, invoice.currency,
             " ".join(map(str, line.entry_ids))]
        )  # fmt: skip
    for label, amount in (("subtotal", invoice.subtotal), ("tax", invoice.tax), ("total", invoice.total)):
        writer.writerow([invoice.number, invoice.period.isoformat()[:7], "", label, "", "", "", "", amount, "",
                         invoice.currency, ""])  # fmt: skip
    return out.getvalue()


def invoice_pdf(invoice: Invoice) -> bytes:
    def money(amount: int) -> str:
        return Money(amount, invoice.currency).format()

    rows = [
        [str(line.position), line.description, "" if line.quantity is None else f"{line.quantity.normalize():,f}",
         money(line.amount)]
        for line in invoice.lines.all()
    ]  # fmt: skip
    return table_document(
        title=f"Invoice {invoice.number}",
        heading=f"Invoice {invoice.number}",
        facts_html=f"Billed to: {invoice.licensee.name}<br/>Period: {invoice.period:%B %Y}<br/>"
        f"Issued: {invoice.issued_at:%Y-%m-%d} &nbsp; Due: {invoice.due_at:%Y-%m-%d}<br/>"
        f"Pay by card in the dashboard, or by bank transfer quoting <b>{invoice.payment_reference}</b>.",
        header=["#", "Description", "Quantity", "Amount"],
        rows=rows,
        totals=[
            ["", "Subtotal", "", money(invoice.subtotal)],
            ["", f"Tax ({invoice.tax_rate_bp / 100:.2f}%)", "", money(invoice.tax)],
            ["", "Total due", "", money(invoice.total)],
        ],
        widths_mm=[10, 110, 25, 35],
        footnote=f"Every line is traceable to the royalty ledger: this total equals the postings to "
        f"{invoice.receivable_account} dated in {invoice.period:%B %Y}. Usage lines list the rating runs and "
        "events behind them in the dashboard and the CSV export.",
    )
