"""Template filters for money held as integer minor units."""

from decimal import Decimal

from django import template

from ledger.money import CURRENCY_EXPONENTS, Money
from ledger.money import dr_cr as ledger_dr_cr

register = template.Library()


@register.filter
def minor(amount: int | None, currency: str) -> str:
    """``{{ 123456|minor:"EUR" }}`` renders ``1,234.56``."""
    if amount is None or currency not in CURRENCY_EXPONENTS:
        return ""
    exponent = CURRENCY_EXPONENTS[currency]
    return f"{Money(int(amount), currency).decimal:,.{exponent}f}"


@register.filter
def dr_cr(net: int | None, currency: str) -> str:
    """``{{ net|dr_cr:"EUR" }}``: a stored net (debits minus credits) as accountants read it, ``1,234.56 Dr`` or
    ``1,234.56 Cr``; ``0.00`` carries no side."""
    if net is None or currency not in CURRENCY_EXPONENTS:
        return ""
    return ledger_dr_cr(int(net), currency)


@register.filter
def neg(amount: int | None) -> int | None:
    """Credits are stored negative; ``{{ amount|neg|minor:cur }}`` shows them as a positive credit."""
    return None if amount is None else -int(amount)


@register.filter
def get_item(mapping: dict, key):
    """``{{ labels|get_item:code }}``: look a label up by key."""
    return mapping.get(key, key) if hasattr(mapping, "get") else key


@register.filter
def bp_percent(basis_points: int | None) -> str:
    """``{{ 3333|bp_percent }}`` renders ``33.33``: shares are held in basis points."""
    return "" if basis_points is None else f"{Decimal(int(basis_points)) / 100:f}"


@register.filter
def price_terms(version) -> list[str]:
    """``{% for line in offer_version|price_terms %}``: its price plan in plain words (pricing.plan_terms)."""
    from marketplace.pricing import PricePlan, plan_terms

    return plan_terms(PricePlan.from_dict({**version.price_plan, "currency": version.currency}))
