"""Staged manifest rows keep one index: (manifest_import, external_id) also serves lookups by import."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_asset_corpus_checked_per_statement"),
    ]

    operations = [
        migrations.AlterField(
            model_name="manifestrow",
            name="manifest_import",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="catalog.manifestimport",
            ),
        ),
    ]
