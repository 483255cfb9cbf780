"""Who earns a licence's royalties, and in what proportion."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum


def co_owner_parties(co_owners: list | None, licensor_party: str) -> list[tuple[str, int]]:
    """An asset's rights holders as (party, basis points); an asset without co-owners is all the licensor's."""
    if not co_owners:
        return [(licensor_party, 10_000)]
    return [(f"org:{owner['org']}", int(owner["bp"])) for owner in co_owners]


def licence_owner_weights(licence_ids) -> dict[int, list[tuple[str, int]]]:
    """Royalty weights per rights holder for each licence: every licensed asset's seconds, split by its co-owner
    shares (the asset's own, else its corpus's). Integer weights in party order, so that remainders always land
    the same way."""
    from marketplace.licensing.models import Licence, LicenceAsset

    licensors = dict(Licence.objects.filter(pk__in=licence_ids).values_list("pk", "licensor__slug"))
    weights: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    groups = (
        LicenceAsset.objects.filter(licence_id__in=licensors)
        .values("licence_id", "asset__co_owners", "asset__corpus__co_owners")
        .annotate(seconds=Sum("asset__duration_seconds"))
        .order_by()
    )
    for row in groups:
        licence_id = row["licence_id"]
        shares = row["asset__co_owners"] or row["asset__corpus__co_owners"]
        for party, bp in co_owner_parties(shares, f"org:{licensors[licence_id]}"):
            weights[licence_id][party] += Decimal(row["seconds"] or 0) * bp / 10_000
    return {
        licence_id: [(party, int(w * 1000)) for party, w in sorted(weights[licence_id].items()) if w > 0]
        for licence_id in licensors
    }
