"""Royalty statements: for one rights holder, month and currency, every movement of what it is owed, with the
formula behind each earning. Opening + lines = closing, and both ends equal the ledger."""

from django.db import models

from marketplace.ids import new_statement_id


class RoyaltyStatement(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=new_statement_id, editable=False)
    party = models.CharField(max_length=200, help_text="The ledger party, e.g. org:northlight.")
    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT, related_name="statements")
    period = models.DateField(help_text="First day of the month.")
    currency = models.CharField(max_length=3)
    opening = models.BigIntegerField()
    earned = models.BigIntegerField(help_text="Royalties earned, before advances were recouped.")
    recouped = models.BigIntegerField(help_text="Of which recouped against advances.")
    paid_out = models.BigIntegerField(help_text="Payouts sent (positive).")
    returned = models.BigIntegerField(help_text="Failed payouts returned to the balance.")
    other = models.BigIntegerField(default=0)
    closing = models.BigIntegerField()
    advance_outstanding = models.BigIntegerField(default=0)
    in_transit = models.BigIntegerField(default=0)
    reserve_bp = models.PositiveIntegerField(default=0)
    issued_at = models.DateTimeField()
    emailed_to = models.JSONField(default=list)

    class Meta:
        ordering = ["-period", "party"]
        constraints = [
            models.UniqueConstraint(fields=["party", "period", "currency"], name="statements_one_per_month"),
            models.CheckConstraint(
                condition=models.Q(
                    closing=models.F("opening")
                    + models.F("earned")
                    - models.F("recouped")
                    - models.F("paid_out")
                    + models.F("returned")
                    + models.F("other")
                ),
                name="statements_balance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.party} {self.period:%Y-%m} {self.currency}"


class LineKind(models.TextChoices):
    EARNING = "earning", "Royalties earned"
    LICENCE_FEE = "licence_fee", "Licence fee"
    SETTLEMENT = "settlement", "Guarantee or commitment settled"
    PAYOUT = "payout", "Payout sent"
    PAYOUT_RETURNED = "payout_returned", "Payout returned"
    OTHER = "other", "Other"


class StatementLine(models.Model):
    statement = models.ForeignKey(RoyaltyStatement, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    date = models.DateField()
    description = models.CharField(max_length=300)
    corpus = models.CharField(max_length=200, blank=True, default="")
    licence = models.CharField(max_length=24, blank=True, default="")
    licensee = models.CharField(max_length=200, blank=True, default="")
    quantity = models.CharField(max_length=60, blank=True, default="", help_text="E.g. '12.5 hours'.")
    formula = models.CharField(max_length=300, blank=True, default="", help_text="How the share was computed.")
    gross = models.BigIntegerField(default=0, help_text="The whole charge, before commission.")
    commission = models.BigIntegerField(default=0)
    share = models.BigIntegerField(default=0, help_text="This party's share of the charge.")
    recouped = models.BigIntegerField(default=0)
    amount = models.BigIntegerField(help_text="The movement of the balance: credits positive.")
    charge = models.ForeignKey("rating.RatingCharge", null=True, on_delete=models.PROTECT, related_name="+")
    entry_id = models.BigIntegerField()

    class Meta:
        ordering = ["statement", "position"]
        constraints = [models.UniqueConstraint(fields=["statement", "position"], name="statements_line_position")]

    def __str__(self) -> str:
        return self.description
