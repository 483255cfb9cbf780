"""The corpus' listing price, kept in step with its published offers."""

from __future__ import annotations

import math
from fractions import Fraction

from django.db import transaction

from marketplace.catalog.models import Corpus, Offer, OfferStatus
from marketplace.pricing import CorpusShape, PricePlan, quantity_for_hours, quote

REFERENCE_HOURS = 1_000
# The listing columns are 64-bit. A plan may price an hour past that (a price per asset of tiny assets): it is stored
# at the ceiling, above every price a filter can ask for, rather than failing the import or the publish that
# refreshed it.
LISTED_PRICE_MAX = 2**63 - 1


def shape_of(corpus: Corpus) -> CorpusShape:
    return CorpusShape.of(
        asset_count=corpus.asset_count, total_seconds=corpus.total_seconds, total_bytes=corpus.total_bytes
    )


def _stored(per_hour: Fraction) -> int:
    """Rounded up, so that a "price up to" filter never admits a corpus that costs more; at most the ceiling."""
    return min(math.ceil(per_hour), LISTED_PRICE_MAX)


@transaction.atomic
def corpus_refresh_price(corpus_id: int) -> None:
    """Store the lowest published price per hour, measured at 1,000 hours, for browsing and filters.

    Under the corpus lock, which imports and withdrawals hold while they change the totals: a refresh that
    read the totals before one of them committed would otherwise overwrite its price with a stale one.
    """
    corpus = Corpus.objects.select_for_update().get(pk=corpus_id)
    shape = shape_of(corpus)
    per_currency: dict[str, Fraction] = {}
    listed: dict[int, tuple[int | None, str]] = {}
    for offer in corpus.offers.prefetch_related("versions"):
        version = max((v for v in offer.versions.all() if v.published), key=lambda v: v.number, default=None)
        if version is None or offer.status != OfferStatus.PUBLISHED:
            listed[offer.pk] = (None, "")
            continue
        plan = PricePlan.from_dict(version.price_plan)
        total = quote(plan, quantity_for_hours(plan, REFERENCE_HOURS, shape)).total
        per_hour = Fraction(total, REFERENCE_HOURS)
        listed[offer.pk] = (_stored(per_hour), plan.currency)
        if plan.currency not in per_currency or per_hour < per_currency[plan.currency]:
            per_currency[plan.currency] = per_hour
    for offer_id, (price, currency) in listed.items():
        Offer.objects.filter(pk=offer_id).update(listed_price_per_hour=price, listed_currency=currency)
    # The headline price: the fewest minor units of any currency, as shown on listings.
    best = min(((price, currency) for currency, price in per_currency.items()), default=None)
    Corpus.objects.filter(pk=corpus_id).update(
        price_per_hour_from=None if best is None else _stored(best[0]),
        price_currency="" if best is None else best[1],
        prices_per_hour={currency: _stored(price) for currency, price in sorted(per_currency.items())},
    )
