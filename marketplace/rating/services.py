"""Rating: unrated usage becomes charges in the royalty ledger.

A run locks the meters of a set of licences, claims every unrated event of those licences, aggregates them in
the database, prices each licence's increment with its frozen plan (the price of the cumulative quantity after
the run minus the price before it) and posts one journal entry per licence and billing month, all in one
transaction. The entry's idempotency key is derived from the licence and the exact events it rated. A crash
anywhere rolls everything back, so the events are simply rated again by the next run: nothing is charged twice
and nothing is dropped.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ledger import services as ledger
from marketplace.events.models import DomainEvent
from marketplace.finance import postings
from marketplace.invoicing import services as invoicing
from marketplace.licensing.models import Licence
from marketplace.licensing.owners import co_owner_parties, licence_owner_weights
from marketplace.periods import month_end
from marketplace.pricing import PricePlan, incremental_charge, tier_breakdown
from marketplace.rating.claim import UNIQUE_ASSETS, Aggregate, claim_and_aggregate
from marketplace.rating.models import ChargeKind, LicenceMeter, RatingCharge, RatingLine, RatingRun
from marketplace.usage.models import Metric, UsageEvent

# Which events measure each plan metric, and how many event units make one plan unit.
PLAN_SOURCES = {
    "hours": (Metric.SECONDS_DELIVERED, 3600),
    "gb": (Metric.BYTES_DELIVERED, 10**9),
    "assets": (UNIQUE_ASSETS, 1),
}


def plan_quantity(plan: PricePlan, native: Decimal | int) -> Fraction:
    """A cumulative quantity in event units (seconds, bytes, assets) in the plan's unit (hours, GB, assets)."""
    return Fraction(Decimal(native)) / PLAN_SOURCES[plan.metric][1] if plan.metric else Fraction(0)


def split_earnings(
    amount: int, commission_bp: int, weights: dict[str, Fraction]
) -> tuple[int, list[tuple[str, Fraction, int]]]:
    """The commission (rounded half-even, once), then the rest split over the rights holders in proportion to
    their weights. Parties are taken in code order and :func:`ledger.allocate` gives the units left over by
    rounding to the largest remainders (the earlier party on a tie), so the parts always sum to the whole."""
    commission = ledger.round_minor(Fraction(amount * commission_bp, 10_000))
    rest = amount - commission
    parties = sorted(p for p, w in weights.items() if w > 0)
    if not parties:
        return amount, []
    parts = ledger.allocate(rest, [weights[p] for p in parties])
    return commission, [(p, weights[p], part) for p, part in zip(parties, parts, strict=True)]


class _Advances:
    """Outstanding advances per (party, currency), read once under a lock and drawn down as a run recoups.

    A recoupment dated ``on`` lowers the advance on that day and every day after, so it may take no more than
    the lowest balance from ``on`` onwards: royalties booked at the end of October never recoup an advance paid
    in November, and the advance account is never below zero on any day.
    """

    def __init__(self, parties: set[tuple[str, str]]):
        existing = {(a.party_ref, a.currency) for a in ledger.accounts_list(code_prefix="advance:")}
        self.history: dict[tuple[str, str], list[tuple[dt.date, int]]] = {}
        self.taken: dict[tuple[str, str], list[tuple[dt.date, int]]] = defaultdict(list)
        wanted = sorted(parties & existing)
        if wanted and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for party, _currency in wanted:  # sorted: every run takes them in the same order
                    cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"advance:{party}"])
        for party, currency in wanted:
            self.history[(party, currency)] = ledger.account_history(f"advance:{party}", currency)

    def _available(self, key: tuple[str, str], on: dt.date) -> int:
        history, taken = self.history[key], self.taken[key]
        days = [day for day, _ in history]
        checkpoints = sorted({on} | {d for d in days if d > on} | {d for d, _ in taken if d > on})
        lowest = None
        for day in checkpoints:
            at = bisect.bisect_right(days, day)
            balance = (history[at - 1][1] if at else 0) - sum(amount for d, amount in taken if d <= day)
            lowest = balance if lowest is None else min(lowest, balance)
        return lowest or 0

    def recoup(self, party: str, currency: str, amount: int, on: dt.date) -> int:
        if (party, currency) not in self.history:
            return 0
        taken = max(0, min(self._available((party, currency), on), amount))  # over-recouped: nothing
        if taken:
            self.taken[(party, currency)].append((on, taken))
        return taken


@dataclass
class _Plan:
    licence: Licence
    plan: PricePlan
    meter: LicenceMeter


def _booking_date(
    usage_period: dt.date, today: dt.date, closed: dt.date | None, invoiced: dt.date | None = None
) -> tuple[dt.date, bool]:
    """When usage of a month is booked: at the month's end (or today, for the current month). Usage of a month
    that is closed in the ledger, or already invoiced to the licensee, is late: it is booked today, in the open
    period, with a reference to the month it belongs to."""
    if (closed is not None and month_end(usage_period) <= closed) or (invoiced and usage_period <= invoiced):
        return today, True
    booked = min(today, month_end(usage_period))
    if closed is not None and booked <= closed:
        booked = closed + dt.timedelta(days=1)
    return booked, False


def _ensure_meters(licence_ids: list[int]) -> None:
    missing = set(licence_ids) - set(
        LicenceMeter.objects.filter(licence_id__in=licence_ids).values_list("licence_id", flat=True)
    )
    if not missing:
        return
    weights = licence_owner_weights(missing)
    meters = []
    for licence_id, price_plan in Licence.objects.filter(pk__in=missing).values_list("pk", "offer_version__price_plan"):
        plan = PricePlan.from_dict(price_plan)
        meters.append(
            LicenceMeter(
                licence_id=licence_id,
                currency=plan.currency,
                plan_metric=plan.metric or "",
                prepaid_total=plan.minimum_guarantee + plan.prepaid_commitment,
                owner_weights=[list(w) for w in weights.get(licence_id, [])],
            )
        )
    LicenceMeter.objects.bulk_create(meters, ignore_conflicts=True)


def _party_weights(aggregates: list[Aggregate], meter: LicenceMeter, licensor_party: str) -> dict[str, Fraction]:
    """Who earns an increment: each line's quantity, split by its assets' co-owners (or, for usage without an
    asset, by the licence's overall weights)."""
    weights: dict[str, Fraction] = defaultdict(Fraction)
    licence_total = sum(w for _, w in meter.owner_weights)
    for agg in aggregates:
        quantity = Fraction(agg.quantity)
        if agg.owners is None and licence_total:
            for party, weight in meter.owner_weights:
                weights[party] += quantity * weight / licence_total
        else:
            for party, bp in co_owner_parties(agg.owners, licensor_party):
                weights[party] += quantity * bp / 10_000
    return weights


def _digest(licence: Licence, aggregates: list[Aggregate]) -> str:
    """Names the exact set of events behind a charge: their ids, hashed per group in the database."""
    parts = sorted(f"{a.metric}|{a.usage_period}|{a.flag}|{a.owners}|{a.digest}" for a in aggregates)
    return hashlib.sha256("\n".join([licence.public_id, *parts]).encode()).hexdigest()


@dataclass
class _Pending:
    """A charge being built: its row, its lines and the entry that will book it."""

    charge: RatingCharge
    lines: list[RatingLine]
    entry: object | None
    cap_reached_now: bool = False  # this charge took the licence past its cap: warn the licensee once


def rating_rate_licences(
    licence_ids, *, trigger: str = RatingRun.Trigger.SCHEDULE, now: dt.datetime | None = None
) -> RatingRun | None:
    """Rate every unrated event of these licences, and settle those whose term is over. One transaction.

    Licences whose meter another run holds are skipped (that run rates them). Returns None if nothing was
    locked.
    """
    now = now or timezone.now()
    licence_ids = sorted(set(licence_ids))
    with transaction.atomic():
        _ensure_meters(licence_ids)
        meters = {
            m.licence_id: m
            for m in LicenceMeter.objects.select_for_update(skip_locked=True)
            .filter(licence_id__in=licence_ids)
            .order_by("licence_id")
        }
        if not meters:
            return None
        locked = sorted(meters)
        licences = Licence.objects.select_related("licensee", "licensor", "offer_version").in_bulk(locked)
        plans = {
            pk: _Plan(licences[pk], PricePlan.from_dict(licences[pk].offer_version.price_plan), meters[pk])
            for pk in locked
        }
        invoicing.rating_lock_shared()  # no month is invoiced while this run books into it
        invoiced = invoicing.invoiced_through({licences[pk].licensee_id for pk in locked})
        run = RatingRun.objects.create(trigger=trigger, started_at=now, finished_at=now)
        aggregates = claim_and_aggregate(
            run_id=run.pk,
            licence_ids=locked,
            asset_plan_ids=[pk for pk in locked if plans[pk].plan.metric == "assets"],
        )
        by_licence: dict[int, list[Aggregate]] = defaultdict(list)
        for agg in aggregates:
            by_licence[agg.licence_id].append(agg)
        grace = dt.timedelta(hours=settings.RATING_SETTLEMENT_GRACE_HOURS)
        settling = [pk for pk in locked if meters[pk].settled_at is None and licences[pk].ends_at + grace <= now]
        if not aggregates and not settling:
            transaction.set_rollback(True)  # another run got there first: leave no empty run behind
            return None
        advances = _Advances(
            {
                (party, plans[pk].plan.currency)
                for pk in set(by_licence) | set(settling)
                for party in _earners(plans[pk], by_licence.get(pk, []))
            }
        )
        today = now.astimezone(dt.UTC).date()
        closed = ledger.closed_through()
        pending: list[_Pending] = []
        for pk in locked:
            if by_licence.get(pk):
                item = plans[pk]
                last_invoiced = invoiced.get((item.licence.licensee_id, item.plan.currency))
                pending += _rate_licence(run, item, by_licence[pk], advances, today, closed, last_invoiced, now)
        for pk in settling:
            settlement = _settle_licence(run, plans[pk], advances, today, closed, now)
            if settlement:
                pending.append(settlement)
        posted = ledger.entries_post([p.entry for p in pending if p.entry is not None])
        entry_ids = iter(posted)
        for item in pending:
            if item.entry is not None:
                item.charge.entry_id = next(entry_ids).id
        RatingCharge.objects.bulk_create([p.charge for p in pending])
        RatingLine.objects.bulk_create([line for p in pending for line in p.lines])
        LicenceMeter.objects.bulk_update(
            [plans[pk].meter for pk in locked],
            ["quantity", "charged", "prepaid_drawn", "flagged_events", "cap_reached_at", "settled_at"],
        )
        _announce(pending)
        run.licence_count = len({p.charge.licence_id for p in pending})
        run.event_count = sum(a.event_count for a in aggregates if a.metric != UNIQUE_ASSETS)
        run.entry_count = len(posted)
        run.finished_at = timezone.now()
        run.save(update_fields=["licence_count", "event_count", "entry_count", "finished_at"])
    return run


def _earners(item: _Plan, aggregates: list[Aggregate]) -> set[str]:
    licensor = item.licence.licensor.party_ref
    parties = {party for party, _ in item.meter.owner_weights} | {licensor}
    for agg in aggregates:
        parties |= {party for party, _ in co_owner_parties(agg.owners, licensor)}
    return parties


def _shares(item: _Plan, amount: int, weights: dict[str, Fraction], advances: _Advances, on: dt.date):
    """Commission and (party, amount, recouped) shares for ``amount`` of earnings booked ``on``, plus an
    explanation."""
    commission_bp = item.licence.offer_version.commission_bp
    commission, parts = split_earnings(amount, commission_bp, weights)
    shares, explained = [], []
    for party, weight, part in parts:
        recouped = advances.recoup(party, item.plan.currency, part, on)
        shares.append((party, part, recouped))
        explained.append({"party": party, "weight": str(weight), "amount": part, "recouped": recouped})
    return commission_bp, commission, shares, explained


def _rate_licence(run, item: _Plan, aggregates, advances, today, closed, invoiced, now) -> list[_Pending]:
    licence, plan, meter = item.licence, item.plan, item.meter
    source = PLAN_SOURCES[plan.metric][0] if plan.metric else None
    booked: dict[dt.date, list[tuple[Aggregate, bool]]] = defaultdict(list)
    for agg in aggregates:
        date, late = _booking_date(agg.usage_period, today, closed, invoiced)
        booked[date].append((agg, late))
    result = []
    for date in sorted(booked):
        group = [agg for agg, _ in booked[date]]
        billable = [agg for agg in group if agg.metric == source and not agg.flag]
        increment = sum((agg.quantity for agg in billable), Decimal(0))
        before = meter.quantity
        after = before + increment
        amount = incremental_charge(plan, plan_quantity(plan, before), plan_quantity(plan, after)) if plan.metric else 0
        drawn = min(amount, meter.prepaid_total - meter.prepaid_drawn)
        weights = _party_weights(billable, meter, licence.licensor.party_ref)
        commission_bp, commission, shares, explained = _shares(item, amount, weights, advances, date)
        cap_exceeded = bool(plan.usage_cap is not None and plan_quantity(plan, after) > plan.usage_cap)
        meter.quantity = after
        meter.charged += amount
        meter.prepaid_drawn += drawn
        meter.flagged_events += sum(agg.event_count for agg in group if agg.flag and agg.metric != UNIQUE_ASSETS)
        cap_reached_now = cap_exceeded and meter.cap_reached_at is None
        if cap_reached_now:
            meter.cap_reached_at = now
        late_periods = sorted({agg.usage_period.isoformat() for agg, late in booked[date] if late})
        key = f"rating:{licence.public_id}:{date:%Y-%m}:{_digest(licence, group)[:40]}"
        charge = RatingCharge(
            run=run,
            licence=licence,
            licensee=licence.licensee,
            licensor=licence.licensor,
            kind=ChargeKind.USAGE,
            currency=plan.currency,
            billing_period=date.replace(day=1),
            effective_date=date,
            late_periods=late_periods,
            plan=plan.to_dict(),
            plan_metric=plan.metric or "",
            quantity_before=before,
            quantity_after=after,
            tiers=tier_breakdown(plan, plan_quantity(plan, before), plan_quantity(plan, after)) if plan.metric else [],
            amount=amount,
            prepaid_drawn=drawn,
            receivable=amount - drawn,
            commission=commission,
            commission_bp=commission_bp,
            royalties=explained,
            event_count=sum(agg.event_count for agg in group if agg.metric != UNIQUE_ASSETS),
            events_digest=key.rsplit(":", 1)[1],
            idempotency_key=key,
            cap_exceeded=cap_exceeded,
        )
        lines = [
            RatingLine(
                charge=charge,
                metric=agg.metric,
                usage_period=agg.usage_period,
                owners=agg.owners,
                flag=agg.flag,
                quantity=agg.quantity,
                event_count=agg.event_count,
                first_occurred_at=agg.first_at,
                last_occurred_at=agg.last_at,
                priced=agg.metric == source,
            )
            for agg in group
        ]
        entry = None
        if amount:
            entry = postings.usage_charge_entry(
                key=key,
                description=f"Usage rated: licence {licence.public_id} ({licence.licensee.name})",
                effective_date=date,
                currency=plan.currency,
                licensee=licence.licensee.party_ref,
                prepaid_drawn=drawn,
                receivable=amount - drawn,
                commission=commission,
                shares=shares,
                metadata={
                    "rating_run": run.pk,
                    "licence": licence.public_id,
                    "events": charge.event_count,
                    "late_periods": late_periods,
                },
            )
        result.append(_Pending(charge, lines, entry, cap_reached_now))
    return result


def _settle_licence(run, item: _Plan, advances, today, closed, now) -> _Pending | None:
    """The term is over: whatever of a minimum guarantee or prepaid commitment usage did not draw down is
    recognised now, split like the licence's royalties. Later usage is flagged, never charged."""
    licence, plan, meter = item.licence, item.plan, item.meter
    meter.settled_at = now
    shortfall = meter.prepaid_total - meter.prepaid_drawn
    if shortfall <= 0:
        return None
    meter.prepaid_drawn = meter.prepaid_total
    weights = {party: Fraction(weight) for party, weight in meter.owner_weights}
    if not weights:
        weights = {licence.licensor.party_ref: Fraction(1)}
    date, _ = _booking_date(today.replace(day=1), today, closed)
    commission_bp, commission, shares, explained = _shares(item, shortfall, weights, advances, date)
    key = f"rating:{licence.public_id}:settlement"
    label = "minimum guarantee shortfall" if plan.minimum_guarantee else "unused prepaid commitment"
    charge = RatingCharge(
        run=run,
        licence=licence,
        licensee=licence.licensee,
        licensor=licence.licensor,
        kind=ChargeKind.SETTLEMENT,
        currency=plan.currency,
        billing_period=date.replace(day=1),
        effective_date=date,
        plan=plan.to_dict(),
        plan_metric=plan.metric or "",
        quantity_before=meter.quantity,
        quantity_after=meter.quantity,
        amount=shortfall,
        prepaid_drawn=shortfall,
        receivable=0,
        commission=commission,
        commission_bp=commission_bp,
        royalties=explained,
        events_digest="",
        idempotency_key=key,
    )
    entry = postings.usage_charge_entry(
        key=key,
        description=f"Licence {licence.public_id} ended: {label} recognised",
        effective_date=date,
        currency=plan.currency,
        licensee=licence.licensee.party_ref,
        prepaid_drawn=shortfall,
        receivable=0,
        commission=commission,
        shares=shares,
        metadata={"rating_run": run.pk, "licence": licence.public_id, "settlement": label},
    )
    return _Pending(charge, [], entry)


def _announce(pending: list[_Pending]) -> None:
    """usage.rated to each licensee (and usage.cap_reached once), through the webhook outbox."""
    events = []
    for item in pending:
        charge = item.charge
        payload = {
            "licence": charge.licence.public_id,
            "licensee": charge.licensee_id,
            "kind": charge.kind,
            "rating_run": charge.run_id,
            "billing_period": charge.billing_period.isoformat(),
            "currency": charge.currency,
            "amount": charge.amount,
            "events": charge.event_count,
            "quantity_after": str(charge.quantity_after),
            "cap_exceeded": charge.cap_exceeded,
        }
        events.append(
            DomainEvent(
                type="usage.rated",
                organisation_id=charge.licensee_id,
                subject=f"licence:{charge.licence.public_id}",
                payload=payload,
            )
        )
        if item.cap_reached_now:
            events.append(
                DomainEvent(
                    type="usage.cap_reached",
                    organisation_id=charge.licensee_id,
                    subject=f"licence:{charge.licence.public_id}",
                    payload=payload,
                )
            )
    DomainEvent.objects.bulk_create(events)


def licences_to_rate(*, older_than: dt.timedelta | None = None, now: dt.datetime | None = None) -> list[int]:
    """Licences with unrated usage (optionally only usage received before ``older_than`` ago), or whose term
    is over and not yet settled."""
    now = now or timezone.now()
    unrated = UsageEvent.objects.filter(rating_run__isnull=True)
    if older_than is not None:
        unrated = unrated.filter(received_at__lte=now - older_than)
    ids = set(unrated.values_list("licence_id", flat=True).distinct().order_by())
    grace = dt.timedelta(hours=settings.RATING_SETTLEMENT_GRACE_HOURS)
    ids |= set(
        Licence.objects.filter(ends_at__lte=now - grace)
        .filter(Q(meter__isnull=True) | Q(meter__settled_at__isnull=True))
        .values_list("pk", flat=True)
    )
    return sorted(ids)


def chunked(ids: list[int], size: int | None = None) -> list[list[int]]:
    size = size or settings.RATING_CHUNK_LICENCES
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def rating_rate_all(*, trigger: str = RatingRun.Trigger.MANUAL, progress=None) -> list[RatingRun]:
    """Rate everything now, in this process (the sweeper and the management command)."""
    runs = []
    chunks = chunked(licences_to_rate())
    for index, chunk in enumerate(chunks):
        run = rating_rate_licences(chunk, trigger=trigger)
        if run is not None:
            runs.append(run)
        if progress:
            progress(index + 1, len(chunks))
    return runs
