"""Money as an integer count of minor units next to an ISO 4217 currency.

Floats never appear. Rates may be ``Decimal``; they are rounded once, where a
posting is made, and splits go through :func:`allocate`, which keeps every
remainder so that the parts always sum to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

# ISO 4217 active codes and their minor-unit exponents.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
    "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2,
    "BOB": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2,
    "CHF": 2, "CLP": 0, "CNY": 2, "COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0,
    "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2,
    "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2,
    "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0,
    "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0,
    "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3,
    "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2,
    "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2,
    "NPR": 2, "NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2,
    "PYG": 0, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2,
    "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2,
    "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2,
    "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0, "USD": 2, "UYU": 2, "UZS": 2, "VES": 2,
    "VND": 0, "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XOF": 0, "XPF": 0, "YER": 2, "ZAR": 2,
    "ZMW": 2, "ZWG": 2,
}  # fmt: skip


BIGINT_MAX = 2**63 - 1  # the largest id, amount or balance a bigint column holds
MAX_MINOR_UNITS = BIGINT_MAX  # a stored amount is a bigint


class CurrencyError(ValueError):
    """An unknown currency, or arithmetic that mixes two currencies."""


def validate_currency(code: str) -> str:
    if code not in CURRENCY_EXPONENTS:
        raise CurrencyError(f"{code!r} is not an ISO 4217 currency code")
    return code


def minor_units(amount: Decimal | int | str, currency: str) -> int:
    """Convert a major-unit amount such as ``Decimal("12.34")`` to minor units.

    Refuses amounts with more precision than the currency has, rather than
    rounding silently.
    """
    exponent = CURRENCY_EXPONENTS[validate_currency(currency)]
    value = Decimal(amount)
    # Infinity, NaN and exponents beyond any amount would overflow below; so would a bigint column.
    if not value.is_finite() or (value and not -30 < value.adjusted() < 30):
        raise ValueError(f"{amount} is not an amount of money")
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more decimal places than {currency} allows ({exponent})")
    if abs(scaled) > MAX_MINOR_UNITS:
        raise ValueError(f"{amount} {currency} is beyond the largest amount the books can hold")
    return int(scaled)


def round_minor(value: Decimal | Fraction) -> int:
    """Round a computed minor-unit quantity once, half to even (banker's rounding).

    Half-even has no upward bias over many postings, which matters when
    millions of small charges are rounded.
    """
    # Exactly, in rationals: a Decimal division would first round to 28 significant digits, which moves
    # the result by a unit once the amount has 16 digits or more.
    return round(Fraction(value))


def allocate(total: int, weights: Sequence[int | Decimal | Fraction]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights``, exactly.

    Each part is first rounded down (toward minus infinity); the units left
    over go one each to the parts with the largest fractional remainders.
    Ties go to the earlier weight, so the result is deterministic for a given
    order of weights. The parts always sum to ``total``.
    """
    if not isinstance(total, int) or isinstance(total, bool):
        raise TypeError("total must be an int of minor units")
    if not weights:
        raise ValueError("allocate needs at least one weight")
    fractions = [Fraction(w) for w in weights]
    if any(w < 0 for w in fractions):
        raise ValueError("weights must not be negative")
    weight_sum = sum(fractions)
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    exact = [total * w / weight_sum for w in fractions]
    parts = [int(x // 1) for x in exact]
    leftover = total - sum(parts)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:leftover]:
        parts[i] += 1
    return parts


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of one currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"Money.amount must be an int of minor units, got {type(self.amount).__name__}")
        validate_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def of(cls, major: Decimal | int | str, currency: str) -> Money:
        """``Money.of("12.50", "EUR")`` is 1250 cents."""
        return cls(minor_units(major, currency), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not isinstance(factor, int) or isinstance(factor, bool):
            raise TypeError("Money can only be multiplied by an int; round rates with round_minor")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def allocate(self, weights: Sequence[int | Decimal | Fraction]) -> list[Money]:
        return [Money(part, self.currency) for part in allocate(self.amount, weights)]

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-CURRENCY_EXPONENTS[self.currency])

    def format(self) -> str:
        exponent = CURRENCY_EXPONENTS[self.currency]
        return f"{self.decimal:,.{exponent}f} {self.currency}"

    def __str__(self) -> str:
        return self.format()


def dr_cr(net: int, currency: str, *, code: bool = False) -> str:
    """A stored net (debits minus credits) as accountants write it: ``1,234.56 Dr`` or ``1,234.56 Cr`` (with
    ``code``, ``1,234.56 EUR Cr``); zero carries no side."""
    amount = Money(abs(int(net)), currency)
    side = " Dr" if net > 0 else " Cr" if net < 0 else ""
    text = amount.format() if code else f"{amount.decimal:,.{CURRENCY_EXPONENTS[currency]}f}"
    return f"{text}{side}"
