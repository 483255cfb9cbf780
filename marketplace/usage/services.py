"""Usage ingestion: validate a batch item by item, then write it in one statement.

Valid items are stored even when others fail; duplicates (same ``event_id`` for
the same licensee, ever) are dropped by the unique index, not by a lookup.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from marketplace.usage.models import Metric, Source, UsageEvent

FUTURE_TOLERANCE = dt.timedelta(minutes=5)
REPORTABLE = {Metric.SECONDS_DELIVERED, Metric.BYTES_DELIVERED, Metric.ASSETS_DELIVERED, Metric.TRAINING_HOURS}
MAX_QUANTITY = Decimal("1e15")
TRAINING_USES = {"pre_training", "fine_tuning"}  # the permitted uses under which training may be reported


@dataclass
class IngestResult:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)


def _error(result: IngestResult, index: int, event_id, field_name: str, message: str) -> None:
    result.errors.append({"index": index, "event_id": event_id, "field": field_name, "message": message})


def usage_ingest(*, licensee, events, source: str = Source.LICENSEE_REPORT) -> IngestResult:
    """Store a batch of reported usage; each bad item is named in ``errors`` with its index and field."""
    from marketplace.licensing.models import Licence, LicenceAsset

    result = IngestResult()
    if not isinstance(events, list):
        _error(result, -1, None, "events", "Send a JSON list of events.")
        return result
    if len(events) > settings.USAGE_BATCH_LIMIT:
        _error(
            result,
            -1,
            None,
            "events",
            f"A batch holds at most {settings.USAGE_BATCH_LIMIT:,} events; this one has {len(events):,}.",
        )
        return result
    result.received = len(events)
    licence_ids = {e.get("licence") for e in events if isinstance(e, dict) and isinstance(e.get("licence"), str)}
    licences = {
        public_id: (pk, starts, ends, status, uses)
        for public_id, pk, starts, ends, status, uses in Licence.objects.filter(
            licensee=licensee, public_id__in=licence_ids
        ).values_list("public_id", "pk", "starts_at", "ends_at", "status", "offer_version__permitted_uses")
    }
    now = timezone.now()
    candidates = []
    pairs = set()
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            _error(result, index, None, "", "Each event must be a JSON object.")
            continue
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id or len(event_id) > 200:
            _error(
                result,
                index,
                event_id,
                "event_id",
                "Give an event_id: a string of 1 to 200 characters, unique to this event.",
            )
            continue
        licence = licences.get(event.get("licence"))
        if licence is None:
            _error(result, index, event_id, "licence", f"Unknown licence {event.get('licence')!r}.")
            continue
        metric = event.get("metric")
        if metric not in REPORTABLE:
            _error(
                result,
                index,
                event_id,
                "metric",
                f"Metric {metric!r} is not allowed; use one of: {', '.join(sorted(REPORTABLE))}.",
            )
            continue
        try:
            quantity = Decimal(str(event.get("quantity")))
            if not quantity.is_finite() or quantity <= 0 or quantity > MAX_QUANTITY:
                raise InvalidOperation
            if quantity.as_tuple().exponent < -6:  # type: ignore[operator]
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            _error(
                result,
                index,
                event_id,
                "quantity",
                "The quantity must be a positive number with at most 6 decimal places.",
            )
            continue
        occurred = parse_datetime(event["occurred_at"]) if isinstance(event.get("occurred_at"), str) else None
        if occurred is None or occurred.tzinfo is None:
            _error(result, index, event_id, "occurred_at", "Give occurred_at as an ISO 8601 time with a time zone.")
            continue
        pk, starts, ends, _status, uses = licence
        if metric == Metric.TRAINING_HOURS and not TRAINING_USES & set(uses or []):
            _error(
                result,
                index,
                event_id,
                "metric",
                f"Metric 'training_hours' is not allowed under licence {event['licence']}: its terms permit "
                f"{', '.join(uses or []) or 'no use'}, not training.",
            )
            continue
        if occurred > now + FUTURE_TOLERANCE:
            _error(result, index, event_id, "occurred_at", "This time is in the future.")
            continue
        if not starts <= occurred < ends:
            _error(
                result,
                index,
                event_id,
                "occurred_at",
                f"This time is outside the licence term ({starts.isoformat()} to {ends.isoformat()}).",
            )
            continue
        asset = event.get("asset")
        if asset is not None and (not isinstance(asset, int) or isinstance(asset, bool)):
            _error(result, index, event_id, "asset", "The asset is the integer id from the licence manifest.")
            continue
        if asset is not None:
            pairs.add((pk, asset))
        candidates.append((index, event_id, pk, asset, metric, quantity, occurred))
    if pairs:
        found = set(
            LicenceAsset.objects.filter(
                licence_id__in={p for p, _ in pairs}, asset_id__in={a for _, a in pairs}
            ).values_list("licence_id", "asset_id")
        )
        kept = []
        for item in candidates:
            index, event_id, pk, asset = item[:4]
            if asset is not None and (pk, asset) not in found:
                _error(
                    result,
                    index,
                    event_id,
                    "asset",
                    f"Asset {asset} is not part of licence {events[index]['licence']}.",
                )
            else:
                kept.append(item)
        candidates = kept
    result.errors.sort(key=lambda e: e["index"])
    inserted = _insert(licensee.pk, [(e, p, a, m, q, o) for _, e, p, a, m, q, o in candidates], source)
    result.accepted = inserted
    result.duplicates = len(candidates) - inserted
    return result


def _insert(licensee_id: int, rows: list[tuple], source: str) -> int:
    """One statement for the whole batch; duplicates are skipped by the unique index."""
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        payload = json.dumps(
            [{"e": e, "l": p, "a": a, "m": m, "q": str(q), "o": o.isoformat()} for e, p, a, m, q, o in rows],
            separators=(",", ":"),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO usage_usageevent (licensee_id, event_id, licence_id, asset_id, metric, quantity,
                                              occurred_at, received_at, source)
                SELECT %s, r.e, r.l, r.a, r.m, r.q, r.o, now(), %s
                  FROM json_to_recordset(%s::json) AS r(e text, l bigint, a bigint, m text, q numeric, o timestamptz)
                    ON CONFLICT (licensee_id, event_id) DO NOTHING
                """,
                [licensee_id, source, payload],
            )
            return cursor.rowcount
    before = UsageEvent.objects.filter(licensee_id=licensee_id).count()
    UsageEvent.objects.bulk_create(
        [
            UsageEvent(
                licensee_id=licensee_id,
                event_id=e,
                licence_id=p,
                asset_id=a,
                metric=m,
                quantity=q,
                occurred_at=o,
                source=source,
            )
            for e, p, a, m, q, o in rows
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    return UsageEvent.objects.filter(licensee_id=licensee_id).count() - before


def usage_record_delivery(*, licensee, licence, asset, events, occurred_at, source) -> int:
    """Meter a delivery measured by ClearFrame itself; ids derive from the link, so retries count once."""
    return _insert(licensee.pk, [(e, licence.pk, asset.pk, m, Decimal(q), occurred_at) for e, m, q in events], source)


def usage_summary(
    *, licensee, licence_id: str | None = None, date_from: dt.date | None = None, date_to: dt.date | None = None
):
    """Totals per licence, metric and day (UTC)."""
    from django.db.models import Count, Sum
    from django.db.models.functions import TruncDate

    events = UsageEvent.objects.filter(licensee=licensee)
    if licence_id:
        events = events.filter(licence__public_id=licence_id)
    if date_from:
        events = events.filter(occurred_at__date__gte=date_from)
    if date_to:
        events = events.filter(occurred_at__date__lte=date_to)
    return (
        events.annotate(day=TruncDate("occurred_at", tzinfo=dt.UTC))
        .values("licence__public_id", "metric", "day")
        .annotate(quantity=Sum("quantity"), events=Count("id"))
        .order_by("day", "licence__public_id", "metric")
    )
