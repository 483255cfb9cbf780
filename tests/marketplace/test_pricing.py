"""The pricing module: every plan type, exact rounding, and order-independent increments."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.pricing import (
    CorpusShape,
    PlanError,
    PricePlan,
    Tier,
    example_prices,
    incremental_charge,
    minimum_guarantee_shortfall,
    plan_terms,
    quantity_for_hours,
    quote,
    tier_breakdown,
    usage_charge,
    whole_corpus_price,
)


def plan(**kwargs) -> PricePlan:
    return PricePlan.from_dict({"currency": "EUR", **kwargs})


PER_HOUR = plan(metric="hours", tiers=[{"up_to": None, "unit_price": 12000}])
GRADUATED = plan(
    metric="hours",
    tiers=[{"up_to": "100", "unit_price": 10000}, {"up_to": "1000", "unit_price": 8000}, {"unit_price": 5000}],
)


def test_flat_fee_only():
    p = plan(flat_fee=250000)
    assert usage_charge(p, 5000) == 0
    q = quote(p, 1000)
    assert (q.total, [line.label for line in q.lines]) == (250000, ["Flat fee"])


def test_per_hour_with_exact_rounding():
    assert usage_charge(PER_HOUR, 10) == 120000
    # 1 second at 120.00/hour is 3.33 cents: rounded once, half to even.
    assert usage_charge(PER_HOUR, Fraction(1, 3600)) == 3
    assert usage_charge(PER_HOUR, Fraction(3, 7200)) == 5  # 1.5 seconds = 5.0 cents exactly


def test_graduated_tiers_price_each_band_at_its_rate():
    assert usage_charge(GRADUATED, 100) == 100 * 10000
    assert usage_charge(GRADUATED, 1000) == 100 * 10000 + 900 * 8000
    assert usage_charge(GRADUATED, 1500) == 100 * 10000 + 900 * 8000 + 500 * 5000
    q = quote(GRADUATED, 150)
    assert [(line.quantity, line.unit_price, line.amount) for line in q.lines] == [
        (100, 10000, 1_000_000),
        (50, 8000, 400_000),
    ]
    assert q.total == 1_400_000


def test_per_asset_and_per_gb():
    per_asset = plan(metric="assets", tiers=[{"unit_price": 50}])
    assert usage_charge(per_asset, 1234) == 61700
    per_gb = plan(metric="gb", tiers=[{"unit_price": 450}])
    assert usage_charge(per_gb, Fraction(1_500_000_000, 10**9)) == 675


def test_minimum_guarantee():
    p = plan(metric="hours", tiers=[{"unit_price": 10000}], minimum_guarantee=5_000_000)
    q = quote(p, 100)
    assert (q.usage, q.total) == (1_000_000, 5_000_000)
    assert minimum_guarantee_shortfall(p, 1_000_000) == 4_000_000
    assert minimum_guarantee_shortfall(p, 6_000_000) == 0


def test_prepaid_commitment_with_overage_rate():
    p = plan(metric="hours", tiers=[{"unit_price": 10000}], prepaid_commitment=1_000_000, overage_unit_price=7000)
    assert usage_charge(p, 50) == 500_000  # drawn down from the commitment
    assert usage_charge(p, 100) == 1_000_000  # exactly the commitment
    assert usage_charge(p, 150) == 1_000_000 + 50 * 7000  # past it, at the overage rate
    assert quote(p, 50).total == 1_000_000  # the commitment is paid in full regardless


def test_overage_starts_where_the_commitment_is_used_up_even_across_a_free_tier():
    """10 h at 1.00 use up a 10.00 commitment; from there every hour is overage, the free tier too: no jump later."""
    p = plan(metric="hours", tiers=[{"up_to": "10", "unit_price": 100}, {"up_to": "20", "unit_price": 0},
                                    {"unit_price": 100}], prepaid_commitment=1000, overage_unit_price=50)  # fmt: skip
    assert [usage_charge(p, q) for q in (10, 15, 20, 21)] == [1000, 1250, 1500, 1550]
    assert incremental_charge(p, 20, Fraction(2002, 100)) == 1  # 0.02 h at 0.50 a unit, not 5.00
    assert tier_breakdown(p, 10, 20) == [
        {"tier": "overage", "from": "10", "up_to": None, "quantity": "10", "unit_price": 50}
    ]


def test_usage_cap_stops_charging():
    p = plan(metric="hours", tiers=[{"unit_price": 10000}], usage_cap="200")
    assert usage_charge(p, 200) == usage_charge(p, 5000) == 2_000_000
    assert quote(p, 300).notes == ["Usage past the cap of 200 hours of video is not charged."]
    assert [line.label for line in quote(p, 300).lines] == ["hours of video 0 to ∞"]


H = {"currency": "EUR", "metric": "hours"}
ONE = [{"unit_price": 1}]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"currency": "EURO", "flat_fee": 1}, "currency"),
        ({"currency": "EUR"}, "flat_fee"),
        ({**H, "tiers": []}, "tiers"),
        ({**H, "metric": "minutes", "tiers": ONE}, "metric"),
        ({**H, "tiers": [{"up_to": "10", "unit_price": 1}]}, "tiers.0"),
        ({**H, "tiers": [{"up_to": "10", "unit_price": 2}, {"up_to": "5", "unit_price": 1}, *ONE]}, "tiers.1"),
        ({**H, "tiers": [{"unit_price": -1}]}, "tiers.0.unit_price"),
        ({**H, "tiers": [{"unit_price": "1.5"}]}, "tiers.0"),
        ({**H, "tiers": ONE, "overage_unit_price": 1}, "overage_unit_price"),
        ({**H, "tiers": ONE, "minimum_guarantee": 1, "prepaid_commitment": 1}, "prepaid_commitment"),
        ({**H, "tiers": ONE, "usage_cap": "0"}, "usage_cap"),
        ({**H, "tiers": ONE, "usage_cap": "NaN"}, "usage_cap"),
        ({**H, "tiers": [{"up_to": "Infinity", "unit_price": 2}, *ONE]}, "tiers.0"),
        ({**H, "tiers": [{"up_to": "1e13", "unit_price": 2}, *ONE]}, "tiers.0"),
        ({**H, "tiers": [{"unit_price": str(10**13 + 1)}]}, "tiers.0"),
        ({"currency": "EUR", "flat_fee": 10**19}, "flat_fee"),
        ({**H, "tiers": ONE, "prepaid_commitment": 100, "overage_unit_price": -5}, "overage_unit_price"),
        # 28 significant digits would store both bounds as 1.000…0: they must keep their order when read back.
        ({**H, "tiers": [{"up_to": "1.0000001", "unit_price": 2}, *ONE]}, "tiers.0"),
        ({**H, "tiers": ONE, "usage_cap": "0.1234567"}, "usage_cap"),
    ],
)
def test_invalid_plans_name_the_field(data, field):
    with pytest.raises(PlanError) as caught:
        PricePlan.from_dict(data)
    assert field in caught.value.errors


def test_plans_round_trip_through_json():
    p = plan(
        metric="gb", tiers=[{"up_to": "0.5", "unit_price": 900}, {"unit_price": 450}], prepaid_commitment=100,
        overage_unit_price=300, usage_cap="12.25",
    )  # fmt: skip
    assert PricePlan.from_dict(p.to_dict()) == p
    fine = plan(metric="hours", tiers=[{"up_to": "999999999999.999999", "unit_price": 2}, {"unit_price": 1}])
    assert PricePlan.from_dict(fine.to_dict()) == fine


def test_example_prices_convert_hours_with_the_corpus_shape():
    shape = CorpusShape.of(asset_count=1000, total_seconds=30_000, total_bytes=30 * 10**12)  # 30 s clips, 3.6 TB/h
    per_asset = plan(metric="assets", tiers=[{"unit_price": 10}])
    assert quantity_for_hours(per_asset, 1, shape) == 120
    per_gb = plan(metric="gb", tiers=[{"unit_price": 1}])
    assert quantity_for_hours(per_gb, 1, shape) == 3600
    examples = example_prices(PER_HOUR, shape)
    assert [(hours, q.total) for hours, q in examples] == [(100, 1_200_000), (1000, 12_000_000), (10_000, 120_000_000)]
    # The whole corpus once: exactly its assets, its bytes or its hours, whatever the averages' rounding.
    odd = CorpusShape.of(asset_count=7, total_seconds=Decimal("100.001"), total_bytes=10**9 + 7)
    assert whole_corpus_price(per_asset, odd, Decimal("100.001")).total == 70
    assert whole_corpus_price(per_gb, odd, Decimal("100.001")).quantity == Fraction(10**9 + 7, 10**9)
    assert whole_corpus_price(PER_HOUR, odd, Decimal("100.001")).quantity == Fraction(100_001, 3_600_000)
    assert whole_corpus_price(PER_HOUR, odd, 0) is None


plans = st.sampled_from(
    [
        PER_HOUR,
        GRADUATED,
        plan(metric="hours", tiers=[{"unit_price": 7}], prepaid_commitment=1000, overage_unit_price=3),
        plan(metric="gb", tiers=[{"up_to": "1", "unit_price": 333}, {"unit_price": 111}], usage_cap="40"),
        PricePlan(currency="EUR", metric="assets", tiers=(Tier(Fraction(10), 99), Tier(None, 49))),
    ]
)


@given(
    p=plans,
    quantities=st.lists(st.fractions(min_value=0, max_value=500, max_denominator=3600), min_size=1, max_size=30),
    data=st.data(),
)
def test_increments_sum_to_the_price_of_the_total_in_any_order_and_split(p, quantities, data):
    order = data.draw(st.permutations(quantities))
    cumulative = Fraction(0)
    charged = 0
    for quantity in order:
        charged += incremental_charge(p, cumulative, cumulative + quantity)
        cumulative += quantity
    assert charged == usage_charge(p, sum(quantities, Fraction(0)))
    assert all(incremental_charge(p, 0, q) >= 0 for q in quantities)


def test_plan_terms_say_in_words_what_a_buyer_pays():
    assert plan_terms(PER_HOUR) == ["120.00 EUR per hour of video"]
    assert plan_terms(GRADUATED) == [
        "100.00 EUR per hour of video, up to 100 hours of video",
        "80.00 EUR per hour of video, from 100 to 1,000 hours of video",
        "50.00 EUR per hour of video past 1,000 hours of video",
    ]
    committed = plan(
        flat_fee=500000, metric="gb", tiers=[{"unit_price": 300}], prepaid_commitment=1000000,
        overage_unit_price=250, usage_cap="5000",
    )  # fmt: skip
    assert plan_terms(committed) == [
        "Flat fee 5,000.00 EUR",
        "3.00 EUR per GB",
        "Prepaid commitment 10,000.00 EUR, drawn down by usage",
        "Past it, 2.50 EUR per GB",
        "Usage past 5,000 GB is recorded but not charged",
    ]
    guaranteed = plan(metric="assets", tiers=[{"unit_price": 99}], minimum_guarantee=2000000)
    assert plan_terms(guaranteed)[-1] == "Minimum guarantee 20,000.00 EUR: usage below it is billed up to it"
    assert plan_terms(PricePlan.from_dict({"currency": "JPY", "flat_fee": 150000})) == ["Flat fee 150,000 JPY"]
