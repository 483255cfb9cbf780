"""An import run by the import_manifest command fails when its process stops, instead of being swept and retried."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0024_external_ids_nfc"),
    ]

    operations = [
        migrations.AddField(
            model_name="manifestimport",
            name="run_in_foreground",
            field=models.BooleanField(
                default=False,
                help_text="Run by its uploader's process (the import_manifest command), not a worker: if that "
                "process stops, the import fails instead of being retried behind its back.",
            ),
        ),
    ]
