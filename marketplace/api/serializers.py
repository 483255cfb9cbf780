"""Request and response shapes. Input serializers only validate; services decide."""

from __future__ import annotations

from rest_framework import serializers

from marketplace.catalog.models import Asset, Corpus, OfferVersion
from marketplace.invoicing.models import Invoice, InvoiceLine
from marketplace.licensing.models import Certificate, Licence, Order, Quote
from marketplace.webhooks.models import EVENT_TYPES, TakedownNotice, WebhookDelivery, WebhookEndpoint


class MoneyField(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Minor units (cents).")
    currency = serializers.CharField()


class OfferSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="offer_id", help_text="Quote this id.")
    name = serializers.CharField(help_text="This version's name.")
    version = serializers.IntegerField(source="number")
    corpus = serializers.SlugRelatedField(source="offer.corpus", slug_field="slug", read_only=True)

    class Meta:
        model = OfferVersion
        fields = [
            "id",
            "name",
            "version",
            "corpus",
            "permitted_uses",
            "term_months",
            "territory",
            "exclusive",
            "attribution",
            "output_restrictions",
            "no_identifiable_replicas",
            "no_verbatim_scenes",
            "no_derivative_works",
            "commission_bp",
            "currency",
            "price_plan",
            "published_at",
        ]


class CorpusSerializer(serializers.ModelSerializer):
    licensor = serializers.CharField(source="organisation.name")
    total_hours = serializers.DecimalField(max_digits=18, decimal_places=3)
    price_per_hour_from = serializers.IntegerField(allow_null=True, help_text="Minor units, at 1,000 hours.")

    class Meta:
        model = Corpus
        fields = [
            "slug",
            "title",
            "description",
            "licensor",
            "modality",
            "languages",
            "genres",
            "content_rating",
            "territory",
            "chain_of_title",
            "asset_count",
            "total_hours",
            "total_bytes",
            "price_per_hour_from",
            "price_currency",
            "published_at",
        ]


class CorpusDetailSerializer(CorpusSerializer):
    """Schema only: the view adds the live offers."""

    offers = OfferSerializer(many=True, read_only=True)

    class Meta(CorpusSerializer.Meta):
        fields = [*CorpusSerializer.Meta.fields, "offers"]


class AssetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Asset
        fields = [
            "id",
            "external_id",
            "title",
            "duration_seconds",
            "width",
            "height",
            "fps",
            "codec",
            "size_bytes",
            "sha256",
            "language",
            "rights_expiry",
            "territories",
            "clip_exclusions",
        ]


class QuoteInput(serializers.Serializer):
    offer = serializers.IntegerField(help_text="An offer id from the catalogue.")
    scope = serializers.JSONField(
        required=False,
        help_text='{"type": "corpus"} (default) or {"type": "filter", "filters": {"languages": ["en"], '
        '"min_duration_seconds": 10, "max_duration_seconds": 600, "codecs": ["h264"], "min_height": 1080, '
        '"territory": "FR", "external_ids": ["…"]}}',
    )


class QuoteSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    offer = serializers.IntegerField(source="offer_version.offer_id")
    offer_version = serializers.IntegerField(source="offer_version.number")
    corpus = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Quote
        fields = [
            "id",
            "offer",
            "offer_version",
            "corpus",
            "scope",
            "asset_count",
            "total_seconds",
            "total_bytes",
            "currency",
            "due_now",
            "breakdown",
            "expires_at",
            "created_at",
        ]


class OrderInput(serializers.Serializer):
    quote = serializers.CharField(help_text="The quote's id (quo_…).")
    payment_method = serializers.ChoiceField(choices=["card", "account"])


class OrderSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    quote = serializers.CharField(source="quote.public_id")
    licence = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "quote",
            "payment_method",
            "status",
            "amount",
            "currency",
            "licence",
            "created_at",
            "completed_at",
        ]

    def get_licence(self, order) -> str | None:
        licence = getattr(order, "licence", None)
        return licence.public_id if licence else None


class OrderCreatedSerializer(OrderSerializer):
    client_secret = serializers.CharField(
        allow_null=True, help_text="For card payments: confirm the PaymentIntent with Stripe.js using this."
    )

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "client_secret"]


class LicenceSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    licensor = serializers.CharField(source="licensor.name")
    corpus = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    offer = serializers.IntegerField(source="offer_version.offer_id")
    offer_version = serializers.IntegerField(source="offer_version.number")
    order = serializers.CharField(source="order.public_id")

    class Meta:
        model = Licence
        fields = [
            "id",
            "status",
            "licensor",
            "corpus",
            "offer",
            "offer_version",
            "order",
            "scope",
            "terms_hash",
            "starts_at",
            "ends_at",
            "created_at",
        ]


class CertificateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Certificate
        fields = ["document"]

    def to_representation(self, instance):
        return instance.document


class ManifestItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    duration_seconds = serializers.DecimalField(max_digits=12, decimal_places=3)
    clip_exclusions = serializers.JSONField()
    download_url = serializers.URLField()
    download_expires_at = serializers.DateTimeField()


class UsageEventInput(serializers.Serializer):
    event_id = serializers.CharField(max_length=200)
    licence = serializers.CharField()
    asset = serializers.IntegerField(required=False, allow_null=True)
    metric = serializers.ChoiceField(
        choices=["seconds_delivered", "bytes_delivered", "assets_delivered", "training_hours"]
    )
    quantity = serializers.DecimalField(max_digits=24, decimal_places=6)
    occurred_at = serializers.DateTimeField()


class UsageBatchInput(serializers.Serializer):
    events = UsageEventInput(many=True, min_length=1, max_length=10_000, help_text="1 to 10,000 events.")


class UsageItemError(serializers.Serializer):
    index = serializers.IntegerField()
    event_id = serializers.CharField(allow_null=True)
    field = serializers.CharField()
    message = serializers.CharField()


class UsageBatchResult(serializers.Serializer):
    received = serializers.IntegerField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = UsageItemError(many=True)


class UsageSummaryRow(serializers.Serializer):
    licence = serializers.CharField(source="licence__public_id")
    metric = serializers.CharField()
    day = serializers.DateField()
    quantity = serializers.DecimalField(max_digits=30, decimal_places=6)
    events = serializers.IntegerField()


class UsageSummary(serializers.Serializer):
    results = UsageSummaryRow(many=True)
    truncated = serializers.BooleanField(help_text="More rows matched than were returned; narrow the dates.")


class WebhookEndpointInput(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(EVENT_TYPES)), min_length=1)


class WebhookEndpointUpdate(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENT_TYPES)), min_length=1, required=False
    )
    active = serializers.BooleanField(required=False)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "created_at"]


class WebhookEndpointWithSecret(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="Verify signatures with this (Standard Webhooks, whsec_…).")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="message_id")
    endpoint = serializers.CharField(source="endpoint.public_id")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "type",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "payload",
            "created_at",
        ]


class TakedownSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    licence = serializers.CharField(source="licence.public_id")
    reason = serializers.CharField(source="withdrawal.reason")
    withdrawn_at = serializers.DateTimeField(source="withdrawal.created_at")

    class Meta:
        model = TakedownNotice
        fields = [
            "id",
            "licence",
            "asset_count",
            "manifest_version",
            "reason",
            "withdrawn_at",
            "acknowledged_at",
            "created_at",
        ]


class Problem(serializers.Serializer):
    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.JSONField(required=False)


class InvoiceLineSerializer(serializers.ModelSerializer):
    licence = serializers.CharField(source="licence.public_id", allow_null=True, default=None)
    quantity = serializers.DecimalField(max_digits=30, decimal_places=6, allow_null=True)

    class Meta:
        model = InvoiceLine
        fields = ["position", "kind", "licence", "description", "metric", "quantity", "amount", "tax", "entry_ids"]


class InvoiceSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    period = serializers.SerializerMethodField()
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = ["id", "number", "period", "currency", "status", "subtotal", "tax_rate_bp", "tax", "total",
                  "payment_reference", "issued_at", "due_at", "lines"]  # fmt: skip

    def get_period(self, invoice) -> str:
        return invoice.period.isoformat()[:7]


class InvoicePaymentSerializer(serializers.Serializer):
    client_secret = serializers.CharField(help_text="Confirm it with Stripe.js; the invoice is paid on success.")
    amount = serializers.IntegerField(help_text="Minor units still due.")
    currency = serializers.CharField()
