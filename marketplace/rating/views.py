"""Explain every number: charges for both sides of a licence, drilled down to the run, the quantities, the plan
and tier applied, and the raw events (page and CSV). The operator's finance staff see every charge."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from marketplace.finance.views import staff_required
from marketplace.orgs.access import Perm, org_view
from marketplace.orgs.models import TRADING_KINDS, OrgKind
from marketplace.rating.explain import EVENT_COLUMNS, charge_events, charge_recompute, event_rows, owners_label
from marketplace.rating.models import RatingCharge, RatingLine
from marketplace.web.csv_stream import csv_response

_RELATED = ("run", "licence__corpus", "licensee", "licensor")


def _charges(request: HttpRequest):
    """Charges on the organisation's licences, or that its royalty statements cite (co-owners)."""
    from marketplace.statements.models import StatementLine

    org = request.access.organisation
    cited = StatementLine.objects.filter(statement__organisation=org, charge__isnull=False).values("charge_id")
    return RatingCharge.objects.filter(Q(licensor=org) | Q(licensee=org) | Q(pk__in=cited)).select_related(*_RELATED)


@org_view(Perm.FINANCE, kinds=TRADING_KINDS)
def charge_list(request: HttpRequest) -> HttpResponse:
    charges = _charges(request)
    period = request.GET.get("period", "")
    if period:
        charges = charges.filter(billing_period__startswith=period[:7])
    flagged = RatingLine.objects.filter(charge__in=_charges(request)).exclude(flag="").select_related("charge__licence")
    return render(
        request,
        "rating/charge_list.html",
        {
            "access": request.access,
            "selling": request.access.organisation.kind == OrgKind.LICENSOR,
            "period": period,
            "query": f"period={period}" if period else "",
            "totals": charges.values("currency").annotate(amount=Sum("amount")).order_by("currency"),
            "page": Paginator(charges, 50).get_page(request.GET.get("page")),
            "flagged": flagged.order_by("-id")[:50],
        },
    )


def _detail(request: HttpRequest, charge: RatingCharge, base: str) -> HttpResponse:
    lines = list(charge.lines.all())
    for line in lines:
        line.owners_label = owners_label(line.owners)  # type: ignore[attr-defined]
    return render(
        request,
        "rating/charge_detail.html",
        {
            "access": getattr(request, "access", None),
            "charge": charge,
            "lines": lines,
            "events": charge_events(charge).select_related("asset")[:50],
            "recomputed": charge_recompute(charge),
            "base": base,
        },
    )


@org_view(Perm.FINANCE, kinds=TRADING_KINDS)
def charge_detail(request: HttpRequest, charge_id: int) -> HttpResponse:
    return _detail(request, get_object_or_404(_charges(request), pk=charge_id), "org")


@org_view(Perm.FINANCE, kinds=TRADING_KINDS)
def charge_events_csv(request: HttpRequest, charge_id: int) -> HttpResponse:
    charge = get_object_or_404(_charges(request), pk=charge_id)
    return csv_response(event_rows(charge), EVENT_COLUMNS, f"charge-{charge.pk}-events.csv")


@staff_required
def staff_charge_detail(request: HttpRequest, charge_id: int) -> HttpResponse:
    return _detail(request, get_object_or_404(RatingCharge.objects.select_related(*_RELATED), pk=charge_id), "staff")


@staff_required
def staff_charge_events_csv(request: HttpRequest, charge_id: int) -> HttpResponse:
    charge = get_object_or_404(RatingCharge.objects.select_related(*_RELATED), pk=charge_id)
    return csv_response(event_rows(charge), EVENT_COLUMNS, f"charge-{charge.pk}-events.csv")


@staff_required
def staff_flagged_usage(request: HttpRequest) -> HttpResponse:
    """The operator's view of usage that was recorded but could not be charged normally."""
    lines = RatingLine.objects.exclude(flag="").select_related(
        "charge__licence", "charge__licensee", "charge__licensor"
    )
    return render(
        request,
        "rating/flagged_usage.html",
        {"page": Paginator(lines.order_by("-id"), 50).get_page(request.GET.get("page"))},
    )
