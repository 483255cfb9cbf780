"""What rating did: runs, the charge per licence, the aggregated lines behind it, and each licence's meter.

Everything here is written in the same transaction as the journal entry it explains, so a figure in the
ledger can always be traced to the run, the quantities, the tiers and the raw events (which carry the run).
"""

from django.db import models
from django.db.models import Q


class RatingRun(models.Model):
    """One transaction of rating: a set of licences, their newly claimed events, one entry per licence."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Scheduled"
        SWEEPER = "sweeper", "Sweeper"
        MANUAL = "manual", "Manual"

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    licence_count = models.PositiveIntegerField(default=0)
    event_count = models.BigIntegerField(default=0)
    entry_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"rating run {self.pk}"


class LicenceMeter(models.Model):
    """A licence's cumulative rated usage and commitments: the 'before' of the next incremental charge."""

    licence = models.OneToOneField("licensing.Licence", on_delete=models.PROTECT, related_name="meter")
    currency = models.CharField(max_length=3)
    plan_metric = models.CharField(max_length=10, blank=True, default="")
    quantity = models.DecimalField(
        max_digits=30, decimal_places=6, default=0, help_text="Billable quantity rated so far, in the event unit."
    )
    charged = models.BigIntegerField(default=0, help_text="Usage charges so far (minor units).")
    prepaid_total = models.BigIntegerField(default=0, help_text="Minimum guarantee or commitment paid ahead.")
    prepaid_drawn = models.BigIntegerField(default=0)
    owner_weights = models.JSONField(default=list, help_text="[[party, weight], ...] for usage without an asset.")
    flagged_events = models.BigIntegerField(default=0)
    cap_reached_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True, help_text="When the end-of-term settlement posted.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(prepaid_drawn__gte=0) & Q(prepaid_drawn__lte=models.F("prepaid_total")),
                name="rating_meter_prepaid_drawn_range",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=0) & Q(charged__gte=0), name="rating_meter_positive"),
        ]

    def __str__(self) -> str:
        return f"meter {self.licence_id}"


class ChargeKind(models.TextChoices):
    USAGE = "usage", "Usage"
    SETTLEMENT = "settlement", "End-of-term settlement"


class RatingCharge(models.Model):
    """One licence's charge in one run and billing period, and the journal entry that booked it."""

    run = models.ForeignKey(RatingRun, on_delete=models.PROTECT, related_name="charges")
    licence = models.ForeignKey("licensing.Licence", on_delete=models.PROTECT, related_name="rating_charges")
    licensee = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="+")
    licensor = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=ChargeKind.choices, default=ChargeKind.USAGE)
    currency = models.CharField(max_length=3)
    billing_period = models.DateField(help_text="First day of the month the charge is booked in.")
    effective_date = models.DateField()
    late_periods = models.JSONField(default=list, help_text="Closed months whose usage arrived late.")
    plan = models.JSONField(help_text="The licence's frozen price plan.")
    plan_metric = models.CharField(max_length=10, blank=True, default="")
    quantity_before = models.DecimalField(max_digits=30, decimal_places=6, default=0)
    quantity_after = models.DecimalField(max_digits=30, decimal_places=6, default=0)
    tiers = models.JSONField(default=list, help_text="How the increment fell across the plan's tiers.")
    amount = models.BigIntegerField()
    prepaid_drawn = models.BigIntegerField(default=0)
    receivable = models.BigIntegerField(default=0)
    commission = models.BigIntegerField(default=0)
    commission_bp = models.PositiveIntegerField(default=0)
    royalties = models.JSONField(default=list, help_text='[{"party", "weight", "amount", "recouped"}, ...]')
    event_count = models.BigIntegerField(default=0)
    events_digest = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255, unique=True)
    entry_id = models.BigIntegerField(null=True, blank=True, help_text="The ledger entry; none for a zero charge.")
    cap_exceeded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["licence", "billing_period"], name="rating_charge_licence_idx"),
            models.Index(fields=["licensee", "billing_period"], name="rating_charge_licensee_idx"),
            models.Index(fields=["licensor", "billing_period"], name="rating_charge_licensor_idx"),
            models.Index(fields=["entry_id"], name="rating_charge_entry_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount=models.F("prepaid_drawn") + models.F("receivable")), name="rating_charge_debits"
            ),
        ]

    def __str__(self) -> str:
        return f"charge {self.pk} ({self.licence_id})"


class Flag(models.TextChoices):
    NONE = "", "Billable"
    OUTSIDE_TERM = "outside_term", "Outside the licence term"
    SUSPENDED = "suspended", "While the licence was suspended"
    TERMINATED = "terminated", "After the licence was terminated"
    AFTER_SETTLEMENT = "after_settlement", "Reported after the term was settled"


class RatingLine(models.Model):
    """Aggregated events behind a charge: one metric, usage month, owner group and flag."""

    charge = models.ForeignKey(RatingCharge, on_delete=models.PROTECT, related_name="lines")
    metric = models.CharField(max_length=20, help_text="An event metric, or unique_assets.")
    usage_period = models.DateField(help_text="First day of the month the usage happened in.")
    owners = models.JSONField(null=True, help_text="The assets' co-owners; null for usage without an asset.")
    flag = models.CharField(max_length=20, choices=Flag.choices, blank=True, default="")
    quantity = models.DecimalField(max_digits=30, decimal_places=6)
    event_count = models.BigIntegerField()
    first_occurred_at = models.DateTimeField()
    last_occurred_at = models.DateTimeField()
    priced = models.BooleanField(default=False, help_text="Whether the plan prices this metric.")

    class Meta:
        ordering = ["charge", "metric", "usage_period", "id"]
        indexes = [models.Index(fields=["flag"], name="rating_line_flag_idx", condition=~Q(flag=""))]

    def __str__(self) -> str:
        return f"{self.metric} {self.quantity}"


class DeliveredAsset(models.Model):
    """Each asset counted once per licence, for per-unique-asset plans."""

    licence = models.ForeignKey("licensing.Licence", on_delete=models.PROTECT, related_name="+", db_index=False)
    asset = models.ForeignKey(
        "catalog.Asset", on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    first_delivered_at = models.DateTimeField()
    rating_run = models.ForeignKey(
        RatingRun, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["licence", "asset"], name="rating_delivered_asset_uniq")]

    def __str__(self) -> str:
        return f"{self.licence_id}:{self.asset_id}"
