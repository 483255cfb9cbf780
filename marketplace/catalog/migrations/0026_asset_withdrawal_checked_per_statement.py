"""PostgreSQL: an asset's withdrawal is checked by triggers, not by a per-row foreign key (ADR 0011).

The foreign key queued a referential check for every imported asset, though an import never sets the column.
SQLite keeps its foreign key: changing it there would rebuild the asset table and drop the usage trigger on it.
"""

import django.db.models.deletion
from django.db import migrations, models

from marketplace.catalog.sql import install

_FOREIGN_KEY = "catalog_asset_withdrawal_id_f48f4883_fk_catalog_withdrawal_id"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    install(apps, schema_editor)
    schema_editor.execute(f"ALTER TABLE catalog_asset DROP CONSTRAINT IF EXISTS {_FOREIGN_KEY}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS catalog_asset_withdrawal_ref ON catalog_asset;"
        "DROP TRIGGER IF EXISTS catalog_withdrawal_keep_assets ON catalog_withdrawal;"
    )
    schema_editor.execute(
        f"ALTER TABLE catalog_asset ADD CONSTRAINT {_FOREIGN_KEY} FOREIGN KEY (withdrawal_id) "
        "REFERENCES catalog_withdrawal (id) DEFERRABLE INITIALLY DEFERRED"
    )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0025_import_run_in_foreground")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="asset",
                    name="withdrawal",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="catalog.withdrawal",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
