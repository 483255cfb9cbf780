"""Developer pages for licensee admins: API keys, webhook endpoints and their delivery log."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from marketplace.api.forms import ApiKeyForm, EndpointForm
from marketplace.api.keys import api_key_create, api_key_revoke
from marketplace.api.models import ApiKey
from marketplace.orgs.access import Perm, org_view
from marketplace.orgs.views import form_errors
from marketplace.webhooks import services as webhooks
from marketplace.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


def _endpoint(request: HttpRequest, endpoint_id: str) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, public_id=endpoint_id, organisation=request.access.organisation)


def _to_index(request: HttpRequest) -> HttpResponse:
    return redirect("developers:index", org_slug=request.access.organisation.slug)


@never_cache
@org_view(Perm.MANAGE_API)
def index(request: HttpRequest) -> HttpResponse:
    """Keys and endpoints. Creating a key answers with the secret, once, on a page that is never cached."""
    access = request.access
    form = ApiKeyForm()
    if request.method == "POST":
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            try:
                key, secret = api_key_create(access=access, name=form.cleaned_data["name"])
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                return render(request, "developers/key_created.html", {"access": access, "key": key, "secret": secret})
    org = access.organisation
    return render(
        request,
        "developers/index.html",
        {
            "access": access,
            "form": form,
            "keys": ApiKey.objects.filter(organisation=org).select_related("created_by"),
            "endpoints": WebhookEndpoint.objects.filter(organisation=org),
        },
    )


@require_POST
@org_view(Perm.MANAGE_API)
def key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    get_object_or_404(ApiKey, public_id=key_id, organisation=request.access.organisation)
    key = api_key_revoke(access=request.access, key_id=key_id)
    messages.success(request, f"The key “{key.name}” ({key.prefix}…) is revoked; calls with it now get 401.")
    return _to_index(request)


@org_view(Perm.MANAGE_API)
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm()
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint = webhooks.endpoint_create(organisation=request.access.organisation, **form.cleaned_data)
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                messages.success(request, "Endpoint added. Use its signing secret to verify deliveries.")
                return redirect("developers:endpoint", org_slug=request.access.organisation.slug,
                                endpoint_id=endpoint.public_id)  # fmt: skip
    return render(request, "developers/endpoint_form.html", {"access": request.access, "form": form})


@never_cache
@org_view(Perm.MANAGE_API)
def endpoint_detail(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).prefetch_related("attempt_log")
    status = request.GET.get("status", "")
    if status:
        deliveries = deliveries.filter(status=status)
    return render(
        request,
        "developers/endpoint.html",
        {
            "access": request.access,
            "endpoint": endpoint,
            "secrets": webhooks.active_secrets(endpoint),
            "status": status,
            "statuses": DeliveryStatus.choices,
            "query": f"status={status}" if status else "",
            "page": Paginator(deliveries, 25).get_page(request.GET.get("page")),
        },
    )


@require_POST
@org_view(Perm.MANAGE_API)
def endpoint_rotate(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = webhooks.endpoint_rotate_secret(endpoint=_endpoint(request, endpoint_id))
    messages.success(request, "New signing secret. The previous one keeps signing alongside it for 24 hours.")
    return redirect("developers:endpoint", org_slug=request.access.organisation.slug, endpoint_id=endpoint.public_id)


@require_POST
@org_view(Perm.MANAGE_API)
def endpoint_toggle(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    endpoint = webhooks.endpoint_update(endpoint=endpoint, active=not endpoint.active)
    messages.success(request, "Endpoint enabled." if endpoint.active else "Endpoint disabled; nothing is sent to it.")
    return redirect("developers:endpoint", org_slug=request.access.organisation.slug, endpoint_id=endpoint.public_id)


@require_POST
@org_view(Perm.MANAGE_API)
def delivery_replay(request: HttpRequest, delivery_id: str) -> HttpResponse:
    delivery = get_object_or_404(
        WebhookDelivery, message_id=delivery_id, endpoint__organisation=request.access.organisation
    )
    webhooks.delivery_replay(delivery=delivery)
    messages.success(request, f"Delivery {delivery.message_id} is queued to be sent again.")
    return redirect(
        "developers:endpoint", org_slug=request.access.organisation.slug, endpoint_id=delivery.endpoint.public_id
    )
