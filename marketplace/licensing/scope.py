"""What part of a corpus a licence covers: all of it, or the assets matching some filters."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from marketplace.catalog.manifest import external_id_key
from marketplace.catalog.models import Asset, AssetStatus, Corpus
from marketplace.catalog.selectors import json_list_contains

FILTERS = {
    "languages": "BCP 47 tags; assets in any of them",
    "codecs": "codecs; assets in any of them",
    "min_duration_seconds": "shortest asset, in seconds",
    "max_duration_seconds": "longest asset, in seconds",
    "min_height": "lowest vertical resolution, in pixels",
    "territory": "an ISO 3166-1 code the asset must be licensable in",
    "external_ids": "an explicit list of up to 10,000 external ids",
}


def clean_scope(raw) -> dict:
    """Validate a scope from the API; errors name the field."""
    if raw in (None, {}, {"type": "corpus"}):
        return {"type": "corpus"}
    if not isinstance(raw, dict) or raw.get("type") not in ("corpus", "filter"):
        raise ValidationError({"scope": 'Use {"type": "corpus"} or {"type": "filter", "filters": {…}}.'})
    if raw["type"] == "corpus":
        return {"type": "corpus"}
    filters = raw.get("filters")
    if not isinstance(filters, dict) or not filters:
        raise ValidationError({"scope.filters": f"Give at least one filter: {', '.join(FILTERS)}."})
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ValidationError({f"scope.filters.{unknown[0]}": f"Unknown filter; use one of: {', '.join(FILTERS)}."})
    clean: dict = {}
    for name in ("languages", "codecs", "external_ids"):
        if name in filters:
            values = filters[name]
            if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
                raise ValidationError({f"scope.filters.{name}": "Give a non-empty list of strings."})
            if len(values) > 10_000:
                raise ValidationError({f"scope.filters.{name}": "At most 10,000 values."})
            if name == "external_ids":
                values = [external_id_key(v) for v in values]  # as ids are stored
            clean[name] = sorted(set(values))
    for name in ("min_duration_seconds", "max_duration_seconds", "min_height"):
        if name in filters:
            try:
                value = Decimal(str(filters[name]))
                if value < 0:
                    raise InvalidOperation
            except InvalidOperation:
                raise ValidationError({f"scope.filters.{name}": "Give a non-negative number."}) from None
            clean[name] = str(value)
    if "territory" in filters:
        territory = str(filters["territory"]).upper()
        if len(territory) != 2:
            raise ValidationError({"scope.filters.territory": "Give one ISO 3166-1 alpha-2 code."})
        clean["territory"] = territory
    return {"type": "filter", "filters": clean}


def scope_assets(corpus: Corpus, scope: dict) -> QuerySet[Asset]:
    """The active assets of ``corpus`` that ``scope`` selects."""
    assets = Asset.objects.filter(corpus=corpus, status=AssetStatus.ACTIVE)
    if scope.get("type") != "filter":
        return assets
    f = scope["filters"]
    if "languages" in f:
        assets = assets.filter(language__in=f["languages"])
    if "codecs" in f:
        assets = assets.filter(codec__in=[c.lower() for c in f["codecs"]])
    if "external_ids" in f:
        # Scopes frozen before ids were stored in NFC may list another form.
        assets = assets.filter(external_id__in=[external_id_key(i) for i in f["external_ids"]])
    if "min_duration_seconds" in f:
        assets = assets.filter(duration_seconds__gte=Decimal(f["min_duration_seconds"]))
    if "max_duration_seconds" in f:
        assets = assets.filter(duration_seconds__lte=Decimal(f["max_duration_seconds"]))
    if "min_height" in f:
        assets = assets.filter(height__gte=int(Decimal(f["min_height"])))
    if "territory" in f:
        assets = assets.filter(
            Q(territories=[])
            | json_list_contains("territories", f["territory"])
            | json_list_contains("territories", "WW")
        )
    return assets
