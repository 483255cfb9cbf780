"""Drop the asset indexes that every imported row paid for and no query needs."""

import django.db.models.deletion
from django.db import migrations, models

# Dropped by name rather than by AlterField: on SQLite, AlterField rebuilds the
# table, which would drop the usage app's trigger on it.
_DROPPED = ["catalog_asset_corpus_id_618fc2b1", "catalog_asset_last_import_id_ba702496",
            "catalog_asset_withdrawal_id_f48f4883"]  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_corpus_co_owners")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="asset",
                    name="corpus",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assets",
                        to="catalog.corpus",
                    ),
                ),
                migrations.AlterField(
                    model_name="asset",
                    name="last_import",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="catalog.manifestimport",
                    ),
                ),
                migrations.AlterField(
                    model_name="asset",
                    name="withdrawal",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="catalog.withdrawal",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(f"DROP INDEX IF EXISTS {name}", migrations.RunSQL.noop) for name in _DROPPED
            ],
        ),
        migrations.AddIndex(
            model_name="asset",
            index=models.Index(
                condition=models.Q(("withdrawal__isnull", False)),
                fields=["withdrawal"],
                name="catalog_asset_withdrawn_idx",
            ),
        ),
    ]
