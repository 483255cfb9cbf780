"""Marketplace facts as ledger entries, following the posting rules in the design."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ledger import services as ledger
from ledger.money import Money
from ledger.types import NewEntry, credit, debit
from marketplace.finance import chart


def booking_date(day: dt.date | None, *, not_before: dt.date | None = None) -> dt.date | None:
    """The effective date for money that moved outside: the day the bank or Stripe booked it (never in the future,
    never before ``not_before``), or None, meaning today, when that day's month is already closed."""
    if day is None:
        return None
    today = dt.datetime.now(dt.UTC).date()
    if not_before is not None:
        day = max(day, not_before)
    day = min(day, today)
    closed = ledger.closed_through()
    return day if closed is None or day > closed else None


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


def _earnings_legs(currency: str, commission: int, shares: list[tuple[str, int, int]]) -> list:
    """Cr the commission, then each rights holder: first its advance (recouped), then its royalties payable."""
    legs = []
    if commission:
        legs.append(credit(chart.account(chart.COMMISSION, currency), Money(commission, currency)))
    for party, amount, recouped in shares:
        if recouped:
            legs.append(credit(chart.account("advance", currency, party=party), Money(recouped, currency)))
        if amount - recouped:
            legs.append(
                credit(chart.account("royalty_payable", currency, party=party), Money(amount - recouped, currency))
            )
    return legs


def usage_charge_entry(
    *,
    key: str,
    description: str,
    effective_date,
    currency: str,
    licensee: str,
    prepaid_drawn: int,
    receivable: int,
    commission: int,
    shares: list[tuple[str, int, int]],
    metadata: dict,
) -> NewEntry:
    """Usage rated: Dr prepaid (what the commitment still covers), Dr receivable (the rest); Cr commission and
    each rights holder's share (advance recouped first). ``shares`` are (party, amount, recouped)."""
    legs = []
    if prepaid_drawn:
        legs.append(debit(chart.account("prepaid", currency, party=licensee), Money(prepaid_drawn, currency)))
    if receivable:
        legs.append(debit(chart.account("receivable", currency, party=licensee), Money(receivable, currency)))
    legs += _earnings_legs(currency, commission, shares)
    return NewEntry(
        legs=legs, description=description, idempotency_key=key, effective_date=effective_date, metadata=metadata
    )


def advance_pay(
    *, key: str, currency: str, licensor: str, amount: int, note: str, effective_date=None, metadata=None
) -> int:
    """An advance paid to a rights holder by bank transfer: Dr advance, Cr cash at bank. Recouped from royalties."""
    legs = [
        debit(chart.account("advance", currency, party=licensor), Money(amount, currency)),
        credit(chart.account(chart.CASH_BANK, currency), Money(amount, currency)),
    ]
    return ledger.entry_post(
        NewEntry(
            legs=legs,
            description=f"Advance paid to {licensor}: {note}",
            idempotency_key=key,
            effective_date=effective_date,
            metadata=metadata or {},
        )
    ).id


def payout_sent(*, key: str, currency: str, party: str, amount: int, description: str, metadata: dict) -> int:
    """Payout sent: Dr royalty_payable, Cr payouts_in_transit. Refused if the payable would go negative."""
    legs = [
        debit(chart.account("royalty_payable", currency, party=party), Money(amount, currency)),
        credit(chart.account("payouts_in_transit", currency, party=party), Money(amount, currency)),
    ]
    return ledger.entry_post(NewEntry(legs=legs, description=description, idempotency_key=key, metadata=metadata)).id


def payout_settled(
    *, key: str, currency: str, party: str, amount: int, cash: str, metadata: dict, effective_date=None
) -> int:
    """The payout arrived: Dr payouts_in_transit, Cr the cash account it left from."""
    legs = [
        debit(chart.account("payouts_in_transit", currency, party=party), Money(amount, currency)),
        credit(chart.account(cash, currency), Money(amount, currency)),
    ]
    return ledger.entry_post(
        NewEntry(
            legs=legs, description=f"Payout paid to {party}", idempotency_key=key, metadata=metadata,
            effective_date=effective_date,
        )
    ).id  # fmt: skip
