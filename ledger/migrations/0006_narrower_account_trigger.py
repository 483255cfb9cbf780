"""Less work on every post: the account trigger runs only when an identity column is
assigned, and entries lose the (id, leg_count) index, a leftover of the composite foreign
key that ADR 0005 replaced.

On SQLite that index is part of the table definition and stays: dropping it would
rebuild the table, and with it the ledger's triggers.
"""

from django.db import migrations

from ledger.sql import install_posting

_POSTGRESQL = [
    "ALTER TABLE ledger_entry DROP CONSTRAINT IF EXISTS ledger_entry_id_leg_count_uniq",
    "DROP TRIGGER IF EXISTS ledger_account_fixed ON ledger_account",
    "CREATE TRIGGER ledger_account_fixed BEFORE UPDATE OF code, currency, type, id ON ledger_account"
    " FOR EACH ROW EXECUTE FUNCTION ledger_account_fixed()",
]


def on_postgresql(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in _POSTGRESQL:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_single_entries_checked_alone")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="journalentry", name="ledger_entry_id_leg_count_uniq"),
            ],
            database_operations=[migrations.RunPython(on_postgresql, migrations.RunPython.noop, elidable=False)],
        ),
        migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False),
    ]
