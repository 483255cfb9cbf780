"""A licensee's invoices in the dashboard, with their PDF and CSV."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from marketplace.invoicing import documents
from marketplace.invoicing.models import Invoice
from marketplace.orgs.access import Perm, org_view
from marketplace.orgs.models import OrgKind
from marketplace.rating.models import RatingCharge


def _invoice(request: HttpRequest, invoice_id: str) -> Invoice:
    return get_object_or_404(Invoice, licensee=request.access.organisation, public_id=invoice_id)


@org_view(Perm.FINANCE, kinds={OrgKind.LICENSEE})
def invoice_list(request: HttpRequest) -> HttpResponse:
    invoices = Invoice.objects.filter(licensee=request.access.organisation)
    return render(
        request,
        "invoicing/invoice_list.html",
        {"access": request.access, "page": Paginator(invoices, 50).get_page(request.GET.get("page"))},
    )


@org_view(Perm.FINANCE, kinds={OrgKind.LICENSEE})
def invoice_detail(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = _invoice(request, invoice_id)
    lines = list(invoice.lines.select_related("licence"))
    charges = dict(
        RatingCharge.objects.filter(entry_id__in=[e for line in lines for e in line.entry_ids]).values_list(
            "entry_id", "pk"
        )
    )
    for line in lines:
        line.charge_ids = [charges[e] for e in line.entry_ids if e in charges]  # type: ignore[attr-defined]
    return render(
        request, "invoicing/invoice_detail.html", {"access": request.access, "invoice": invoice, "lines": lines}
    )


@org_view(Perm.FINANCE, kinds={OrgKind.LICENSEE})
def invoice_pdf(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = _invoice(request, invoice_id)
    response = HttpResponse(documents.invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


@org_view(Perm.FINANCE, kinds={OrgKind.LICENSEE})
def invoice_csv(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = _invoice(request, invoice_id)
    response = HttpResponse(documents.invoice_csv(invoice), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.csv"'
    return response
