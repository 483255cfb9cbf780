"""On PostgreSQL, the entry an entry reverses is checked by the entries' statement trigger instead of a deferred
foreign key, which queued one check per inserted entry; the bulk function also sums balances and day totals from its
loop over the legs. SQLite keeps the foreign key: the model's ``db_constraint=False`` changes only the state there."""

from django.db import migrations, models

from ledger.sql import install_posting


def drop_reverses_foreign_key(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # %% for psycopg's placeholders: format()'s %I reaches PostgreSQL as written.
    schema_editor.execute(
        """
        DO $$
        DECLARE
            v_name text;
        BEGIN
            FOR v_name IN
                SELECT c.conname FROM pg_constraint c
                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                 WHERE c.conrelid = 'ledger_entry'::regclass AND c.contype = 'f' AND a.attname = 'reverses_id'
            LOOP
                EXECUTE format('ALTER TABLE ledger_entry DROP CONSTRAINT %%I', v_name);
            END LOOP;
        END $$
        """
    )


class Migration(migrations.Migration):
    """Not reversible, as 0019: ledger/sql holds only the current functions."""

    dependencies = [("ledger", "0023_two_leg_entries_posted_on_their_row")]

    operations = [
        migrations.RunPython(install_posting, elidable=False),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="journalentry",
                    name="reverses",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="reversals",
                        to="ledger.journalentry",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_reverses_foreign_key, elidable=False)],
        ),
    ]
