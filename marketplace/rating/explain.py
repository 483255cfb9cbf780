"""Explaining a charge: the events behind it, and recomputing it from them.

A rights holder does not have to trust the figures: the events a charge lists sum to its quantities, and the
frozen plan prices the increment to its amount; both are checked here, from the raw rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from marketplace.pricing import PricePlan, incremental_charge
from marketplace.rating.claim import UNIQUE_ASSETS
from marketplace.rating.models import DeliveredAsset, RatingCharge
from marketplace.usage.models import UsageEvent

EVENT_COLUMNS = ["event_id", "occurred_at", "received_at", "metric", "quantity", "asset_id", "asset_external_id",
                 "source", "rating_run", "licence"]  # fmt: skip


def charge_events(charge: RatingCharge):
    """The usage events a charge rated (a run can book one licence into two months: each charge keeps its own)."""
    periods = sorted({line.usage_period for line in charge.lines.all() if line.metric != UNIQUE_ASSETS})
    events = UsageEvent.objects.filter(rating_run_id=charge.run_id, licence_id=charge.licence_id)
    if not periods:
        return events.none()
    return events.annotate(month=TruncMonth("occurred_at")).filter(month__date__in=periods).order_by("id")


def event_rows(charge: RatingCharge):
    for row in (
        charge_events(charge)
        .values_list(
            "event_id", "occurred_at", "received_at", "metric", "quantity", "asset_id", "asset__external_id", "source"
        )
        .iterator(2000)
    ):
        yield [*row, charge.run_id, charge.licence.public_id]


@dataclass
class Recomputation:
    matches: bool
    event_count: int
    amount: int
    problems: list[str] = field(default_factory=list)


def charge_recompute(charge: RatingCharge) -> Recomputation:
    """Sum the charge's events per metric and month and price the increment again with the frozen plan."""
    problems = []
    stored: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    for line in charge.lines.all():
        key = (line.metric, line.usage_period)
        stored[key][0] += line.quantity
        stored[key][1] += line.event_count
    found: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    for row in charge_events(charge).values("metric", "month").annotate(q=Sum("quantity"), n=Count("id")).order_by():
        found[(row["metric"], row["month"].date())] = [row["q"], row["n"]]
    assets = (
        DeliveredAsset.objects.filter(rating_run_id=charge.run_id, licence_id=charge.licence_id)
        .annotate(month=TruncMonth("first_delivered_at"))
        .values("month")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in assets:
        key = (UNIQUE_ASSETS, row["month"].date())
        if key in stored:
            found[key] = [Decimal(row["n"]), row["n"]]
    for key in sorted(set(stored) | set(found), key=str):
        if stored.get(key) != found.get(key):
            problems.append(
                f"{key[0]} in {key[1]:%Y-%m}: the charge says {stored.get(key)}, the events {found.get(key)}"
            )
    plan = PricePlan.from_dict(charge.plan)
    amount = charge.amount
    if charge.kind == "usage" and plan.metric:
        from marketplace.rating.services import plan_quantity

        priced = sum((line.quantity for line in charge.lines.all() if line.priced and not line.flag), Decimal(0))
        if charge.quantity_after - charge.quantity_before != priced:
            problems.append(
                f"the billable quantity is {priced}, the meter moved {charge.quantity_after - charge.quantity_before}"
            )
        amount = incremental_charge(
            plan, plan_quantity(plan, charge.quantity_before), plan_quantity(plan, charge.quantity_after)
        )
        if amount != charge.amount:
            problems.append(f"the plan prices the increment at {amount}, the charge is {charge.amount}")
    if charge.commission + sum(r["amount"] for r in charge.royalties) != charge.amount:
        problems.append("commission and royalties do not add up to the charge")
    return Recomputation(not problems, sum(n for _, n in found.values()), amount, problems)


def owners_label(owners) -> str:
    if owners is None:
        return "licence split (no asset)"
    if not owners:
        return "licensor"
    return (
        ", ".join(f"{o['org']} {o['bp'] / 100:g}%" for o in owners) if isinstance(owners, list) else json.dumps(owners)
    )
