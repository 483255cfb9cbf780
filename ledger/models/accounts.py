"""Accounts and their stored balances.

``net`` is kept current inside every posting transaction under a row lock,
so a balance read is one row. ``AccountDay`` keeps the net movement per
account and effective day, so a past balance sums days, not postings.

The newest day's movement is kept on the account row itself (``day``,
``day_net``, ``day_postings``) and moved to ``AccountDay`` when a later day
starts: a post dated on the account's current day then writes one row
instead of two. A day's total is its ``AccountDay`` row plus the account's
bucket when ``day`` is that day.
"""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Upper
from django.db.models.lookups import Exact

from ledger.types import AccountType

_DEBIT_NORMAL = [AccountType.ASSET.value, AccountType.EXPENSE.value]
_CREDIT_NORMAL = [AccountType.LIABILITY.value, AccountType.EQUITY.value, AccountType.INCOME.value]


class Account(models.Model):
    code = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=9, choices=[(t.value, t.value) for t in AccountType])
    party_ref = models.CharField(max_length=100, blank=True, default="", db_index=True)
    forbid_negative = models.BooleanField(default=False)
    net = models.BigIntegerField(default=0, help_text="Debits minus credits, in minor units.")
    posting_count = models.BigIntegerField(default=0)
    day = models.DateField(null=True, blank=True, help_text="Effective day of the movement held in day_net.")
    day_net = models.BigIntegerField(default=0)
    day_postings = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_account"
        ordering = ["code", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["code", "currency"], name="ledger_account_code_currency_uniq"),
            # What a posting's (account_id, currency) must match (ledger_posting_refs).
            models.UniqueConstraint(fields=["id", "currency"], name="ledger_account_id_currency_uniq"),
            models.CheckConstraint(
                condition=Exact(Length("currency"), 3) & Q(currency=Upper("currency")),
                name="ledger_account_currency_iso",
            ),
            models.CheckConstraint(
                condition=Q(type__in=_DEBIT_NORMAL + _CREDIT_NORMAL), name="ledger_account_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(forbid_negative=False)
                | Q(type__in=_DEBIT_NORMAL, net__gte=0)
                | Q(type__in=_CREDIT_NORMAL, net__lte=0),
                name="ledger_account_no_overdraft",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"

    @property
    def account_type(self) -> AccountType:
        return AccountType(self.type)

    @property
    def balance(self) -> int:
        """Balance on the account's normal side."""
        return self.net * self.account_type.normal_sign


class AccountDay(models.Model):
    """Net movement of one account on one effective day (derived; see the module docstring for the part
    that still sits on the account row)."""

    # The unique (account, day) index serves lookups by account.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="days", db_index=False)
    day = models.DateField()
    net = models.BigIntegerField()
    postings = models.BigIntegerField()

    class Meta:
        db_table = "ledger_account_day"
        constraints = [models.UniqueConstraint(fields=["account", "day"], name="ledger_account_day_uniq")]

    def __str__(self) -> str:
        return f"{self.account_id} on {self.day.isoformat()}: {self.net:+d}"
