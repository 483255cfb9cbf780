"""Property: however usage is split into runs and whatever order it arrives in, rating charges exactly the
price of the total, earnings add up to the charges, the books balance and no event is rated twice."""

import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import services as ledger
from marketplace.pricing import PricePlan, usage_charge
from marketplace.rating.models import RatingCharge, RatingLine
from marketplace.rating.services import plan_quantity, rating_rate_all
from marketplace.usage.models import UsageEvent
from tests.fixtures.rating import licence_on, report

pytestmark = pytest.mark.django_db

ASSETS = ["m0", "m1", "m2", "m3", "m4"]


@st.composite
def plans(draw):
    metric = draw(st.sampled_from(["hours", "gb", "assets"]))
    bounds = sorted(draw(st.sets(st.integers(1, 20), max_size=2)))
    tiers = [{"up_to": str(b), "unit_price": draw(st.integers(0, 50_000))} for b in bounds]
    tiers.append({"up_to": None, "unit_price": draw(st.integers(0, 50_000))})
    plan = {"metric": metric, "tiers": tiers}
    extra = draw(st.sampled_from(["none", "commitment", "guarantee", "cap"]))
    if extra == "commitment":
        plan["prepaid_commitment"] = draw(st.integers(1, 200_000))
        if draw(st.booleans()):
            plan["overage_unit_price"] = draw(st.integers(0, 80_000))
    elif extra == "guarantee":
        plan["minimum_guarantee"] = draw(st.integers(1, 200_000))
    elif extra == "cap":
        plan["usage_cap"] = str(draw(st.integers(1, 10)))
    return plan


QUANTITY = {
    "hours": st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(20_000), places=6),
    "gb": st.integers(1, 5 * 10**9),
    "assets": st.just(1),
}
EVENT_METRIC = {"hours": "seconds_delivered", "gb": "bytes_delivered", "assets": "assets_delivered"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), plan=plans(), commission_bp=st.integers(1_500, 5_000))
def test_rating_is_exact_and_order_independent(data, plan, commission_bp, licensor, buyer, market):
    licence = licence_on(licensor, buyer[0].organisation, market["corpus"], plan, commission_bp=commission_bp)
    metric = plan["metric"]
    events = data.draw(
        st.lists(st.tuples(QUANTITY[metric], st.sampled_from(ASSETS)), min_size=1, max_size=25), label="events"
    )
    shuffled = list(events)
    random.Random(data.draw(st.integers(0, 2**32), label="order")).shuffle(shuffled)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events)), max_size=4), label="run boundaries"))
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        if start < end:
            report(licence, [(EVENT_METRIC[metric], q, asset) for q, asset in shuffled[start:end]])
            rating_rate_all()

    frozen = PricePlan.from_dict({**plan, "currency": "EUR"})
    total = len({a for _, a in events}) if metric == "assets" else sum(Decimal(q) for q, _ in events)
    charges = RatingCharge.objects.filter(licence=licence)
    assert sum(c.amount for c in charges) == usage_charge(frozen, plan_quantity(frozen, total))
    for charge in charges:
        assert charge.commission + sum(r["amount"] for r in charge.royalties) == charge.amount
        assert charge.prepaid_drawn + charge.receivable == charge.amount
        if charge.entry_id:
            legs = ledger.entry_get(charge.entry_id).postings
            assert sum(p.amount for p in legs if p.amount > 0) == charge.amount
    assert ledger.trial_balance().balanced
    events_rated = UsageEvent.objects.filter(licence=licence)
    assert not events_rated.filter(rating_run__isnull=True).exists()
    lines = RatingLine.objects.filter(charge__licence=licence).exclude(metric="unique_assets")
    assert sum(line.event_count for line in lines) == events_rated.count() == len(events)
