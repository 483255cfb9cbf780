"""A two-leg entry may keep its legs on its own row (ADR 0012), and every reader reads legs through ``ledger_leg``.

The posting table keeps its name and rows; the ``Posting`` model becomes the view over both forms and the table's
model is ``PostingRow``. The columns, their shape check and the view are added with plain SQL on both vendors:
Django would rebuild ``ledger_entry`` on SQLite, which drops the ledger's triggers. On SQLite legs stay rows, and a
trigger refuses the row form.
"""

import django.db.models.deletion
from django.db import migrations, models

from ledger.sql import install_posting

_COLUMNS = (
    "leg0_account_id bigint",
    "leg1_account_id bigint",
    "leg_currency varchar(3)",
    "leg0_amount bigint",
    "leg0_balance_after bigint",
    "leg1_balance_after bigint",
)

# Leg 1 moves -leg0_amount, so the row balances by construction; the smallest bigint has no negation.
_POSTGRESQL = """
ALTER TABLE ledger_entry ADD CONSTRAINT ledger_entry_pair_shape CHECK (
    (leg0_account_id IS NULL AND leg1_account_id IS NULL AND leg_currency IS NULL AND leg0_amount IS NULL
     AND leg0_balance_after IS NULL AND leg1_balance_after IS NULL)
    OR (leg0_account_id IS NOT NULL AND leg1_account_id IS NOT NULL AND leg_currency IS NOT NULL
        AND leg0_balance_after IS NOT NULL AND leg1_balance_after IS NOT NULL AND leg_count = 2
        AND leg0_amount <> 0 AND leg0_amount >= -9223372036854775807)
);

-- A two-leg entry checks its own balance; the deferred per-entry check is for legs stored as rows.
DROP TRIGGER ledger_entry_balanced ON ledger_entry;
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NOT NEW.checked_in_batch AND NEW.leg0_account_id IS NULL)
    EXECUTE FUNCTION ledger_entry_check_balanced();
"""

# The view: the rows, then each form's leg 0 and leg 1. UNION ALL of plain scans, so PostgreSQL pushes an
# account's or an entry's condition into each branch and merges their index scans in (entry, leg) order.
_VIEW = """
CREATE VIEW ledger_leg AS
SELECT p.id, p.entry_id, p.leg_index, p.leg_count, p.account_id, p.currency, p.amount, p.balance_after
  FROM ledger_posting p
UNION ALL
SELECT -2 * e.id, e.id, {zero}, {two}, e.leg0_account_id, e.leg_currency, e.leg0_amount, e.leg0_balance_after
  FROM ledger_entry e WHERE e.leg0_account_id IS NOT NULL
UNION ALL
SELECT -2 * e.id - 1, e.id, {one}, {two}, e.leg1_account_id, e.leg_currency, -e.leg0_amount, e.leg1_balance_after
  FROM ledger_entry e WHERE e.leg1_account_id IS NOT NULL
"""

# On SQLite too, empty there: readers query both forms (ledger.services.balances).
_INDEXES = (
    "CREATE INDEX ledger_entry_leg0_account_idx ON ledger_entry (leg0_account_id, id) WHERE leg0_account_id IS NOT NULL",
    "CREATE INDEX ledger_entry_leg1_account_idx ON ledger_entry (leg1_account_id, id) WHERE leg1_account_id IS NOT NULL",
)

_SQLITE_ROWS_ONLY = """
CREATE TRIGGER ledger_entry_legs_as_rows BEFORE INSERT ON ledger_entry
WHEN NEW.leg0_account_id IS NOT NULL OR NEW.leg1_account_id IS NOT NULL OR NEW.leg_currency IS NOT NULL
  OR NEW.leg0_amount IS NOT NULL OR NEW.leg0_balance_after IS NOT NULL OR NEW.leg1_balance_after IS NOT NULL BEGIN
    SELECT RAISE(ABORT, 'ledger: on SQLite an entry''s legs are posting rows');
END
"""


def two_leg_form(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for column in _COLUMNS:
        schema_editor.execute(f"ALTER TABLE ledger_entry ADD COLUMN {column}", params=None)
    for index in _INDEXES:
        schema_editor.execute(index, params=None)
    if vendor == "postgresql":
        install_posting(apps, schema_editor)  # the period trigger's function checks the row form's accounts
        schema_editor.execute(_POSTGRESQL, params=None)
        schema_editor.execute(_VIEW.format(zero="0::smallint", one="1::smallint", two="2::smallint"), params=None)
    else:
        schema_editor.execute(_SQLITE_ROWS_ONLY, params=None)
        schema_editor.execute(_VIEW.format(zero="0", one="1", two="2"), params=None)


def _leg_fields(related_name: str, on_delete) -> list:
    return [
        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
        ("leg_index", models.PositiveSmallIntegerField()),
        ("leg_count", models.PositiveSmallIntegerField()),
        ("currency", models.CharField(max_length=3)),
        ("amount", models.BigIntegerField(help_text="Debits positive, credits negative, minor units.")),
        ("balance_after", models.BigIntegerField(help_text="Account net after this posting, in posting order.")),
        (
            "account",
            models.ForeignKey(
                db_constraint=False, db_index=False, on_delete=on_delete, related_name=related_name,
                to="ledger.account",
            ),
        ),
        (
            "entry",
            models.ForeignKey(
                db_constraint=False, db_index=False, on_delete=on_delete, related_name=related_name,
                to="ledger.journalentry",
            ),
        ),
    ]  # fmt: skip


def _pair_field(name: str) -> migrations.AddField:
    if name.endswith("_account"):
        field = models.ForeignKey(
            blank=True, db_constraint=False, db_index=False, editable=False, null=True,
            on_delete=django.db.models.deletion.PROTECT, related_name="+", to="ledger.account",
        )  # fmt: skip
    elif name == "leg_currency":
        field = models.CharField(blank=True, editable=False, max_length=3, null=True)
    else:
        field = models.BigIntegerField(blank=True, editable=False, null=True)
    return migrations.AddField(model_name="journalentry", name=name, field=field)


class Migration(migrations.Migration):
    """Not reversible, as 0019: ledger/sql holds only the current functions."""

    dependencies = [("ledger", "0021_period_state_row")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Posting"),
                migrations.CreateModel(
                    name="PostingRow",
                    fields=_leg_fields("+", django.db.models.deletion.PROTECT),
                    options={
                        "db_table": "ledger_posting",
                        "abstract": False,
                        "indexes": [
                            models.Index(fields=["account", "entry", "leg_index"], name="ledger_posting_account_idx")
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("entry", "leg_index"), name="ledger_posting_entry_leg_uniq"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("amount", 0), _negated=True), name="ledger_posting_amount_nonzero"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("leg_index__lt", models.F("leg_count"))),
                                name="ledger_posting_leg_in_range",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="Posting",
                    fields=_leg_fields("postings", django.db.models.deletion.DO_NOTHING),
                    options={"db_table": "ledger_leg", "managed": False, "abstract": False},
                ),
                *(
                    _pair_field(name)
                    for name in (
                        "leg0_account",
                        "leg1_account",
                        "leg_currency",
                        "leg0_amount",
                        "leg0_balance_after",
                        "leg1_balance_after",
                    )
                ),  # fmt: skip
            ],
            database_operations=[migrations.RunPython(two_leg_form, elidable=False)],
        ),
    ]
