"""Corpora keep their price per hour per currency, so that the price filter compares within one."""

from django.db import migrations, models


def backfill(apps, schema_editor):
    # Each corpus' stored cheapest price stands for its currency until its offers next change; offers in
    # other currencies appear then (or run corpus_refresh_price).
    Corpus = apps.get_model("catalog", "Corpus")
    for corpus in Corpus.objects.exclude(price_per_hour_from=None).only("pk", "price_per_hour_from", "price_currency"):
        Corpus.objects.filter(pk=corpus.pk).update(prices_per_hour={corpus.price_currency: corpus.price_per_hour_from})


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0008_import_progress"),
    ]

    operations = [
        migrations.AddField(
            model_name="corpus",
            name="prices_per_hour",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
