"""API views. Thin: validate, call a service or selector, serialize."""

from __future__ import annotations

import datetime as dt

from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularRedocView
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.money import CURRENCY_EXPONENTS
from marketplace.api import serializers as s
from marketplace.api.auth import IsLicensee, caller_label
from marketplace.api.errors import problem_response
from marketplace.api.idempotency import idempotent
from marketplace.api.pagination import Cursor, CursorById
from marketplace.catalog.models import Corpus, CorpusStatus, OfferStatus, OfferVersion
from marketplace.catalog.selectors import (
    MAX_FILTER_HOURS,
    MAX_FILTER_PRICE,
    CatalogueFilters,
    filter_number,
    live_offer_versions,
    public_corpora,
)
from marketplace.catalog.vocab import GENRES, PERMITTED_USES
from marketplace.invoicing import documents as invoice_documents
from marketplace.invoicing.models import Invoice
from marketplace.licensing import certificates, croissant, delivery
from marketplace.licensing import services as licensing
from marketplace.licensing.models import Certificate, Licence, Order, Quote
from marketplace.licensing.scope import scope_assets
from marketplace.licensing.signing import jwks
from marketplace.usage.services import usage_ingest, usage_summary
from marketplace.webhooks import services as webhooks
from marketplace.webhooks.models import TakedownNotice, WebhookDelivery, WebhookEndpoint

# --- catalogue ---------------------------------------------------------------------------------


class RedocView(SpectacularRedocView):
    """Redoc from the project's own files. Its side menu links a logo on Redocly's CDN, with no setting to turn it
    off: the policy stops the request, and Redoc hides an image that fails to load."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:"
        )
        return response


class CatalogueCursor(Cursor):
    ordering = ("-published_at", "-id")


@extend_schema(
    tags=["catalogue"],
    parameters=[
        OpenApiParameter("q", str, description="Full-text search in titles and descriptions."),
        OpenApiParameter("language", str, description="BCP 47 tag, e.g. en."),
        OpenApiParameter("genre", str, enum=list(GENRES)),
        OpenApiParameter("use", str, enum=list(PERMITTED_USES), description="A permitted use of some offer."),
        OpenApiParameter("territory", str, description="ISO 3166-1 alpha-2 code."),
        OpenApiParameter("min_hours", float),
        OpenApiParameter("max_price_per_hour", int, description="Minor units, in `currency`."),
        OpenApiParameter("currency", str),
    ],
    responses={200: s.CorpusSerializer(many=True)},
)
class CorpusList(generics.ListAPIView):
    """Published corpora, newest first."""

    serializer_class = s.CorpusSerializer
    pagination_class = CatalogueCursor

    def get_queryset(self):
        from rest_framework.exceptions import ValidationError

        p = self.request.query_params
        filters = CatalogueFilters(
            q=p.get("q", "")[:200],
            language=p.get("language", "")[:35],
            genre=p.get("genre", ""),
            use=p.get("use", ""),
            territory=p.get("territory", "")[:2],
            currency=p.get("currency", "")[:3].upper(),
        )
        errors = {}
        if p.get("min_hours"):
            filters.min_hours = filter_number(p["min_hours"], MAX_FILTER_HOURS)
            if filters.min_hours is None:
                errors["min_hours"] = [f"Give a number of hours from 0 to {MAX_FILTER_HOURS:,}."]
        if p.get("max_price_per_hour"):
            price = filter_number(p["max_price_per_hour"], MAX_FILTER_PRICE * 10_000)
            if price is None or price != price.to_integral_value():
                errors["max_price_per_hour"] = ["Give a whole number of minor units."]
            else:
                filters.max_price_per_hour = int(price)
        if filters.currency and filters.currency not in CURRENCY_EXPONENTS:
            errors["currency"] = ["Give an ISO 4217 currency code, such as EUR."]
        if errors:
            raise ValidationError(errors)
        if filters.genre and filters.genre not in GENRES:
            raise ValidationError({"genre": [f"Use one of: {', '.join(GENRES)}."]})
        if filters.use and filters.use not in PERMITTED_USES:
            raise ValidationError({"use": [f"Use one of: {', '.join(PERMITTED_USES)}."]})
        return public_corpora(filters)


def _public_corpus(slug: str) -> Corpus:
    corpus = public_corpora(CatalogueFilters()).filter(slug=slug).first()
    if corpus is None:
        raise Http404("No such corpus in the catalogue")
    return corpus


@extend_schema(tags=["catalogue"], responses={200: s.CorpusDetailSerializer})
class CorpusDetail(APIView):
    """A corpus with its live offers."""

    def get(self, request, slug: str):
        corpus = _public_corpus(slug)
        data = s.CorpusSerializer(corpus).data
        data["offers"] = s.OfferSerializer(live_offer_versions(corpus), many=True).data
        return Response(data)


@extend_schema(
    tags=["catalogue"],
    parameters=[
        OpenApiParameter("language", str),
        OpenApiParameter("codec", str),
        OpenApiParameter("min_duration_seconds", float),
    ],
    responses={200: s.AssetSerializer(many=True)},
)
class CorpusAssets(generics.ListAPIView):
    """The corpus' active assets, by id, with cursors."""

    serializer_class = s.AssetSerializer
    pagination_class = CursorById

    def get_queryset(self):
        from rest_framework.exceptions import ValidationError

        from marketplace.licensing.scope import clean_scope

        corpus = _public_corpus(self.kwargs["slug"])
        p = self.request.query_params
        filters = {}
        if p.get("language"):
            filters["languages"] = [p["language"]]
        if p.get("codec"):
            filters["codecs"] = [p["codec"]]
        if p.get("min_duration_seconds"):
            filters["min_duration_seconds"] = p["min_duration_seconds"]
        try:
            scope = clean_scope({"type": "filter", "filters": filters}) if filters else {"type": "corpus"}
        except Exception as exc:
            raise ValidationError(getattr(exc, "message_dict", {"filters": [str(exc)]})) from None
        return scope_assets(corpus, scope)


@extend_schema(
    tags=["catalogue"],
    parameters=[
        OpenApiParameter("corpus", str),
        OpenApiParameter("use", str, enum=list(PERMITTED_USES)),
        OpenApiParameter("currency", str),
    ],
    responses={200: s.OfferSerializer(many=True)},
)
class OfferList(generics.ListAPIView):
    """Live offers across the catalogue (the current version of each published offer)."""

    serializer_class = s.OfferSerializer
    pagination_class = CursorById

    def get_queryset(self):
        from django.db.models import Max, OuterRef, Subquery

        from marketplace.catalog.selectors import json_list_contains

        latest = (
            OfferVersion.objects.filter(offer=OuterRef("offer"), published=True)
            .values("offer")
            .annotate(m=Max("number"))
            .values("m")
        )
        versions = OfferVersion.objects.filter(
            published=True,
            offer__status=OfferStatus.PUBLISHED,
            offer__corpus__status=CorpusStatus.PUBLISHED,
            number=Subquery(latest),
        ).select_related("offer__corpus")
        p = self.request.query_params
        if p.get("corpus"):
            versions = versions.filter(offer__corpus__slug=p["corpus"])
        if p.get("use"):
            versions = versions.filter(json_list_contains("permitted_uses", p["use"]))
        if p.get("currency"):
            versions = versions.filter(currency=p["currency"].upper())
        return versions


# --- buying ------------------------------------------------------------------------------------


class LicenseeView:
    permission_classes = [IsLicensee]


@extend_schema(tags=["buying"])
class QuoteListCreate(LicenseeView, generics.ListAPIView):
    serializer_class = s.QuoteSerializer

    def get_queryset(self):
        return Quote.objects.filter(licensee=self.request.organisation).select_related("offer_version", "corpus")

    @extend_schema(
        request=s.QuoteInput,
        responses={201: s.QuoteSerializer},
        examples=[OpenApiExample("Whole corpus", value={"offer": 12, "scope": {"type": "corpus"}}, request_only=True)],
    )
    @idempotent()
    def post(self, request):
        """Price an offer for a scope; the quote can be ordered until it expires."""
        data = s.QuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = licensing.quote_create(
            licensee=request.organisation, offer_id=data.validated_data["offer"], scope=data.validated_data.get("scope")
        )
        return Response(s.QuoteSerializer(quote).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["buying"], responses={200: s.QuoteSerializer})
class QuoteDetail(LicenseeView, generics.RetrieveAPIView):
    serializer_class = s.QuoteSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "quote_id"

    def get_queryset(self):
        return Quote.objects.filter(licensee=self.request.organisation)


@extend_schema(tags=["buying"])
class OrderListCreate(LicenseeView, generics.ListAPIView):
    serializer_class = s.OrderSerializer

    def get_queryset(self):
        return Order.objects.filter(licensee=self.request.organisation).select_related("quote", "licence")

    @extend_schema(
        request=s.OrderInput,
        responses={201: s.OrderCreatedSerializer},
    )
    @idempotent(required=True)
    def post(self, request):
        """Order a quote, on account (licence issued at once) or by card (issued when the payment succeeds)."""
        data = s.OrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        order, client_secret = licensing.order_create(
            licensee=request.organisation,
            quote_id=data.validated_data["quote"],
            payment_method=data.validated_data["payment_method"],
        )
        order = Order.objects.select_related("quote", "licence").get(pk=order.pk)
        body = s.OrderSerializer(order).data | {"client_secret": client_secret}
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["buying"], responses={200: s.OrderSerializer})
class OrderDetail(LicenseeView, generics.RetrieveAPIView):
    serializer_class = s.OrderSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "order_id"

    def get_queryset(self):
        return Order.objects.filter(licensee=self.request.organisation).select_related("quote", "licence")


# --- licences, certificates, delivery ------------------------------------------------------------


def _licence(request, licence_id: str) -> Licence:
    return get_object_or_404(
        Licence.objects.select_related("corpus", "licensor", "offer_version", "order"),
        public_id=licence_id,
        licensee=request.organisation,
    )


@extend_schema(tags=["licences"], responses={200: s.LicenceSerializer(many=True)})
class LicenceList(LicenseeView, generics.ListAPIView):
    serializer_class = s.LicenceSerializer

    def get_queryset(self):
        return Licence.objects.filter(licensee=self.request.organisation).select_related(
            "corpus", "licensor", "offer_version", "order"
        )


@extend_schema(tags=["licences"], responses={200: s.LicenceSerializer})
class LicenceDetail(LicenseeView, APIView):
    def get(self, request, licence_id: str):
        return Response(s.LicenceSerializer(_licence(request, licence_id)).data)


@extend_schema(
    tags=["licences"],
    parameters=[OpenApiParameter("version", int, description="A certificate version; the latest by default.")],
    responses={
        200: OpenApiResponse(OpenApiTypes.OBJECT, description="The signed certificate (see docs/api.md)."),
    },
)
class LicenceCertificate(LicenseeView, APIView):
    """The licence's signed certificate of lawful sourcing."""

    def get(self, request, licence_id: str):
        licence = _licence(request, licence_id)
        certs = Certificate.objects.filter(licence=licence)
        version = request.query_params.get("version")
        cert = (
            certs.filter(version=int(version)).first()
            if version and version.isdigit()
            else certs.order_by("-version").first()
        )
        if cert is None:
            raise Http404("No such certificate version")
        return Response(cert.document)


@extend_schema(
    tags=["licences"],
    parameters=[
        OpenApiParameter("sha256", str, required=True, description="The file's SHA-256, 64 hex characters."),
        OpenApiParameter("version", int, description="Certificate version; the latest by default."),
    ],
    responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="Merkle inclusion proof.")},
)
class LicenceProof(LicenseeView, APIView):
    """The Merkle inclusion proof that one file is covered by the licence's certificate."""

    def get(self, request, licence_id: str):
        from rest_framework.exceptions import ValidationError

        licence = _licence(request, licence_id)
        digest = request.query_params.get("sha256", "").lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValidationError({"sha256": ["Give the file's SHA-256 as 64 hexadecimal characters."]})
        certs = Certificate.objects.filter(licence=licence)
        version = request.query_params.get("version")
        cert = (
            certs.filter(version=int(version)).first()
            if version and version.isdigit()
            else certs.order_by("-version").first()
        )
        if cert is None:
            raise Http404("No such certificate version")
        proof = certificates.inclusion_proof(cert, digest)
        if proof is None:
            raise Http404(f"Certificate version {cert.version} does not cover a file with this SHA-256.")
        return Response(proof)


class ManifestCursor(CursorById):
    page_size = 100
    max_page_size = 1000


@extend_schema(tags=["delivery"], responses={200: s.ManifestItemSerializer(many=True)})
class LicenceManifest(LicenseeView, generics.ListAPIView):
    """The files you may download under the licence, with expiring signed links.

    Withdrawn files leave the manifest; `manifest_version` changes whenever that happens.
    """

    pagination_class = ManifestCursor
    serializer_class = s.ManifestItemSerializer

    def list(self, request, *args, **kwargs):
        licence = _licence(request, kwargs["licence_id"])
        page = self.paginate_queryset(delivery.manifest_assets(licence))
        items = []
        for asset in page:
            token, expires = delivery.link_token(licence, asset.pk)
            items.append(
                {
                    "id": asset.pk,
                    "external_id": asset.external_id,
                    "title": asset.title,
                    "sha256": asset.sha256,
                    "size_bytes": asset.size_bytes,
                    "duration_seconds": asset.duration_seconds,
                    "clip_exclusions": asset.clip_exclusions,
                    "download_url": request.build_absolute_uri(f"/api/v1/downloads/{token}"),
                    "download_expires_at": expires,
                }
            )
        response = self.get_paginated_response(s.ManifestItemSerializer(items, many=True).data)
        response.data["manifest_version"] = delivery.manifest_version(licence)
        response.data["licence"] = licence.public_id
        return response


@extend_schema(
    tags=["delivery"],
    responses={
        (200, "application/ld+json"): OpenApiResponse(
            OpenApiTypes.OBJECT, description="Croissant 1.0 JSON-LD: the manifest's records and the licence terms."
        )
    },
)
class LicenceCroissant(LicenseeView, APIView):
    """The manifest as Croissant JSON-LD with the licence terms, for `mlcroissant` and other ML data tools.

    Its `manifest.csv` file is fetched with the same API key; tools that only send HTTP Basic auth can use
    the key as the user name with an empty password.
    """

    def get(self, request, licence_id: str):
        licence = _licence(request, licence_id)
        document = croissant.croissant_document(
            licence,
            api_base=request.build_absolute_uri("/api/v1").rstrip("/"),
            keys_url=request.build_absolute_uri("/.well-known/clearframe-keys.json"),
        )
        return JsonResponse(document, content_type="application/ld+json", json_dumps_params={"indent": 1})


@extend_schema(
    tags=["delivery"],
    parameters=[
        OpenApiParameter("version", int, required=True, description="The manifest version the Croissant names.")
    ],
    responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per licensed file.")},
)
class LicenceManifestCsv(LicenseeView, APIView):
    """The manifest at one version, as the CSV a Croissant document points to. An older version is gone."""

    problem_statuses = (410,)

    def get(self, request, licence_id: str):
        from rest_framework.exceptions import ValidationError

        licence = _licence(request, licence_id)
        wanted = request.query_params.get("version", "")
        if not wanted.isdigit():
            raise ValidationError({"version": ["Give the manifest version from the Croissant document."]})
        current = delivery.manifest_version(licence)
        if int(wanted) != current:
            return problem_response(
                410,
                f"Manifest version {wanted} is no longer current (files were withdrawn; now {current}). "
                "Fetch the Croissant document again and delete withdrawn files.",
                kind="manifest-changed",
            )
        response = StreamingHttpResponse(croissant.manifest_csv(licence), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{licence.public_id}-manifest-v{current}.csv"'
        return response


@extend_schema(tags=["delivery"], responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
class Download(LicenseeView, APIView):
    """Stream one licensed file. Each successful download is metered as usage, once per link."""

    problem_statuses = (410, 503)

    def get(self, request, token: str):
        from marketplace.api.errors import problem

        try:
            download = delivery.download_open(licensee=request.organisation, token=token)
        except delivery.DeliveryRefused as exc:
            return JsonResponse(
                problem(exc.status, str(exc), kind="delivery"),
                status=exc.status,
                content_type="application/problem+json",
            )
        response = FileResponse(download.stream, as_attachment=True, filename=download.filename)
        response["Digest"] = f"sha-256={download.asset.sha256}"
        return response


# --- usage ---------------------------------------------------------------------------------------


@extend_schema(
    tags=["usage"],
    request=s.UsageBatchInput,
    responses={200: s.UsageBatchResult},
    examples=[
        OpenApiExample(
            "Two events",
            request_only=True,
            value={
                "events": [
                    {
                        "event_id": "run-42-step-1",
                        "licence": "lic_…",
                        "asset": 17,
                        "metric": "training_hours",
                        "quantity": "0.5",
                        "occurred_at": "2026-11-25T10:00:00Z",
                    },
                    {
                        "event_id": "run-42-step-2",
                        "licence": "lic_…",
                        "metric": "training_hours",
                        "quantity": "1.25",
                        "occurred_at": "2026-11-25T11:00:00Z",
                    },
                ]
            },
        ),
    ],
)
class UsageEvents(LicenseeView, APIView):
    """Report up to 10,000 usage events. Valid events are stored even when others fail; each event_id counts
    once, forever. The response counts accepted and duplicate events and lists per-item errors."""

    def post(self, request):
        from rest_framework.exceptions import ValidationError

        body = request.data
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list) or not events:
            raise ValidationError({"events": ['Send {"events": [...]} with 1 to 10,000 events.']})
        result = usage_ingest(licensee=request.organisation, events=events)
        if result.received == 0 and result.errors:
            raise ValidationError({"events": [e["message"] for e in result.errors]})
        return Response(
            {
                "received": result.received,
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "errors": result.errors,
            }
        )


SUMMARY_MAX_ROWS = 5000


@extend_schema(
    tags=["usage"],
    parameters=[
        OpenApiParameter("licence", str),
        OpenApiParameter("from", OpenApiTypes.DATE),
        OpenApiParameter("to", OpenApiTypes.DATE),
    ],
    responses={200: s.UsageSummary},
)
class UsageSummary(LicenseeView, APIView):
    """Totals per licence, metric and day (UTC). At most 5,000 rows; `truncated` says when a narrower
    date range is needed."""

    def get(self, request):
        from rest_framework.exceptions import ValidationError

        p = request.query_params
        try:
            date_from = dt.date.fromisoformat(p["from"]) if p.get("from") else None
            date_to = dt.date.fromisoformat(p["to"]) if p.get("to") else None
        except ValueError:
            raise ValidationError({"from": ["Dates are YYYY-MM-DD."]}) from None
        rows = usage_summary(
            licensee=request.organisation, licence_id=p.get("licence"), date_from=date_from, date_to=date_to
        )
        rows = list(rows[: SUMMARY_MAX_ROWS + 1])
        return Response(
            {
                "results": s.UsageSummaryRow(rows[:SUMMARY_MAX_ROWS], many=True).data,
                "truncated": len(rows) > SUMMARY_MAX_ROWS,
            }
        )


# --- webhooks and takedowns ------------------------------------------------------------------------


@extend_schema(tags=["webhooks"])
class EndpointListCreate(LicenseeView, generics.ListAPIView):
    serializer_class = s.WebhookEndpointSerializer

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(organisation=self.request.organisation)

    @extend_schema(request=s.WebhookEndpointInput, responses={201: s.WebhookEndpointWithSecret})
    @idempotent()
    def post(self, request):
        """Register an endpoint. The response holds its signing secret."""
        data = s.WebhookEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhooks.endpoint_create(organisation=request.organisation, **data.validated_data)
        return Response(s.WebhookEndpointWithSecret(endpoint).data, status=status.HTTP_201_CREATED)


def _endpoint(request, endpoint_id: str) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, public_id=endpoint_id, organisation=request.organisation)


@extend_schema(tags=["webhooks"])
class EndpointDetail(LicenseeView, APIView):
    @extend_schema(responses={200: s.WebhookEndpointSerializer})
    def get(self, request, endpoint_id: str):
        return Response(s.WebhookEndpointSerializer(_endpoint(request, endpoint_id)).data)

    @extend_schema(request=s.WebhookEndpointUpdate, responses={200: s.WebhookEndpointSerializer})
    def patch(self, request, endpoint_id: str):
        endpoint = _endpoint(request, endpoint_id)
        data = s.WebhookEndpointUpdate(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            s.WebhookEndpointSerializer(webhooks.endpoint_update(endpoint=endpoint, **data.validated_data)).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, endpoint_id: str):
        webhooks.endpoint_update(endpoint=_endpoint(request, endpoint_id), active=False)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"], request=None, responses={200: s.WebhookEndpointWithSecret})
class EndpointRotateSecret(LicenseeView, APIView):
    """A new signing secret; the old one also signs for 24 hours."""

    def post(self, request, endpoint_id: str):
        endpoint = webhooks.endpoint_rotate_secret(endpoint=_endpoint(request, endpoint_id))
        return Response(s.WebhookEndpointWithSecret(endpoint).data)


@extend_schema(tags=["webhooks"], responses={200: s.WebhookDeliverySerializer(many=True)})
class EndpointDeliveries(LicenseeView, generics.ListAPIView):
    """Deliveries to an endpoint, newest first, with their response codes."""

    serializer_class = s.WebhookDeliverySerializer

    def get_queryset(self):
        return WebhookDelivery.objects.filter(
            endpoint=_endpoint(self.request, self.kwargs["endpoint_id"])
        ).select_related("endpoint")


@extend_schema(tags=["webhooks"], request=None, responses={202: s.WebhookDeliverySerializer})
class DeliveryReplay(LicenseeView, APIView):
    """Send a delivery again now."""

    def post(self, request, delivery_id: str):
        delivery = get_object_or_404(
            WebhookDelivery, message_id=delivery_id, endpoint__organisation=request.organisation
        )
        delivery = webhooks.delivery_replay(delivery=delivery)
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["takedowns"], responses={200: s.TakedownSerializer(many=True)})
class TakedownList(LicenseeView, generics.ListAPIView):
    """Withdrawals that concern your licences."""

    serializer_class = s.TakedownSerializer

    def get_queryset(self):
        return webhooks.notices_for(self.request.organisation)


@extend_schema(tags=["takedowns"], request=None, responses={200: s.TakedownSerializer})
class TakedownAcknowledge(LicenseeView, APIView):
    """Confirm that the withdrawn files were removed; the rights holder sees it."""

    def post(self, request, notice_id: str):
        notice = get_object_or_404(TakedownNotice, public_id=notice_id, licence__licensee=request.organisation)
        notice = webhooks.takedown_acknowledge(notice=notice, by=caller_label(request))
        return Response(s.TakedownSerializer(notice).data)


def well_known_keys(request):
    """The public keys that sign certificates (JWKS). Anyone may fetch them."""
    response = JsonResponse(jwks())
    response["Cache-Control"] = "public, max-age=3600"
    return response


class NewestFirst(Cursor):
    ordering = "-id"


def _invoice(request, invoice_id: str) -> Invoice:
    return get_object_or_404(Invoice, public_id=invoice_id, licensee=request.organisation)


@extend_schema(tags=["invoices"], responses={200: s.InvoiceSerializer(many=True)})
class InvoiceList(LicenseeView, generics.ListAPIView):
    """Your monthly invoices (for usage and licences bought on account), newest first."""

    serializer_class = s.InvoiceSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return Invoice.objects.filter(licensee=self.request.organisation).prefetch_related("lines__licence")


@extend_schema(tags=["invoices"], responses={200: s.InvoiceSerializer})
class InvoiceDetail(LicenseeView, APIView):
    def get(self, request, invoice_id: str):
        return Response(s.InvoiceSerializer(_invoice(request, invoice_id)).data)


@extend_schema(
    tags=["invoices"],
    responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The invoice as PDF.")},
)
class InvoicePdf(LicenseeView, APIView):
    def get(self, request, invoice_id: str):
        invoice = _invoice(request, invoice_id)
        response = HttpResponse(invoice_documents.invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        return response


@extend_schema(
    tags=["invoices"],
    responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per line, then totals.")},
)
class InvoiceCsv(LicenseeView, APIView):
    def get(self, request, invoice_id: str):
        invoice = _invoice(request, invoice_id)
        response = HttpResponse(invoice_documents.invoice_csv(invoice), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.csv"'
        return response


@extend_schema(tags=["invoices"], request=None, responses={201: s.InvoicePaymentSerializer})
class InvoicePay(LicenseeView, APIView):
    """Pay what is due on an invoice by card: returns a PaymentIntent client secret (or pay by bank transfer,
    quoting the invoice's payment reference)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        _invoice(request, kwargs["invoice_id"])  # another organisation's invoice is a 404 before anything else

    @idempotent(required=True)
    def post(self, request, invoice_id: str):
        from django.core.exceptions import ValidationError as DjangoValidationError
        from rest_framework.exceptions import ValidationError

        from marketplace.invoicing.services import invoice_pay_by_card

        invoice = _invoice(request, invoice_id)
        try:
            client_secret, due = invoice_pay_by_card(invoice=invoice)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        body = {"client_secret": client_secret, "amount": due, "currency": invoice.currency}
        return Response(s.InvoicePaymentSerializer(body).data, status=status.HTTP_201_CREATED)
