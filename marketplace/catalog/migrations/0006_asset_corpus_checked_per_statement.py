"""PostgreSQL: an asset's corpus is checked once per statement, not by a per-row foreign key (ADR 0011).

SQLite keeps its foreign key: changing it there would rebuild the asset table and drop the usage trigger on it.
"""

import django.db.models.deletion
from django.db import migrations, models

from marketplace.catalog.sql import install

_FOREIGN_KEY = "catalog_asset_corpus_id_618fc2b1_fk_catalog_corpus_id"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE catalog_asset DROP CONSTRAINT IF EXISTS {_FOREIGN_KEY}")
    install(apps, schema_editor)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS catalog_asset_corpus_refs ON catalog_asset;"
        "DROP TRIGGER IF EXISTS catalog_asset_corpus_fixed ON catalog_asset;"
        "DROP TRIGGER IF EXISTS catalog_corpus_keep_assets ON catalog_corpus;"
    )
    schema_editor.execute(
        f"ALTER TABLE catalog_asset ADD CONSTRAINT {_FOREIGN_KEY} FOREIGN KEY (corpus_id) "
        "REFERENCES catalog_corpus (id) DEFERRABLE INITIALLY DEFERRED"
    )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_manifest_sql_staging")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="asset",
                    name="corpus",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assets",
                        to="catalog.corpus",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
