"""Journal entries and their legs: append-only.

An entry declares how many legs it has (``leg_count``); its legs are exactly
``0 .. leg_count-1``. They are stored in one of two forms (ADR 0012):

* as rows of ``ledger_posting`` (:class:`PostingRow`): every entry on SQLite,
  and entries of three or more legs on PostgreSQL. With the unique (entry, leg)
  index and the reference check (postings carry their entry's leg count and
  are written in its transaction; ADR 0005) no posting can be added to an entry
  after the fact, so checking balance once at commit is enough;
* on the entry's own row (the ``leg0_*``/``leg1_*`` columns): a two-leg entry
  posted on PostgreSQL, TigerBeetle's transfer. Leg 1 moves ``-leg0_amount``,
  so such an entry balances by construction, and it has no posting rows.

Every reader goes through :class:`Posting`, the ``ledger_leg`` view over both.
"""

from django.db import models
from django.db.models import F, Q

from ledger.models.accounts import Account
from ledger.money import Money


class TransactionId(models.Func):
    """The inserting PostgreSQL transaction's id; the chain sealer uses it to know
    which entries can no longer change. NULL on SQLite, where writers are serial."""

    output_field = models.BigIntegerField()
    template = "(pg_current_xact_id()::text::bigint)"

    def as_sqlite(self, compiler, connection, **extra_context):
        return "NULL", []


class JournalEntry(models.Model):
    effective_date = models.DateField()
    posted_at = models.DateTimeField()
    description = models.TextField()
    metadata = models.JSONField(default=dict)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the caller's payload.")
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the entry and its legs.")
    # Unique where set (an entry is reversed at most once); a partial index, so
    # the many entries that reverse nothing cost no index entry.
    # On PostgreSQL the entries' statement trigger checks that it exists (ledger/sql): a foreign key queued a
    # deferred check for every entry inserted. SQLite keeps the foreign key that migration 0001 made.
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    leg_count = models.PositiveSmallIntegerField()
    tx = models.BigIntegerField(null=True, blank=True, db_default=TransactionId(), editable=False)
    # How PostgreSQL checks its balance at COMMIT: alone (a single post, any raw INSERT), or together with the
    # rest of its INSERT statement (the bulk function's rows; ledger/sql/postgresql_posting.sql).
    checked_in_batch = models.BooleanField(default=False, db_default=False, editable=False)
    # A two-leg entry's legs, on PostgreSQL (see the module docstring); all NULL otherwise. Checked by
    # ledger_entry_pair_shape and, per statement, by ledger_entry_check_period (ledger/sql).
    leg0_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False,
        db_index=False, editable=False,
    )  # fmt: skip
    leg1_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False,
        db_index=False, editable=False,
    )  # fmt: skip
    leg_currency = models.CharField(max_length=3, null=True, blank=True, editable=False)
    leg0_amount = models.BigIntegerField(null=True, blank=True, editable=False)
    leg0_balance_after = models.BigIntegerField(null=True, blank=True, editable=False)
    leg1_balance_after = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "ledger_entry"
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="ledger_entry_idempotency_key_uniq",
            ),
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="ledger_entry_reverses_uniq"
            ),
            models.CheckConstraint(condition=Q(leg_count__gte=2), name="ledger_entry_two_legs"),
            models.CheckConstraint(condition=~Q(reverses=F("id")), name="ledger_entry_not_self_reversal"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.description}"


class _Leg(models.Model):
    entry_id: int  # the subclasses' foreign key

    leg_index = models.PositiveSmallIntegerField()
    leg_count = models.PositiveSmallIntegerField()
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(help_text="Debits positive, credits negative, minor units.")
    balance_after = models.BigIntegerField(help_text="Account net after this posting, in posting order.")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        side = "debit" if self.amount > 0 else "credit"
        return f"entry {self.entry_id}, leg {self.leg_index}: {side} {Money(abs(self.amount), self.currency).format()}"


class PostingRow(_Leg):
    """A leg stored as its own row. Written by the posting engines only; read through :class:`Posting`."""

    # References are checked per statement by ledger_posting_refs (ADR 0005),
    # not by foreign keys. No single-column indexes: the unique (entry, leg)
    # and the (account, entry, leg) indexes serve every read.
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )

    class Meta:
        db_table = "ledger_posting"
        constraints = [
            models.UniqueConstraint(fields=["entry", "leg_index"], name="ledger_posting_entry_leg_uniq"),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_posting_amount_nonzero"),
            models.CheckConstraint(condition=Q(leg_index__lt=F("leg_count")), name="ledger_posting_leg_in_range"),
        ]
        indexes = [
            models.Index(fields=["account", "entry", "leg_index"], name="ledger_posting_account_idx"),
        ]


class Posting(_Leg):
    """Every leg of every entry, in either form: the ``ledger_leg`` view (read-only).

    A leg kept on its entry's row has the id ``-(2 * entry + leg)``: ids are unique, but readers order and page
    by (entry, leg), never by id.
    """

    entry = models.ForeignKey(
        JournalEntry, on_delete=models.DO_NOTHING, related_name="postings", db_constraint=False, db_index=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, related_name="postings", db_constraint=False, db_index=False
    )

    class Meta:
        managed = False
        db_table = "ledger_leg"
