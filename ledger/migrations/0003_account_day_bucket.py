"""Keep the newest day's movement on the account row (see ledger.models.accounts)."""

from django.db import migrations, models

from ledger.sql import install_posting

# Plain ALTER TABLE on both vendors: Django would rebuild the table on SQLite
# to add a NOT NULL column, which drops the ledger's triggers.
_ADD_COLUMNS = [
    "ALTER TABLE ledger_account ADD COLUMN day date NULL",
    "ALTER TABLE ledger_account ADD COLUMN day_net bigint NOT NULL DEFAULT 0",
    "ALTER TABLE ledger_account ADD COLUMN day_postings bigint NOT NULL DEFAULT 0",
]


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_database_guarantees")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="account",
                    name="day",
                    field=models.DateField(
                        blank=True, help_text="Effective day of the movement held in day_net.", null=True
                    ),
                ),
                migrations.AddField(model_name="account", name="day_net", field=models.BigIntegerField(default=0)),
                migrations.AddField(model_name="account", name="day_postings", field=models.BigIntegerField(default=0)),
            ],
            database_operations=[
                migrations.RunSQL(sql, reverse_sql=f"ALTER TABLE ledger_account DROP COLUMN {sql.split()[5]}")
                for sql in _ADD_COLUMNS
            ],
        ),
        migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False),
    ]
