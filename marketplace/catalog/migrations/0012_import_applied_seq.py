from django.db import migrations, models


def number_applied_imports(apps, schema_editor):
    """Imports applied before the sequence existed are numbered in the order their workers' clocks gave."""
    ManifestImport = apps.get_model("catalog", "ManifestImport")
    seq: dict[int, int] = {}
    done = ManifestImport.objects.filter(status="done").order_by("corpus_id", "finished_at", "pk")
    for pk, corpus_id in done.values_list("pk", "corpus_id").iterator():
        seq[corpus_id] = seq.get(corpus_id, 0) + 1
        ManifestImport.objects.filter(pk=pk).update(applied_seq=seq[corpus_id])


class Migration(migrations.Migration):
    dependencies = [("catalog", "0011_offer_version_name")]

    operations = [
        migrations.AddField(
            model_name="manifestimport",
            name="applied_seq",
            field=models.PositiveBigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(number_applied_imports, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="manifestimport",
            constraint=models.UniqueConstraint(
                fields=("corpus", "applied_seq"), name="catalog_import_applied_seq_uniq"
            ),
        ),
    ]
