"""Corpus totals, recomputed in SQL inside the transaction that changed the assets."""

from decimal import Decimal

from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce

from marketplace.catalog.models import Asset, AssetStatus, Corpus


def corpus_recount(corpus_id: int) -> None:
    totals = Asset.objects.filter(corpus_id=corpus_id, status=AssetStatus.ACTIVE).aggregate(
        count=Count("id"),
        seconds=Coalesce(Sum("duration_seconds"), Value(Decimal(0)), output_field=DecimalField()),
        size=Coalesce(Sum("size_bytes"), 0),
    )
    Corpus.objects.filter(pk=corpus_id).update(
        asset_count=totals["count"], total_seconds=totals["seconds"], total_bytes=totals["size"]
    )
