"""Monthly invoices for licensees on account. An invoice is a frozen explanation of the receivable postings of
one licensee, month and currency: its total equals their sum, to the minor unit."""

from django.db import models
from django.db.models import Q

from marketplace.ids import new_invoice_id


class InvoiceStatus(models.TextChoices):
    ISSUED = "issued", "Issued"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


class Invoice(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=new_invoice_id, editable=False)
    number = models.CharField(max_length=40, unique=True, help_text="CF-2026-11-000123: sequential, human.")
    licensee = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="invoices")
    period = models.DateField(help_text="First day of the month invoiced.")
    currency = models.CharField(max_length=3)
    subtotal = models.BigIntegerField()
    tax_rate_bp = models.PositiveIntegerField(default=0, help_text="Taxes are modelled; the rate is zero for now.")
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    payment_reference = models.CharField(max_length=40, unique=True, help_text="Quote it on a bank transfer.")
    status = models.CharField(max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.ISSUED)
    issued_at = models.DateTimeField()
    due_at = models.DateTimeField()
    receivable_account = models.CharField(max_length=200, help_text="The ledger account the total ties to.")
    amount_paid = models.BigIntegerField(default=0)
    stripe_payment_intent = models.CharField(max_length=100, blank=True, default="", db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["licensee", "period", "currency"], name="invoicing_one_per_month"),
            models.CheckConstraint(condition=Q(total=models.F("subtotal") + models.F("tax")), name="invoicing_total"),
        ]

    def __str__(self) -> str:
        return self.number


class LineKind(models.TextChoices):
    USAGE = "usage", "Usage"
    PREPAID_DRAWDOWN = "prepaid_drawdown", "Drawn from a prepaid commitment"
    SETTLEMENT = "settlement", "End-of-term settlement"
    LICENCE = "licence", "Licence fee or commitment"
    OTHER = "other", "Other"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    licence = models.ForeignKey("licensing.Licence", null=True, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=300)
    metric = models.CharField(max_length=20, blank=True, default="")
    quantity = models.DecimalField(max_digits=30, decimal_places=6, null=True)
    amount = models.BigIntegerField(help_text="Minor units; negative for a drawdown.")
    tax = models.BigIntegerField(default=0)
    entry_ids = models.JSONField(default=list, help_text="The ledger entries this line explains.")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="invoicing_line_position")]

    def __str__(self) -> str:
        return self.description
