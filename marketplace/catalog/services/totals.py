"""Corpus totals, recomputed in SQL inside the transaction that changed the assets."""

from decimal import Decimal

from django.db import OperationalError
from django.db.models import Count, DecimalField, Min, Sum, Value
from django.db.models.functions import Coalesce

from marketplace.catalog.models import Asset, AssetStatus, Corpus

MAX_TOTAL_BYTES = 2**63 - 1  # the columns' limits: a bigint, and numeric(18, 3)
MAX_TOTAL_SECONDS = Decimal(10**15) - Decimal("0.001")


_TOO_LARGE = (
    f"Together the corpus' assets would total more than {MAX_TOTAL_BYTES:,} bytes or {MAX_TOTAL_SECONDS:,} seconds,"
    " more than a corpus can hold: check the size_bytes and duration_seconds columns."
)


class TotalsTooLarge(ValueError):
    """Every row is plausible, but together they exceed what a corpus can total."""


def corpus_recount(corpus_id: int) -> None:
    try:
        totals = Asset.objects.filter(corpus_id=corpus_id, status=AssetStatus.ACTIVE).aggregate(
            count=Count("id"),
            seconds=Coalesce(Sum("duration_seconds"), Value(Decimal(0)), output_field=DecimalField()),
            size=Coalesce(Sum("size_bytes"), 0),
            first_expiry=Min("rights_expiry"),
        )
    except OperationalError as exc:  # SQLite's sum() refuses to pass 64 bits
        if "integer overflow" not in str(exc):
            raise
        raise TotalsTooLarge(_TOO_LARGE) from None
    if totals["size"] > MAX_TOTAL_BYTES or totals["seconds"] > MAX_TOTAL_SECONDS:
        raise TotalsTooLarge(_TOO_LARGE)
    Corpus.objects.filter(pk=corpus_id).update(
        asset_count=totals["count"], total_seconds=totals["seconds"], total_bytes=totals["size"],
        first_rights_expiry=totals["first_expiry"],
    )  # fmt: skip
