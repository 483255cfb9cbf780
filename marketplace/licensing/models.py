"""Quotes, orders, licences and their certificates."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from marketplace.ids import new_certificate_id, new_licence_id, new_order_id, new_quote_id


class Quote(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=new_quote_id, editable=False)
    licensee = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="quotes")
    offer_version = models.ForeignKey("catalog.OfferVersion", on_delete=models.PROTECT, related_name="quotes")
    corpus = models.ForeignKey("catalog.Corpus", on_delete=models.PROTECT, related_name="quotes")
    scope = models.JSONField(help_text='{"type": "corpus"} or {"type": "filter", "filters": {...}}')
    asset_count = models.BigIntegerField()
    total_seconds = models.DecimalField(max_digits=18, decimal_places=3)
    total_bytes = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    breakdown = models.JSONField(help_text="Price lines from marketplace.pricing.")
    due_now = models.BigIntegerField(help_text="Minor units payable when ordering.")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.public_id


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card (Stripe)"
    ACCOUNT = "account", "On account (invoiced)"


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", "Waiting for payment"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Payment failed"
    CANCELLED = "cancelled", "Cancelled"


class Order(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=new_order_id, editable=False)
    licensee = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="orders")
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="order")
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    stripe_payment_intent = models.CharField(max_length=100, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="licensing_order_amount")]

    def __str__(self) -> str:
        return self.public_id


class LicenceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    EXPIRED = "expired", "Expired"
    TERMINATED = "terminated", "Terminated"


class Licence(models.Model):
    """The agreement: parties, frozen terms, scope, term. Only its status ever changes."""

    public_id = models.CharField(max_length=24, unique=True, default=new_licence_id, editable=False)
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="licence")
    licensee = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="licences")
    licensor = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="licences_granted")
    corpus = models.ForeignKey("catalog.Corpus", on_delete=models.PROTECT, related_name="licences")
    offer_version = models.ForeignKey("catalog.OfferVersion", on_delete=models.PROTECT, related_name="licences")
    scope = models.JSONField()
    terms_hash = models.CharField(max_length=64, help_text="SHA-256 of the canonical frozen terms.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=LicenceStatus.choices, default=LicenceStatus.ACTIVE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    expiring_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "ends_at"], name="licensing_licence_expiry_idx")]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="licensing_term")]

    def __str__(self) -> str:
        return self.public_id


class LicenceAsset(models.Model):
    """The assets a licence covers, frozen when it is issued (the Merkle tree's leaves)."""

    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey("catalog.Asset", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["licence", "asset"], name="licensing_licenceasset_uniq")]

    def __str__(self) -> str:
        return f"{self.licence_id}:{self.asset_id}"


class Certificate(models.Model):
    """A signed statement of a licence; reissued as a new version when assets are withdrawn."""

    public_id = models.CharField(max_length=24, unique=True, default=new_certificate_id, editable=False)
    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="certificates")
    version = models.PositiveIntegerField()
    document = models.JSONField(help_text="The signed payload, as signed.")
    signature = models.CharField(max_length=200, help_text="Base64 Ed25519 signature of the canonical payload.")
    key_id = models.CharField(max_length=40)
    merkle_root = models.CharField(max_length=64)
    leaf_count = models.BigIntegerField()
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["licence", "-version"]
        constraints = [models.UniqueConstraint(fields=["licence", "version"], name="licensing_certificate_version")]

    def __str__(self) -> str:
        return f"{self.public_id} v{self.version}"
