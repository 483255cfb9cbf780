"""External money movements (Stripe balance transactions, bank statement entries) and how each was matched to
the ledger; statement imports; the Stripe sync cursor; finance's sign-off of a month's exceptions."""

from django.conf import settings
from django.db import models


class Source(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    BANK = "bank", "Bank"


class StatementImport(models.Model):
    source = models.CharField(max_length=10, choices=Source.choices)
    format = models.CharField(max_length=10, help_text="camt.053, csv or stripe-api")
    name = models.CharField(max_length=200)
    imported_by = models.CharField(max_length=200)
    imported_at = models.DateTimeField(auto_now_add=True)
    line_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.source} {self.name}"


class LineStatus(models.TextChoices):
    UNMATCHED = "unmatched", "Unmatched"
    MATCHED = "matched", "Matched"
    ADJUSTED = "adjusted", "Adjusted to suspense"


class ExternalLine(models.Model):
    source = models.CharField(max_length=10, choices=Source.choices)
    external_id = models.CharField(max_length=200, help_text="Stripe's txn id, or the bank's entry reference.")
    statement_import = models.ForeignKey(StatementImport, on_delete=models.PROTECT, related_name="lines")
    booked_on = models.DateField()
    amount = models.BigIntegerField(help_text="Minor units; money in is positive.")
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=200, blank=True, default="", help_text="End-to-end id or remittance.")
    description = models.CharField(max_length=300, blank=True, default="")
    kind = models.CharField(max_length=40, blank=True, default="", help_text="Stripe's type, or the bank's code.")
    raw = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=LineStatus.choices, default=LineStatus.UNMATCHED)
    matched_entry_id = models.BigIntegerField(null=True, blank=True)
    matched_by = models.CharField(max_length=200, blank=True, default="")
    matched_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-booked_on", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="reconciliation_line_once")]
        indexes = [models.Index(fields=["source", "status", "booked_on"], name="reconciliation_line_status_idx")]

    def __str__(self) -> str:
        return f"{self.source} {self.external_id} {self.amount}"


class SyncCursor(models.Model):
    source = models.CharField(max_length=10, choices=Source.choices, unique=True)
    last_id = models.CharField(max_length=200, blank=True, default="")
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.source} after {self.last_id}"


class PeriodSignoff(models.Model):
    """Finance accepts a month's remaining exceptions (with a note) so that the month can be closed."""

    period = models.DateField(unique=True)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField()
    exceptions = models.JSONField(default=dict, help_text="What was outstanding when it was signed off.")

    def __str__(self) -> str:
        return f"sign-off {self.period:%Y-%m}"


class DailyReport(models.Model):
    """The reconciliation report for one day, source and currency, kept as it stood when it was drawn up."""

    day = models.DateField()
    source = models.CharField(max_length=10, choices=Source.choices)
    currency = models.CharField(max_length=3)
    matched = models.PositiveIntegerField()
    matched_amount = models.BigIntegerField()
    adjusted = models.PositiveIntegerField()
    unmatched_external = models.PositiveIntegerField()
    unmatched_external_amount = models.BigIntegerField()
    unmatched_ledger = models.PositiveIntegerField()
    unmatched_ledger_amount = models.BigIntegerField()
    difference = models.BigIntegerField()
    suspense_balance = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "source", "currency"]
        constraints = [models.UniqueConstraint(fields=["day", "source", "currency"], name="reconciliation_daily_once")]

    def __str__(self) -> str:
        return f"{self.day} {self.source} {self.currency}"
