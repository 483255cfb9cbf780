"""Documents as PDF, drawn server-side with ReportLab: a heading, a few facts, one table, a footnote."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle


def table_document(
    *, title: str, heading: str, facts_html: str, header: list[str], rows: list[list], totals: list[list],
    widths_mm: list[float], footnote: str,
) -> bytes:  # fmt: skip
    """``rows`` may hold strings or HTML-ish text (wrapped in the second column); amounts right-aligned."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    margins = {"leftMargin": 15 * mm, "rightMargin": 15 * mm, "topMargin": 15 * mm, "bottomMargin": 15 * mm}
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=title, author="ClearFrame", **margins)
    body = [
        [cell if i != 1 else Paragraph(str(cell), styles["BodyText"]) for i, cell in enumerate(row)] for row in rows
    ]
    table = Table([header, *body, *totals], colWidths=[w * mm for w in widths_mm], repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
    ]
    if totals:
        style += [
            ("LINEABOVE", (0, -len(totals)), (-1, -len(totals)), 0.5, colors.grey),
            ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ]
    table.setStyle(TableStyle(style))
    story = [
        Paragraph("ClearFrame", styles["Title"]),
        Paragraph(heading, styles["Heading2"]),
        Paragraph(facts_html, styles["Normal"]),
        Spacer(1, 5 * mm),
        table,
        Spacer(1, 5 * mm),
        Paragraph(footnote, styles["Italic"]),
    ]
    doc.build(story)
    return buffer.getvalue()
