"""Endpoints, deliveries and takedown notices."""

from django.db import models

from marketplace.ids import new_endpoint_id, new_message_id, new_notice_id

EVENT_TYPES = {
    "licence.issued": "A licence was issued to you",
    "licence.expiring": "A licence ends within seven days",
    "licence.expired": "A licence has ended",
    "asset.withdrawn": "Assets you licensed were withdrawn (takedown)",
    "usage.rated": "Usage was rated into charges",
    "usage.cap_reached": "Usage passed the licence's cap; usage past it is recorded but not charged",
    "invoice.issued": "An invoice was issued",
}


class WebhookEndpoint(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=new_endpoint_id, editable=False)
    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100, help_text="whsec_… shared with the receiver; signs every delivery.")
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One message to one endpoint. ``message_id`` is the webhook-id header: stable across retries."""

    message_id = models.CharField(max_length=24, unique=True, default=new_message_id, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("events.DomainEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"], condition=models.Q(event__isnull=False), name="webhooks_delivery_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.type}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"


class TakedownNotice(models.Model):
    """A withdrawal as it concerns one licence; the licensee acknowledges it through the API."""

    public_id = models.CharField(max_length=24, unique=True, default=new_notice_id, editable=False)
    withdrawal = models.ForeignKey("catalog.Withdrawal", on_delete=models.PROTECT, related_name="notices")
    licence = models.ForeignKey("licensing.Licence", on_delete=models.PROTECT, related_name="takedown_notices")
    asset_count = models.BigIntegerField()
    manifest_version = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=100, blank=True, default="", help_text="API key or user.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["withdrawal", "licence"], name="webhooks_notice_once"),
        ]

    def __str__(self) -> str:
        return self.public_id
