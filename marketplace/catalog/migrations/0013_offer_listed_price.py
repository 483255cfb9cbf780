import math
from fractions import Fraction

from django.db import migrations, models

REFERENCE_HOURS = 1_000


def list_offer_prices(apps, schema_editor):
    """Each offer on sale gets its listed price, computed as services.listing does (pricing is a pure module)."""
    from marketplace.pricing import CorpusShape, PricePlan, quantity_for_hours, quote

    Offer = apps.get_model("catalog", "Offer")
    OfferVersion = apps.get_model("catalog", "OfferVersion")
    for offer in Offer.objects.filter(status="published").select_related("corpus").iterator():
        version = OfferVersion.objects.filter(offer=offer, published=True).order_by("-number").first()
        if version is None:
            continue
        corpus = offer.corpus
        shape = CorpusShape.of(
            asset_count=corpus.asset_count, total_seconds=corpus.total_seconds, total_bytes=corpus.total_bytes
        )
        plan = PricePlan.from_dict(version.price_plan)
        total = quote(plan, quantity_for_hours(plan, REFERENCE_HOURS, shape)).total
        Offer.objects.filter(pk=offer.pk).update(
            listed_price_per_hour=math.ceil(Fraction(total, REFERENCE_HOURS)), listed_currency=plan.currency
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0012_import_applied_seq")]

    operations = [
        migrations.AddField(
            model_name="offer",
            name="listed_currency",
            field=models.CharField(blank=True, default="", editable=False, max_length=3),
        ),
        migrations.AddField(
            model_name="offer",
            name="listed_price_per_hour",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(list_offer_prices, migrations.RunPython.noop),
    ]
