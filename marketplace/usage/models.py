"""Raw usage events. Written set-wise; never updated except to record which rating run took them."""

from django.db import models
from django.db.models import Q


class Metric(models.TextChoices):
    SECONDS_DELIVERED = "seconds_delivered", "Seconds of video delivered"
    BYTES_DELIVERED = "bytes_delivered", "Bytes delivered"
    ASSETS_DELIVERED = "assets_delivered", "Assets delivered"
    TRAINING_HOURS = "training_hours", "Hours of video used in training"


class Source(models.TextChoices):
    DELIVERY = "delivery", "Delivery (measured by ClearFrame)"
    LICENSEE_REPORT = "licensee_report", "Reported by the licensee"
    LICENSOR_LOG = "licensor_log", "From the licensor's logs"


class UsageEvent(models.Model):
    # References are checked once per INSERT statement by a database trigger, not per row by foreign keys
    # (docs/adr/0006): no row locks on the licence, no multixacts when many batches arrive for it at once.
    # No single-column indexes either: the composite indexes lead with licensee and licence.
    licensee = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    event_id = models.CharField(max_length=200, help_text="The sender's id; unique per licensee, forever.")
    licence = models.ForeignKey(
        "licensing.Licence", on_delete=models.PROTECT, related_name="usage_events", db_index=False, db_constraint=False
    )
    asset = models.ForeignKey(
        "catalog.Asset",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    metric = models.CharField(max_length=20, choices=Metric.choices)
    quantity = models.DecimalField(max_digits=24, decimal_places=6)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    # Set once, in the transaction that books the event's charge; unrated events are found by a partial index.
    rating_run = models.ForeignKey(
        "rating.RatingRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["licensee", "event_id"], name="usage_event_licensee_event_uniq"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="usage_event_quantity_positive"),
            models.CheckConstraint(condition=Q(metric__in=Metric.values), name="usage_event_metric_valid"),
        ]
        indexes = [
            models.Index(fields=["licence", "occurred_at"], name="usage_event_licence_time_idx"),
            models.Index(fields=["licence"], name="usage_event_unrated_idx", condition=Q(rating_run__isnull=True)),
            models.Index(
                fields=["rating_run", "licence"], name="usage_event_rated_idx", condition=Q(rating_run__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.quantity} {self.metric}"
