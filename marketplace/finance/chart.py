"""The marketplace's chart of accounts (see the design), opened on first use through the ledger's services."""

from __future__ import annotations

from ledger import services as ledger
from ledger.types import AccountType

CASH_STRIPE = "cash:stripe"
CASH_BANK = "cash:bank"
COMMISSION = "revenue:commission"
PROCESSING_FEES = "expense:processing_fees"
SUSPENSE = "suspense"

_FIXED = {
    CASH_STRIPE: (AccountType.ASSET, "Cash at Stripe", False),
    CASH_BANK: (AccountType.ASSET, "Cash at bank", False),
    COMMISSION: (AccountType.INCOME, "Marketplace commission", False),
    PROCESSING_FEES: (AccountType.EXPENSE, "Payment processing fees", False),
    SUSPENSE: (AccountType.ASSET, "Suspense (unreconciled)", False),
}
_PARTY = {
    "receivable": (AccountType.ASSET, "Receivable from {party}", False),
    "prepaid": (AccountType.LIABILITY, "Prepaid by {party}", True),
    "royalty_payable": (AccountType.LIABILITY, "Royalties owed to {party}", True),
    "advance": (AccountType.ASSET, "Advance paid to {party}", True),  # never recouped past zero
    "payouts_in_transit": (AccountType.LIABILITY, "Payouts in transit to {party}", False),
}


def account(code: str, currency: str, *, party: str = "") -> str:
    """Open the account if needed and return its code. ``code`` is fixed, or a kind with a party."""
    if code in _FIXED:
        type_, name, forbid = _FIXED[code]
        ledger.account_open(code=code, currency=currency, type=type_, name=name, forbid_negative=forbid)
        return code
    type_, name, forbid = _PARTY[code]
    full = f"{code}:{party}"
    ledger.account_open(
        code=full, currency=currency, type=type_, name=name.format(party=party), party_ref=party,
        forbid_negative=forbid,
    )  # fmt: skip
    return full
