from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.money import CurrencyError, Money, allocate, minor_units, round_minor


def test_money_refuses_floats_and_bools():
    with pytest.raises(TypeError, match="int of minor units"):
        Money(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "EUR")  # type: ignore[arg-type]


def test_money_refuses_unknown_currency_and_mixing():
    with pytest.raises(CurrencyError, match="'EURO' is not an ISO 4217"):
        Money(1, "EURO")
    with pytest.raises(CurrencyError, match="cannot combine EUR with USD"):
        Money(1, "EUR") + Money(1, "USD")


def test_money_arithmetic_and_format():
    assert Money(150, "EUR") + Money(50, "EUR") == Money(200, "EUR")
    assert -Money(5, "EUR") == Money(-5, "EUR")
    assert Money(3, "EUR") * 4 == Money(12, "EUR")
    assert Money.of("12.34", "EUR") == Money(1234, "EUR")
    assert Money.of("500", "JPY") == Money(500, "JPY")
    assert Money(123456, "EUR").format() == "1,234.56 EUR"
    assert Money(1500, "KWD").format() == "1.500 KWD"
    with pytest.raises(TypeError, match="round rates"):
        Money(3, "EUR") * Decimal("1.5")  # type: ignore[operator]


def test_minor_units_refuses_excess_precision():
    assert minor_units("0.01", "EUR") == 1
    with pytest.raises(ValueError, match="more decimal places than EUR allows"):
        minor_units("0.001", "EUR")
    with pytest.raises(ValueError, match="JPY"):
        minor_units("1.5", "JPY")


@pytest.mark.parametrize("amount", ["Infinity", "-Infinity", "NaN", "1e999999999", "1e30", "92233720368547758.08"])
def test_minor_units_refuses_what_is_no_amount_or_beyond_a_bigint(amount):
    with pytest.raises(ValueError, match=r"not an amount of money|beyond the largest amount"):
        minor_units(amount, "EUR")
    assert minor_units("92233720368547758.07", "EUR") == 2**63 - 1


def test_round_minor_is_half_even():
    assert round_minor(Decimal("2.5")) == 2
    assert round_minor(Decimal("3.5")) == 4
    assert round_minor(Decimal("-2.5")) == -2
    assert round_minor(Fraction(7, 2)) == 4


def test_round_minor_is_exact_for_large_amounts():
    # (10**13 - 3) per hour for 360,000,000,006,467 seconds: ...883.4997 exactly, so ...883; a Decimal
    # division at 28 significant digits rounded it to ...883.5 first and then up to ...884.
    exact = Fraction((10**13 - 3) * 360_000_000_006_467, 3600)
    assert round_minor(exact) == (10**13 - 3) * 360_000_000_006_467 // 3600
    assert round_minor(Fraction(10**30 + 1, 2)) == 10**30 // 2  # a tie at 31 digits: half to even
    assert round_minor(Fraction(-(10**30) - 3, 2)) == -(10**30) // 2 - 2


def test_allocate_worked_example():
    # 100 cents three ways: 33.33.. each; the one leftover cent goes to the first share.
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    # Largest remainder wins: 10 split 1:2 is 3.33 / 6.67 -> 3 / 7.
    assert allocate(10, [1, 2]) == [3, 7]
    assert allocate(-100, [1, 1, 1]) == [-33, -33, -34]
    # 3.5 / 1.75 / 1.75: floors 3, 1, 1; the two leftover units go to the .75 remainders.
    assert allocate(7, [Decimal("0.5"), Decimal("0.25"), Decimal("0.25")]) == [3, 2, 2]
    assert allocate(5, [0, 1]) == [0, 5]


def test_allocate_refuses_bad_weights():
    with pytest.raises(ValueError, match="all be zero"):
        allocate(10, [0, 0])
    with pytest.raises(ValueError, match="negative"):
        allocate(10, [1, -1])
    with pytest.raises(TypeError):
        allocate(10.0, [1])  # type: ignore[arg-type]


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(any),
)
def test_allocate_keeps_every_unit(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total * weight, weight_sum)
        assert abs(part - exact) < 1
        if weight == 0:
            assert part == 0
