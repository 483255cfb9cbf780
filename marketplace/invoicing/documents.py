"""An invoice as CSV and as PDF (ReportLab, drawn server-side)."""

from __future__ import annotations

import csv
import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ledger.money import Money
from marketplace.invoicing.models import Invoice

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

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    margins = {"leftMargin": 18 * mm, "rightMargin": 18 * mm, "topMargin": 18 * mm, "bottomMargin": 18 * mm}
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"Invoice {invoice.number}", author="ClearFrame", **margins)
    licensee = invoice.licensee
    story = [
        Paragraph("ClearFrame", styles["Title"]),
        Paragraph(f"Invoice {invoice.number}", styles["Heading2"]),
        Paragraph(
            f"Billed to: {licensee.name}<br/>Period: {invoice.period:%B %Y}<br/>"
            f"Issued: {invoice.issued_at:%Y-%m-%d} &nbsp; Due: {invoice.due_at:%Y-%m-%d}<br/>"
            f"Pay by card in the dashboard, or by bank transfer quoting <b>{invoice.payment_reference}</b>.",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]
    rows = [["#", "Description", "Quantity", "Amount"]]
    for line in invoice.lines.all():
        quantity = "" if line.quantity is None else f"{line.quantity.normalize():,f}"
        rows.append([str(line.position), Paragraph(line.description, styles["BodyText"]), quantity, money(line.amount)])
    rows += [
        ["", "Subtotal", "", money(invoice.subtotal)],
        ["", f"Tax ({invoice.tax_rate_bp / 100:.2f}%)", "", money(invoice.tax)],
        ["", "Total due", "", money(invoice.total)],
    ]
    table = Table(rows, colWidths=[10 * mm, 105 * mm, 25 * mm, 34 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEABOVE", (0, -3), (-1, -3), 0.5, colors.grey),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [
        table,
        Spacer(1, 6 * mm),
        Paragraph(
            f"Every line is traceable to the royalty ledger: this total equals the postings to "
            f"{invoice.receivable_account} dated in {invoice.period:%B %Y}. Usage lines list the rating runs and "
            "events behind them in the dashboard and the CSV export.",
            styles["Italic"],
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
