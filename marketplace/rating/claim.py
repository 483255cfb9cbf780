"""Claiming unrated usage for a run and aggregating it, in the database.

On PostgreSQL one statement marks the events with the run, flags those that cannot be charged, records
newly delivered unique assets and returns one row per licence, metric, usage month, owner group and flag
(an asset's owner group is its own co-owners, else its corpus's, else the licensor alone):
the events never travel to Python. The embedded SQLite default does the same in a few statements and
sums in Python, which is exact and fine at demo scale.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from marketplace.usage.models import Metric

UNIQUE_ASSETS = "unique_assets"


@dataclass(frozen=True, slots=True)
class Aggregate:
    licence_id: int
    metric: str  # an event metric, or UNIQUE_ASSETS
    usage_period: dt.date  # first day of the month
    flag: str
    owners: list | None  # the assets' co-owners (their own, else their corpus's); None for usage without an asset
    quantity: Decimal
    event_count: int
    first_at: dt.datetime
    last_at: dt.datetime
    digest: str  # of the ids of the events (or assets) aggregated


_PG_SQL = """
WITH claimed AS (
    UPDATE usage_usageevent u SET rating_run_id = %(run)s
     WHERE u.rating_run_id IS NULL AND u.licence_id = ANY(%(licences)s)
 RETURNING u.id, u.licence_id, u.asset_id, u.metric, u.quantity, u.occurred_at
), flagged AS (
    SELECT c.*, CASE
             WHEN c.occurred_at < l.starts_at OR c.occurred_at >= l.ends_at THEN 'outside_term'
             WHEN l.status IN ('suspended', 'terminated') AND c.occurred_at >= l.status_changed_at THEN l.status
             WHEN m.settled_at IS NOT NULL THEN 'after_settlement'
             ELSE '' END AS flag
      FROM claimed c
      JOIN licensing_licence l ON l.id = c.licence_id
      JOIN rating_licencemeter m ON m.licence_id = c.licence_id
), new_assets AS (
    INSERT INTO rating_deliveredasset (licence_id, asset_id, first_delivered_at, rating_run_id)
    SELECT f.licence_id, f.asset_id, min(f.occurred_at), %(run)s
      FROM flagged f
     WHERE f.metric = 'assets_delivered' AND f.asset_id IS NOT NULL AND f.flag = ''
       AND f.licence_id = ANY(%(asset_plans)s)
     GROUP BY f.licence_id, f.asset_id
        ON CONFLICT (licence_id, asset_id) DO NOTHING
 RETURNING licence_id, asset_id, first_delivered_at
)
SELECT f.licence_id, f.metric, date_trunc('month', f.occurred_at AT TIME ZONE 'UTC')::date, f.flag,
       COALESCE(NULLIF(a.co_owners, '[]'::jsonb), k.co_owners)::text, sum(f.quantity), count(*),
       min(f.occurred_at), max(f.occurred_at), md5(string_agg(f.id::text, ',' ORDER BY f.id))
  FROM flagged f LEFT JOIN catalog_asset a ON a.id = f.asset_id LEFT JOIN catalog_corpus k ON k.id = a.corpus_id
 GROUP BY 1, 2, 3, 4, 5
UNION ALL
SELECT n.licence_id, 'unique_assets', date_trunc('month', n.first_delivered_at AT TIME ZONE 'UTC')::date, '',
       COALESCE(NULLIF(a.co_owners, '[]'::jsonb), k.co_owners)::text, count(*), count(*),
       min(n.first_delivered_at), max(n.first_delivered_at), md5(string_agg(n.asset_id::text, ',' ORDER BY n.asset_id))
  FROM new_assets n JOIN catalog_asset a ON a.id = n.asset_id JOIN catalog_corpus k ON k.id = a.corpus_id
 GROUP BY 1, 2, 3, 4, 5
"""


def claim_and_aggregate(*, run_id: int, licence_ids: list[int], asset_plan_ids: list[int]) -> list[Aggregate]:
    """Mark every unrated event of these licences as taken by ``run_id`` and return their aggregates.

    Must run inside the transaction that books the charges, with the licences' meters locked.
    """
    if not licence_ids:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_SQL, {"run": run_id, "licences": licence_ids, "asset_plans": asset_plan_ids or [0]})
            rows = cursor.fetchall()
        return [
            Aggregate(
                licence_id=row[0],
                metric=row[1],
                usage_period=row[2],
                flag=row[3],
                owners=None if row[4] is None else json.loads(row[4]),
                quantity=row[5],
                event_count=row[6],
                first_at=row[7],
                last_at=row[8],
                digest=row[9],
            )
            for row in rows
        ]
    return _claim_portable(run_id, licence_ids, set(asset_plan_ids))


def _flag(occurred: dt.datetime, licence: dict) -> str:
    if occurred < licence["starts_at"] or occurred >= licence["ends_at"]:
        return "outside_term"
    changed = licence["status_changed_at"]
    if licence["status"] in ("suspended", "terminated") and changed is not None and occurred >= changed:
        return licence["status"]
    if licence["meter__settled_at"] is not None:
        return "after_settlement"
    return ""


def _claim_portable(run_id: int, licence_ids: list[int], asset_plans: set[int]) -> list[Aggregate]:
    from marketplace.catalog.models import Asset
    from marketplace.licensing.models import Licence
    from marketplace.rating.models import DeliveredAsset
    from marketplace.usage.models import UsageEvent

    UsageEvent.objects.filter(rating_run__isnull=True, licence_id__in=licence_ids).update(rating_run_id=run_id)
    licences = {
        row["id"]: row
        for row in Licence.objects.filter(pk__in=licence_ids).values(
            "id", "starts_at", "ends_at", "status", "status_changed_at", "meter__settled_at"
        )
    }
    events = UsageEvent.objects.filter(rating_run_id=run_id, licence_id__in=licence_ids).values_list(
        "id", "licence_id", "asset_id", "metric", "quantity", "occurred_at"
    )
    groups: dict[tuple, list] = {}
    new_assets: dict[tuple[int, int], dt.datetime] = {}
    owners_of: dict[int, str] = {}
    rows = list(events.order_by("id"))
    asset_ids = {row[2] for row in rows if row[2] is not None}
    owners_of = {
        pk: json.dumps(own or corpus_shares)
        for pk, own, corpus_shares in Asset.objects.filter(pk__in=asset_ids).values_list(
            "id", "co_owners", "corpus__co_owners"
        )
    }
    for pk, licence_id, asset_id, metric, quantity, occurred in rows:
        flag = _flag(occurred, licences[licence_id])
        key = (licence_id, metric, occurred.date().replace(day=1), flag, owners_of.get(asset_id))
        group = groups.setdefault(key, [Decimal(0), 0, occurred, occurred, []])
        group[0] += quantity
        group[1] += 1
        group[2], group[3] = min(group[2], occurred), max(group[3], occurred)
        group[4].append(pk)
        if metric == Metric.ASSETS_DELIVERED and asset_id is not None and not flag and licence_id in asset_plans:
            seen = new_assets.get((licence_id, asset_id))
            new_assets[(licence_id, asset_id)] = occurred if seen is None else min(seen, occurred)
    known = set(
        DeliveredAsset.objects.filter(licence_id__in={k[0] for k in new_assets}).values_list("licence_id", "asset_id")
    )
    fresh = {k: v for k, v in new_assets.items() if k not in known}
    DeliveredAsset.objects.bulk_create(
        [
            DeliveredAsset(licence_id=lic, asset_id=a, first_delivered_at=t, rating_run_id=run_id)
            for (lic, a), t in fresh.items()
        ]
    )
    asset_groups: dict[tuple, list] = defaultdict(list)
    for (licence_id, asset_id), first in sorted(fresh.items()):
        asset_groups[(licence_id, first.date().replace(day=1), owners_of.get(asset_id))].append((asset_id, first))
    result = [
        Aggregate(lic, m, p, f, None if o is None else json.loads(o), q, n, a, b, _digest(ids))
        for (lic, m, p, f, o), (q, n, a, b, ids) in groups.items()
    ]
    result += [
        Aggregate(
            lic, UNIQUE_ASSETS, p, "", None if o is None else json.loads(o), Decimal(len(items)), len(items),
            min(t for _, t in items), max(t for _, t in items), _digest(sorted(a for a, _ in items)),
        )
        for (lic, p, o), items in asset_groups.items()
    ]  # fmt: skip
    return result


def _digest(ids: list[int]) -> str:
    return hashlib.md5(",".join(map(str, ids)).encode(), usedforsecurity=False).hexdigest()
