"""Paying rights holders: where each licensor is paid, payout runs under the four-eyes rule, and payouts."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.ids import new_advance_id, new_payout_id, new_payout_run_id


class Rail(models.TextChoices):
    STRIPE = "stripe", "Stripe Connect"
    BANK = "bank", "Bank transfer (SEPA)"


class PayeeProfile(models.Model):
    """How and when a licensor is paid."""

    organisation = models.OneToOneField("orgs.Organisation", on_delete=models.PROTECT, related_name="payee")
    rail = models.CharField(max_length=10, choices=Rail.choices, default=Rail.STRIPE)
    stripe_account_id = models.CharField(max_length=100, blank=True, default="")
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    stripe_synced_at = models.DateTimeField(null=True, blank=True)
    account_holder = models.CharField(max_length=70, blank=True, default="")
    iban = models.CharField(max_length=34, blank=True, default="")
    bic = models.CharField(max_length=11, blank=True, default="")
    local_account_number = models.CharField(max_length=34, blank=True, default="")
    local_bank_code = models.CharField(max_length=20, blank=True, default="")
    threshold = models.BigIntegerField(default=5_000, help_text="Minor units: smaller balances wait for next time.")
    reserve_bp = models.PositiveIntegerField(default=0, help_text="Share of the balance held back, in bp.")
    on_hold = models.BooleanField(default=False, help_text="Finance holds this payee's payouts.")
    hold_reason = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(reserve_bp__lte=10_000), name="payouts_reserve_range")]

    def __str__(self) -> str:
        return f"payee {self.organisation_id}"

    @property
    def has_local_account(self) -> bool:
        return bool(self.local_account_number and self.local_bank_code and not self.iban)

    @property
    def blocked_reason(self) -> str:
        """Why a payout cannot be sent now, or '' when it can."""
        if self.on_hold:
            return f"on hold: {self.hold_reason or 'by finance'}"
        if self.rail == Rail.STRIPE:
            if not self.stripe_account_id:
                return "Stripe Connect onboarding not started"
            if not self.payouts_enabled:
                return "Stripe Connect onboarding not complete (payouts not enabled)"
        elif not self.account_holder or not ((self.iban and self.bic) or self.has_local_account):
            return "no bank details (an IBAN and BIC, or a local account number and bank code)"
        return ""


class RunStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    REVIEWED = "reviewed", "Reviewed"
    APPROVED = "approved", "Approved"
    EXECUTING = "executing", "Executing"
    EXECUTED = "executed", "Executed"
    CANCELLED = "cancelled", "Cancelled"


class PayoutRun(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=new_payout_run_id, editable=False)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PROPOSED)
    proposed_at = models.DateTimeField()
    proposed_by = models.CharField(max_length=200, help_text="A user's email, or the scheduled job.")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    total = models.BigIntegerField(default=0)
    payout_count = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0, help_text="Payouts sent so far, for the progress bar.")
    blocked = models.JSONField(default=list, help_text="Payees with money due who cannot be paid, and why.")
    bank_file = models.TextField(blank=True, default="", help_text="The ISO 20022 pain.001 for bank payees.")
    bank_file_message_id = models.CharField(max_length=35, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("reviewed_by")),
                name="payouts_four_eyes",
            )
        ]

    def __str__(self) -> str:
        return self.public_id


class PayoutStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    IN_TRANSIT = "in_transit", "In transit"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"


class Payout(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=new_payout_id, editable=False)
    run = models.ForeignKey(PayoutRun, on_delete=models.PROTECT, related_name="payouts")
    licensor = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="payouts")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    balance_at_proposal = models.BigIntegerField(help_text="royalty_payable when the run was proposed.")
    reserve = models.BigIntegerField(default=0)
    rail = models.CharField(max_length=10, choices=Rail.choices)
    status = models.CharField(max_length=12, choices=PayoutStatus.choices, default=PayoutStatus.PENDING)
    stripe_transfer_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    stripe_payout_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    sent_entry_id = models.BigIntegerField(null=True, blank=True)
    settled_entry_id = models.BigIntegerField(null=True, blank=True)
    reversal_entry_id = models.BigIntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "licensor"], name="payouts_one_per_licensor_per_run"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payouts_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.public_id


class AdvanceStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"


class Advance(models.Model):
    """Money paid to a rights holder ahead of its royalties, recouped from them before anything becomes payable.

    One finance user requests it and a different one approves it; approval books Dr ``advance``, Cr cash at bank,
    and the wire quotes ``public_id`` so that the bank statement matches it.
    """

    public_id = models.CharField(max_length=24, unique=True, default=new_advance_id, editable=False)
    licensor = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="advances")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(help_text="Minor units.")
    note = models.CharField(max_length=300, help_text="What the advance is for: the agreement it comes from.")
    status = models.CharField(max_length=10, choices=AdvanceStatus.choices, default=AdvanceStatus.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payouts_advance_positive"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("requested_by")),
                name="payouts_advance_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id
