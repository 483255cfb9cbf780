"""Entries checked at COMMIT as a batch say so in a column, and each INSERT statement's range of them is a row of
ledger_entry_batch with its own deferred check: the batch's state no longer lives in a session setting, which a
session could forge or leave stale (SET CONSTRAINTS … IMMEDIATE between two inserts skipped the second), and the
bulk path no longer queues one trigger call per entry."""

from django.db import migrations, models

from ledger.sql import install_posting

# Plain ALTER TABLE on both vendors: Django would rebuild the table on SQLite, which drops the ledger's triggers.
_ADD_COLUMN = "ALTER TABLE ledger_entry ADD COLUMN checked_in_batch boolean NOT NULL DEFAULT false"

_TABLE_AND_TRIGGERS = """
-- Open batches only: each row is deleted by its own check at COMMIT. Unlogged, since no row outlives its
-- transaction.
CREATE UNLOGGED TABLE ledger_entry_batch (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lo bigint NOT NULL,
    hi bigint NOT NULL
);
CREATE CONSTRAINT TRIGGER ledger_entry_batch_balanced AFTER INSERT ON ledger_entry_batch
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_batch_check_balanced();

DROP TRIGGER ledger_entry_balanced ON ledger_entry;
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NOT NEW.checked_in_batch)
    EXECUTE FUNCTION ledger_entry_check_balanced();
"""


def install_batch_check(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_TABLE_AND_TRIGGERS, params=None)


class Migration(migrations.Migration):
    """Not reversible, as 0019: ledger/sql holds only the current functions."""

    dependencies = [("ledger", "0019_bulk_accounts_once")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="journalentry",
                    name="checked_in_batch",
                    field=models.BooleanField(db_default=False, default=False, editable=False),
                )
            ],
            database_operations=[migrations.RunSQL(_ADD_COLUMN)],
        ),
        migrations.RunPython(install_posting, elidable=False),
        migrations.RunPython(install_batch_check, elidable=False),
    ]
