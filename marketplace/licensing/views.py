"""Licence pages for both sides: the licensee's licences and the licensor's sales, with certificates and takedowns."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from marketplace.licensing.certificates import terms_document
from marketplace.licensing.models import Certificate, Licence, LicenceStatus
from marketplace.orgs.access import Perm, org_view
from marketplace.orgs.models import TRADING_KINDS, OrgKind
from marketplace.webhooks import services as webhooks
from marketplace.webhooks.models import TakedownNotice


def _licences(request: HttpRequest):
    org = request.access.organisation
    return Licence.objects.filter(Q(licensee=org) | Q(licensor=org)).select_related(
        "licensee", "licensor", "corpus", "offer_version__offer", "order"
    )


def _licence(request: HttpRequest, licence_id: str) -> Licence:
    return get_object_or_404(_licences(request), public_id=licence_id)


@org_view(Perm.VIEW, kinds=TRADING_KINDS)
def licence_list(request: HttpRequest) -> HttpResponse:
    items = _licences(request)
    status = request.GET.get("status", "")
    if status:
        items = items.filter(status=status)
    return render(
        request,
        "licensing/licence_list.html",
        {
            "access": request.access,
            "selling": request.access.organisation.kind == OrgKind.LICENSOR,
            "status": status,
            "statuses": LicenceStatus.choices,
            "query": f"status={status}" if status else "",
            "page": Paginator(items, 50).get_page(request.GET.get("page")),
        },
    )


@org_view(Perm.VIEW, kinds=TRADING_KINDS)
def licence_detail(request: HttpRequest, licence_id: str) -> HttpResponse:
    licence = _licence(request, licence_id)
    return render(
        request,
        "licensing/licence_detail.html",
        {
            "access": request.access,
            "licence": licence,
            "can_acknowledge": licence.licensee_id == request.access.organisation.pk
            and request.access.can(Perm.MANAGE_API),
            "certificates": Certificate.objects.filter(licence=licence).order_by("-version"),
            "notices": TakedownNotice.objects.filter(licence=licence).select_related("withdrawal"),
            "terms": terms_document(licence),
        },
    )


@org_view(Perm.VIEW, kinds=TRADING_KINDS)
def certificate_download(request: HttpRequest, licence_id: str, version: int) -> HttpResponse:
    certificate = get_object_or_404(Certificate, licence=_licence(request, licence_id), version=version)
    response = HttpResponse(json.dumps(certificate.document, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{licence_id}-certificate-v{version}.json"'
    return response


@require_POST
@org_view(Perm.MANAGE_API)
def notice_acknowledge(request: HttpRequest, notice_id: str) -> HttpResponse:
    notice = get_object_or_404(TakedownNotice, public_id=notice_id, licence__licensee=request.access.organisation)
    webhooks.takedown_acknowledge(notice=notice, by=request.user.email or request.user.get_username())
    messages.success(request, "Takedown acknowledged; the rights holder can see it.")
    return redirect("licensing:licence", org_slug=request.access.organisation.slug, licence_id=notice.licence.public_id)
