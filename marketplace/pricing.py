"""Pricing: one pure module used by offer previews, quotes and rating.

A plan prices a *cumulative* quantity. Rating charges the price of the quantity
after a run minus the price before it, and the price is rounded once per
cumulative value, so however usage is split into runs (and in whatever order it
arrives) the total charged equals the price of the total. Arithmetic is exact
(fractions) until that single rounding.

Quantities: ``hours`` of video (seconds / 3600), ``assets`` (a count), ``gb``
(bytes / 10^9). Prices are integer minor units of the plan's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from ledger.money import CURRENCY_EXPONENTS, Money, round_minor

METRICS = {"hours": "hour of video", "assets": "asset", "gb": "GB"}
METRIC_PLURALS = {"hours": "hours of video", "assets": "assets", "gb": "GB"}
# Far above any real price, far below what a 64-bit ledger amount holds once multiplied by usage.
MAX_PRICE_MINOR = 10**13
MAX_QUANTITY = 10**12
QUANTITY_PLACES = 6


class PlanError(ValueError):
    """A price plan that cannot be used; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class Tier:
    up_to: Fraction | None  # cumulative quantity at which this tier ends; None: no end
    unit_price: int  # minor units per unit of the metric


@dataclass(frozen=True)
class PricePlan:
    currency: str
    flat_fee: int = 0
    metric: str | None = None
    tiers: tuple[Tier, ...] = ()
    minimum_guarantee: int = 0
    prepaid_commitment: int = 0
    overage_unit_price: int | None = None  # past the prepaid commitment, instead of the tiers
    usage_cap: Fraction | None = None  # quantity past which usage is recorded but not charged

    # -- serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "flat_fee": self.flat_fee,
            "metric": self.metric,
            "tiers": [
                {"up_to": None if t.up_to is None else _fraction_str(t.up_to), "unit_price": t.unit_price}
                for t in self.tiers
            ],
            "minimum_guarantee": self.minimum_guarantee,
            "prepaid_commitment": self.prepaid_commitment,
            "overage_unit_price": self.overage_unit_price,
            "usage_cap": None if self.usage_cap is None else _fraction_str(self.usage_cap),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PricePlan:
        errors: dict[str, str] = {}
        currency = str(data.get("currency") or "")
        if currency not in CURRENCY_EXPONENTS:
            errors["currency"] = f"{currency!r} is not an ISO 4217 currency code."
        tiers = []
        for i, raw in enumerate(data.get("tiers") or []):
            try:
                up_to = None if raw.get("up_to") in (None, "") else _quantity(raw["up_to"])
                tiers.append(Tier(up_to=up_to, unit_price=_minor(raw.get("unit_price"))))
            except (ValueError, TypeError, AttributeError) as exc:
                errors[f"tiers.{i}"] = str(exc)
        plan_kwargs: dict[str, Any] = {}
        for name in ("flat_fee", "minimum_guarantee", "prepaid_commitment"):
            try:
                plan_kwargs[name] = _minor(data.get(name) or 0)
            except (ValueError, TypeError) as exc:
                errors[name] = str(exc)
        try:
            overage = data.get("overage_unit_price")
            plan_kwargs["overage_unit_price"] = None if overage in (None, "") else _minor(overage)
        except (ValueError, TypeError) as exc:
            errors["overage_unit_price"] = str(exc)
        try:
            cap = data.get("usage_cap")
            plan_kwargs["usage_cap"] = None if cap in (None, "") else _quantity(cap)
        except (ValueError, TypeError) as exc:
            errors["usage_cap"] = str(exc)
        if errors:
            # The rest is still checked, with the unreadable values left out: one round names every problem.
            defaults = {"flat_fee": 0, "minimum_guarantee": 0, "prepaid_commitment": 0}
            partial = cls(
                currency=currency if currency in CURRENCY_EXPONENTS else "EUR",
                metric=data.get("metric") or None,
                tiers=tuple(tiers) if len(tiers) == len(data.get("tiers") or []) else (),
                **(defaults | plan_kwargs),
            )
            try:
                partial.validate()
            except PlanError as more:
                errors = {key: message for key, message in more.errors.items() if not key.startswith("tiers")} | errors
            raise PlanError(errors)
        plan = cls(currency=currency, metric=data.get("metric") or None, tiers=tuple(tiers), **plan_kwargs)
        plan.validate()
        return plan

    def check_for_sale(self) -> None:
        """Rules for a plan put on sale now, beyond what every stored plan (a licence's frozen one) must meet:
        terms that only usage can move are refused on a plan that meters nothing, where they would be charged
        (a commitment paid up front) or promised (an overage rate, a cap) for nothing."""
        errors: dict[str, str] = {}
        if self.metric is None:
            if self.prepaid_commitment:
                errors["prepaid_commitment"] = "A prepaid commitment is drawn down by usage: choose a usage metric."
            if self.overage_unit_price is not None:
                errors["overage_unit_price"] = "An overage rate prices usage: choose a usage metric."
            if self.usage_cap is not None:
                errors["usage_cap"] = "A usage cap limits metered usage: choose a usage metric."
        if errors:
            raise PlanError(errors)

    def validate(self) -> None:
        errors: dict[str, str] = {}
        if self.metric is not None and self.metric not in METRICS:
            errors["metric"] = f"Choose one of: {', '.join(METRICS)}."
        if self.metric is None:
            if self.tiers:
                errors["tiers"] = "A flat-fee plan has no usage tiers; choose a metric to price usage."
            if self.flat_fee <= 0 and self.minimum_guarantee <= 0:
                errors["flat_fee"] = "A plan without a usage metric needs a flat fee."
        elif not self.tiers:
            errors["tiers"] = "Give a price per unit (one tier), or graduated tiers."
        previous = Fraction(0)
        for i, tier in enumerate(self.tiers):
            if tier.unit_price < 0:
                errors[f"tiers.{i}.unit_price"] = "Prices cannot be negative."
            if tier.up_to is None:
                if i != len(self.tiers) - 1:
                    errors[f"tiers.{i}"] = "Only the last tier can be open-ended."
            else:
                if tier.up_to <= previous:
                    errors[f"tiers.{i}"] = "Each tier must end above the previous one."
                previous = tier.up_to
        if self.tiers and self.tiers[-1].up_to is not None:
            errors[f"tiers.{len(self.tiers) - 1}"] = "The last tier must be open-ended (leave 'up to' empty)."
        for name in ("flat_fee", "minimum_guarantee", "prepaid_commitment"):
            if getattr(self, name) < 0:
                errors[name] = "Cannot be negative."
        if self.minimum_guarantee and self.prepaid_commitment:
            errors["prepaid_commitment"] = "Use either a minimum guarantee or a prepaid commitment, not both."
        if self.overage_unit_price is not None and not self.prepaid_commitment:
            errors["overage_unit_price"] = "An overage rate applies past a prepaid commitment; set the commitment."
        elif self.overage_unit_price is not None and self.overage_unit_price < 0:
            errors["overage_unit_price"] = "Cannot be negative."
        if self.usage_cap is not None and self.usage_cap <= 0:
            errors["usage_cap"] = "A usage cap must be above zero."
        if errors:
            raise PlanError(errors)

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)


def _fraction_str(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return str(Decimal(value.numerator) / Decimal(value.denominator))


def _quantity(value: Any) -> Fraction:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    if number < 0:
        raise ValueError("Quantities cannot be negative.")
    if number > MAX_QUANTITY:
        raise ValueError(f"{value} is larger than the largest quantity a plan takes ({MAX_QUANTITY:,})")
    # Bounded digits (at most 13 + 6 significant) keep the stored decimal form exact, so a plan reads back equal.
    if -number.as_tuple().exponent > QUANTITY_PLACES:  # type: ignore[operator]
        raise ValueError(f"{value} has more than {QUANTITY_PLACES} decimal places")
    return Fraction(number)


def _minor(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("Prices are integer minor units.")
    try:
        amount = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number of minor units") from None
    if abs(amount) > MAX_PRICE_MINOR:
        raise ValueError(f"{amount:,} minor units is larger than the largest price a plan takes ({MAX_PRICE_MINOR:,})")
    return amount


# -- pricing -----------------------------------------------------------------------


def tiered_value(plan: PricePlan, quantity: Fraction) -> Fraction:
    """The exact (unrounded) graduated price of a cumulative quantity."""
    total = Fraction(0)
    lower = Fraction(0)
    for tier in plan.tiers:
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if upper > lower:
            total += (upper - lower) * tier.unit_price
        if tier.up_to is None or quantity <= tier.up_to:
            break
        lower = tier.up_to
    return total


def _quantity_for_value(plan: PricePlan, value: Fraction) -> Fraction | None:
    """The cumulative quantity at which the tiers' price reaches ``value`` (None if never)."""
    lower = Fraction(0)
    spent = Fraction(0)
    for tier in plan.tiers:
        width = None if tier.up_to is None else tier.up_to - lower
        tier_cost = None if width is None else width * tier.unit_price
        if tier_cost is None or spent + tier_cost >= value:
            if tier.unit_price == 0:
                return None if tier_cost is None else tier.up_to
            return lower + (value - spent) / tier.unit_price
        spent += tier_cost
        lower = tier.up_to  # type: ignore[assignment]
    return None


def charged_quantity(plan: PricePlan, quantity: Fraction) -> Fraction:
    """Usage past the cap is recorded but not charged."""
    if plan.usage_cap is not None and quantity > plan.usage_cap:
        return plan.usage_cap
    return quantity


def usage_charge(plan: PricePlan, quantity: Fraction | int) -> int:
    """What a cumulative quantity of usage costs, in minor units (rounded once)."""
    if plan.metric is None:
        return 0
    quantity = charged_quantity(plan, Fraction(quantity))
    value = tiered_value(plan, quantity)
    if plan.prepaid_commitment and plan.overage_unit_price is not None:
        # Past the quantity that used the commitment up, every unit is overage, whatever its tier would
        # cost (a free tier included): so the charge never jumps, and tier_breakdown explains it.
        covered = _quantity_for_value(plan, Fraction(plan.prepaid_commitment))
        if covered is not None and quantity > covered:
            value = plan.prepaid_commitment + (quantity - covered) * plan.overage_unit_price
    return round_minor(value)


def incremental_charge(plan: PricePlan, before: Fraction | int, after: Fraction | int) -> int:
    """What to charge for usage that moves the cumulative quantity from ``before`` to ``after``."""
    return usage_charge(plan, after) - usage_charge(plan, before)


def tier_breakdown(plan: PricePlan, before: Fraction | int, after: Fraction | int) -> list[dict[str, Any]]:
    """How usage from ``before`` to ``after`` (cumulative) falls across the tiers, to explain a charge."""
    if plan.metric is None:
        return []
    before, after = Fraction(before), Fraction(after)
    low, high = charged_quantity(plan, before), charged_quantity(plan, after)
    covered = None
    if plan.prepaid_commitment and plan.overage_unit_price is not None:
        covered = _quantity_for_value(plan, Fraction(plan.prepaid_commitment))
    tiered_high = high if covered is None else min(high, covered)
    parts: list[dict[str, Any]] = []
    lower = Fraction(0)
    for index, tier in enumerate(plan.tiers):
        upper = tier.up_to
        start, end = max(low, lower), tiered_high if upper is None else min(tiered_high, upper)
        if end > start:
            parts.append(
                {
                    "tier": index + 1,
                    "from": _fraction_str(lower),
                    "up_to": None if upper is None else _fraction_str(upper),
                    "quantity": _fraction_str(end - start),
                    "unit_price": tier.unit_price,
                }
            )
        if upper is None:
            break
        lower = upper
    if covered is not None and high > covered:
        parts.append(
            {
                "tier": "overage",
                "from": _fraction_str(covered),
                "up_to": None,
                "quantity": _fraction_str(high - max(low, covered)),
                "unit_price": plan.overage_unit_price,
            }
        )
    if after - high > before - low:
        parts.append(
            {
                "tier": "over_cap",
                "from": _fraction_str(plan.usage_cap),  # type: ignore[arg-type]
                "up_to": None,
                "quantity": _fraction_str((after - high) - (before - low)),
                "unit_price": 0,
            }
        )
    return parts


def minimum_guarantee_shortfall(plan: PricePlan, charged: int) -> int:
    """At the end of a licence period: what is still owed under a minimum guarantee."""
    return max(0, plan.minimum_guarantee - charged)


@dataclass(frozen=True)
class QuoteLine:
    label: str
    quantity: Fraction | None
    unit_price: int | None
    amount: int


@dataclass(frozen=True)
class Quote:
    currency: str
    quantity: Fraction
    lines: list[QuoteLine] = field(default_factory=list)
    usage: int = 0
    flat_fee: int = 0
    total: int = 0
    notes: list[str] = field(default_factory=list)


def cap_note(plan: PricePlan) -> str:
    """A quote's note when its quantity passes the usage cap (plan_terms states the cap itself)."""
    units = METRIC_PLURALS[plan.metric] if plan.metric else "units"
    return f"Usage past the cap of {_quantity_text(plan.usage_cap or Fraction(0))} {units} is not charged."


def quote(plan: PricePlan, quantity: Fraction | int) -> Quote:
    """A buyer-readable breakdown of what ``quantity`` of usage costs under ``plan``."""
    quantity = Fraction(quantity)
    lines: list[QuoteLine] = []
    notes: list[str] = []
    if plan.flat_fee:
        lines.append(QuoteLine("Flat fee", None, None, plan.flat_fee))
    usage = usage_charge(plan, quantity)
    if plan.metric:
        units = METRIC_PLURALS[plan.metric]
        charged = charged_quantity(plan, quantity)
        lower = Fraction(0)
        for tier in plan.tiers:
            upper = charged if tier.up_to is None else min(charged, tier.up_to)
            if upper > lower:
                label = f"{units} {_fraction_str(lower)} to {'∞' if tier.up_to is None else _fraction_str(tier.up_to)}"
                lines.append(
                    QuoteLine(label, upper - lower, tier.unit_price, round_minor((upper - lower) * tier.unit_price))
                )
            if tier.up_to is None or charged <= tier.up_to:
                break
            lower = tier.up_to
        tier_total = sum(line.amount for line in lines if line.unit_price is not None)
        if usage != tier_total:
            lines.append(QuoteLine("Overage pricing and rounding", None, None, usage - tier_total))
        if charged < quantity:
            notes.append(cap_note(plan))
    total = plan.flat_fee + usage
    if plan.minimum_guarantee and usage < plan.minimum_guarantee:
        lines.append(QuoteLine("Minimum guarantee top-up", None, None, plan.minimum_guarantee - usage))
        total = plan.flat_fee + plan.minimum_guarantee
        notes.append("The minimum guarantee applies: usage below it is billed up to it.")
    if plan.prepaid_commitment and usage < plan.prepaid_commitment:
        lines.append(QuoteLine("Unused prepaid commitment", None, None, plan.prepaid_commitment - usage))
        total = plan.flat_fee + plan.prepaid_commitment
        notes.append("The prepaid commitment is paid up front and drawn down by usage.")
    return Quote(plan.currency, quantity, lines, usage, plan.flat_fee, total, notes)


def _quantity_text(value: Fraction) -> str:
    """A quantity as people read it: 1,000 or 2.5 (the exact form, _fraction_str, has no thousands separators)."""
    text = _fraction_str(value)
    whole, dot, rest = text.partition(".")
    return f"{int(whole):,}{dot}{rest}"


def plan_terms(plan: PricePlan) -> list[str]:
    """The plan in plain words, one line per term, for buyers and reviewers: what the example totals come from."""
    terms = []
    if plan.flat_fee:
        terms.append(f"Flat fee {plan.money(plan.flat_fee).format()}")
    if plan.metric:
        unit, units = METRICS[plan.metric], METRIC_PLURALS[plan.metric]
        lower = Fraction(0)
        for tier in plan.tiers:
            rate = f"{plan.money(tier.unit_price).format()} per {unit}"
            if tier.up_to is None:
                terms.append(f"{rate} past {_quantity_text(lower)} {units}" if lower else f"{rate}")
                break
            start = f"from {_quantity_text(lower)} " if lower else "up to "
            terms.append(f"{rate}, {start}{'to ' if lower else ''}{_quantity_text(tier.up_to)} {units}")
            lower = tier.up_to
        if plan.prepaid_commitment:
            terms.append(f"Prepaid commitment {plan.money(plan.prepaid_commitment).format()}, drawn down by usage")
            if plan.overage_unit_price is not None:
                terms.append(f"Past it, {plan.money(plan.overage_unit_price).format()} per {unit}")
        if plan.usage_cap is not None:
            terms.append(f"Usage past {_quantity_text(plan.usage_cap)} {units} is recorded but not charged")
    if plan.minimum_guarantee:
        terms.append(
            f"Minimum guarantee {plan.money(plan.minimum_guarantee).format()}: usage below it is billed up to it"
        )
    return terms


@dataclass(frozen=True)
class CorpusShape:
    """What converts hours into the plan's metric for examples: the corpus' averages."""

    seconds_per_asset: Fraction
    bytes_per_hour: Fraction

    @classmethod
    def of(cls, *, asset_count: int, total_seconds: Decimal | int, total_bytes: int) -> CorpusShape:
        seconds = Fraction(Decimal(total_seconds))
        if asset_count <= 0 or seconds <= 0:
            # A typical stock clip: 30 s at about 8 GB per hour (about 18 Mbit/s).
            return cls(Fraction(30), Fraction(8 * 10**9))
        return cls(seconds / asset_count, Fraction(total_bytes) * 3600 / seconds)


def quantity_for_hours(plan: PricePlan, hours: Fraction | int, shape: CorpusShape) -> Fraction:
    hours = Fraction(hours)
    if plan.metric == "assets":
        return Fraction(round(hours * 3600 / shape.seconds_per_asset))
    if plan.metric == "gb":
        return hours * shape.bytes_per_hour / 10**9
    return hours


def example_prices(
    plan: PricePlan, shape: CorpusShape, hours: tuple[int, ...] = (100, 1_000, 10_000)
) -> list[tuple[int, Quote]]:
    """What 100, 1,000 and 10,000 hours would cost, for the offer editor."""
    return [(h, quote(plan, quantity_for_hours(plan, h, shape))) for h in hours]


def whole_corpus_price(plan: PricePlan, shape: CorpusShape, total_seconds: Decimal | int) -> Quote | None:
    """What taking every asset once would cost, the first figure a buyer asks; None for an empty corpus. The
    corpus' averages turn its hours back into exactly its assets or its bytes."""
    hours = Fraction(Decimal(total_seconds)) / 3600
    return quote(plan, quantity_for_hours(plan, hours, shape)) if hours > 0 else None
