"""An import's progress is its percent of work done; the bytes read are no longer kept apart."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0009_prices_per_currency"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="manifestimport",
            name="bytes_done",
        ),
    ]
