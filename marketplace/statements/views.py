"""Royalty statements for a rights holder's finance people, and for the operator's finance staff."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from marketplace.finance.views import staff_required
from marketplace.orgs.access import Perm, org_view
from marketplace.orgs.models import OrgKind
from marketplace.statements.documents import CSV_COLUMNS, statement_csv, statement_pdf, statement_rows
from marketplace.statements.models import RoyaltyStatement
from marketplace.web.xlsx import xlsx_response


def _mine(request: HttpRequest):
    return RoyaltyStatement.objects.filter(organisation=request.access.organisation).select_related("organisation")


def _render_detail(request: HttpRequest, statement: RoyaltyStatement, base: str) -> HttpResponse:
    lines = statement.lines.select_related("charge")
    return render(
        request,
        "statements/detail.html",
        {"access": getattr(request, "access", None), "statement": statement, "lines": lines, "base": base},
    )


def _download(statement: RoyaltyStatement, kind: str) -> HttpResponse:
    if kind not in ("pdf", "csv", "xlsx"):
        raise Http404("Statements download as pdf, csv or xlsx")
    name = f"statement-{statement.organisation.slug}-{statement.period:%Y-%m}-{statement.currency}"
    if kind == "xlsx":
        return xlsx_response(statement_rows(statement), CSV_COLUMNS, f"{name}.xlsx", sheet="Statement")
    if kind == "pdf":
        response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
    else:
        response = HttpResponse(statement_csv(statement), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


@org_view(Perm.FINANCE, kinds={OrgKind.LICENSOR})
def statement_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(_mine(request), 36).get_page(request.GET.get("page"))
    return render(request, "statements/list.html", {"access": request.access, "page": page, "base": "org"})


@org_view(Perm.FINANCE, kinds={OrgKind.LICENSOR})
def statement_detail(request: HttpRequest, statement_id: str) -> HttpResponse:
    return _render_detail(request, get_object_or_404(_mine(request), public_id=statement_id), "org")


@org_view(Perm.FINANCE, kinds={OrgKind.LICENSOR})
def statement_download(request: HttpRequest, statement_id: str, kind: str) -> HttpResponse:
    return _download(get_object_or_404(_mine(request), public_id=statement_id), kind)


@staff_required
def staff_statement_list(request: HttpRequest) -> HttpResponse:
    statements = RoyaltyStatement.objects.select_related("organisation")
    page = Paginator(statements, 50).get_page(request.GET.get("page"))
    return render(request, "statements/list.html", {"page": page, "base": "staff"})


@staff_required
def staff_statement_detail(request: HttpRequest, statement_id: str) -> HttpResponse:
    statement = get_object_or_404(RoyaltyStatement.objects.select_related("organisation"), public_id=statement_id)
    return _render_detail(request, statement, "staff")


@staff_required
def staff_statement_download(request: HttpRequest, statement_id: str, kind: str) -> HttpResponse:
    return _download(get_object_or_404(RoyaltyStatement, public_id=statement_id), kind)
