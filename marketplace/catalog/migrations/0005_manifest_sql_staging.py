"""Faster imports: the diff compares columns, and on PostgreSQL staging skips WAL and two per-row FK checks.

The fingerprint column goes: a SHA-256 of the fields, computed per row in Python,
cost more than comparing the fields themselves in the diff query. Staged rows are
a working copy of the uploaded file: an unlogged table writes them at a fraction
of the cost, and a crash that empties it is detected (the import's row count no
longer matches) rather than trusted.
"""

import django.db.models.deletion
from django.db import migrations, models

# Foreign keys checked once per imported row at commit (about a quarter of an import's time) whose targets
# are bookkeeping: the import that last wrote an asset, and the import a staged row belongs to. SQLite keeps
# its constraints: changing them there rebuilds the table, which drops the usage app's trigger on assets.
_CONSTRAINTS = [
    ("catalog_asset", "catalog_asset_last_import_id_ba702496_fk_catalog_m", "last_import_id"),
    ("catalog_manifestrow", "catalog_manifestrow_manifest_import_id_93c9bc1f_fk_catalog_m", "manifest_import_id"),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, name, _column in _CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
    schema_editor.execute("ALTER TABLE catalog_manifestrow SET UNLOGGED")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE catalog_manifestrow SET LOGGED")
    for table, name, column in _CONSTRAINTS:
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
            "REFERENCES catalog_manifestimport (id) DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_asset_fewer_indexes")]

    operations = [
        migrations.RemoveField(model_name="asset", name="fingerprint"),
        migrations.RemoveField(model_name="manifestrow", name="fingerprint"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="asset",
                    name="last_import",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="catalog.manifestimport",
                    ),
                ),
                migrations.AlterField(
                    model_name="manifestrow",
                    name="manifest_import",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.manifestimport",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
