"""On SQLite an entry must have its last leg by COMMIT: a deferred foreign key from the entry to its last posting.

SQLite has no deferred triggers, so the balance trigger runs when the last leg is inserted, and an entry whose last
leg never came (or that has no postings) used to commit. Deferred foreign keys are what SQLite checks at COMMIT; a
composite key cannot be referenced from a generated column, so each side has one generated number for (entry, leg).
Added with plain ``ALTER TABLE``: a rebuild by Django would drop the ledger's triggers. PostgreSQL checks the legs
in its deferred balance trigger already.
"""

from django.db import migrations

LEG_SLOTS = 65536  # above the largest leg count (a smallint)

_SQLITE = (
    "ALTER TABLE ledger_posting ADD COLUMN entry_leg integer"
    f" GENERATED ALWAYS AS (entry_id * {LEG_SLOTS} + leg_index) VIRTUAL",
    "CREATE UNIQUE INDEX ledger_posting_entry_leg ON ledger_posting (entry_leg)",
    "ALTER TABLE ledger_entry ADD COLUMN last_leg integer"
    f" GENERATED ALWAYS AS (id * {LEG_SLOTS} + leg_count - 1) VIRTUAL"
    " REFERENCES ledger_posting (entry_leg) DEFERRABLE INITIALLY DEFERRED",
)


def last_leg_required(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in _SQLITE:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    """Not reversible, as 0019."""

    dependencies = [("ledger", "0024_reversal_checked_per_statement")]

    operations = [migrations.RunPython(last_leg_required, elidable=False)]
