"""Imports record their progress as a percent of reading and checking, written by the import itself."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_manifest_row_one_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="manifestimport",
            name="progress",
            field=models.PositiveSmallIntegerField(default=0, help_text="Percent of reading and checking done."),
        ),
    ]
