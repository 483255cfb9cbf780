"""Marketplace facts as ledger entries, following the posting rules in the design."""

from __future__ import annotations

from decimal import Decimal

from ledger import services as ledger
from ledger.money import Money
from ledger.types import NewEntry, credit, debit
from marketplace.finance import chart


def royalty_split(amount: int, commission_bp: int, owners: list[tuple[str, int]]) -> tuple[int, list[tuple[str, int]]]:
    """Commission, then each owner's share of the rest. ``owners`` are (party, weight) in a fixed order;
    rounding remainders follow :func:`ledger.money.allocate` (largest remainder, earlier owner on ties)."""
    commission = ledger.round_minor(Decimal(amount) * Decimal(commission_bp) / Decimal(10_000))
    royalties = amount - commission
    parts = ledger.allocate(royalties, [w for _, w in owners]) if owners else []
    return commission, [(party, part) for (party, _), part in zip(owners, parts, strict=True)]


def licence_sale(
    *,
    key: str,
    description: str,
    currency: str,
    licensee: str,
    upfront_fee: int,
    prepaid: int,
    commission_bp: int,
    owners: list[tuple[str, int]],
    paid_in_advance: bool,
    metadata: dict,
) -> int | None:
    """Book a licence sale. The fee is earned now (commission and royalties); a minimum guarantee or
    prepaid commitment becomes the licensee's prepaid balance, drawn down by usage.

    On account the whole amount is receivable; by card the captured payment already sits in prepaid,
    so the fee is taken from there.
    """
    total = upfront_fee + prepaid
    if total == 0:
        return None
    legs = []
    if paid_in_advance:
        if upfront_fee:
            legs.append(debit(chart.account("prepaid", currency, party=licensee), Money(upfront_fee, currency)))
    else:
        legs.append(debit(chart.account("receivable", currency, party=licensee), Money(total, currency)))
        if prepaid:
            legs.append(credit(chart.account("prepaid", currency, party=licensee), Money(prepaid, currency)))
    if upfront_fee:
        commission, shares = royalty_split(upfront_fee, commission_bp, owners)
        if commission:
            legs.append(credit(chart.account(chart.COMMISSION, currency), Money(commission, currency)))
        for party, part in shares:
            if part:
                legs.append(credit(chart.account("royalty_payable", currency, party=party), Money(part, currency)))
    if len(legs) < 2:
        return None
    return ledger.entry_post(NewEntry(legs=legs, description=description, idempotency_key=key, metadata=metadata)).id


def card_capture(*, key: str, currency: str, licensee: str, amount: int, fee: int, metadata: dict) -> int:
    """A captured card payment: Dr cash (net of Stripe's fee), Dr fees, Cr the licensee's prepaid balance."""
    legs = [debit(chart.account(chart.CASH_STRIPE, currency), Money(amount - fee, currency))]
    if fee:
        legs.append(debit(chart.account(chart.PROCESSING_FEES, currency), Money(fee, currency)))
    legs.append(credit(chart.account("prepaid", currency, party=licensee), Money(amount, currency)))
    return ledger.entry_post(
        NewEntry(legs=legs, description=f"Card payment captured ({licensee})", idempotency_key=key, metadata=metadata)
    ).id
