from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def name_each_version(apps, schema_editor):
    """Versions made before names were versioned take the offer's name, the only one on record."""
    Offer = apps.get_model("catalog", "Offer")
    OfferVersion = apps.get_model("catalog", "OfferVersion")
    OfferVersion.objects.update(name=Subquery(Offer.objects.filter(pk=OuterRef("offer_id")).values("name")[:1]))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0010_import_progress_replaces_bytes")]

    operations = [
        migrations.AddField(
            model_name="offerversion",
            name="name",
            field=models.CharField(default="", max_length=120),
            preserve_default=False,
        ),
        migrations.RunPython(name_each_version, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="offer",
            name="name",
            field=models.CharField(help_text="The latest version's name; each version keeps its own.", max_length=120),
        ),
    ]
