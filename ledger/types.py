"""Plain data types that cross the ledger's boundary.

Callers build :class:`NewEntry` values and get :class:`PostedEntry` values
back; they never see the ledger's models.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ledger.money import Money


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def normal_sign(self) -> int:
        """+1 where debits increase the account (assets, expenses), -1 where credits do."""
        return 1 if self in (AccountType.ASSET, AccountType.EXPENSE) else -1


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account is named by its code and currency: accounts are per currency."""

    code: str
    currency: str

    def __str__(self) -> str:
        return f"{self.code} ({self.currency})"


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of an entry. ``amount`` is signed minor units: debits positive, credits negative."""

    account: str
    currency: str
    amount: int


def debit(account: str, money: Money) -> Leg:
    return Leg(account, money.currency, money.amount)


def credit(account: str, money: Money) -> Leg:
    return Leg(account, money.currency, -money.amount)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What a caller asks the ledger to post.

    ``idempotency_key`` makes the post safe to repeat: a replay with the same
    payload returns the original entry, a different payload is refused.
    ``effective_date`` defaults to today (UTC).
    """

    legs: tuple[Leg, ...] | list[Leg]
    description: str
    idempotency_key: str | None = None
    effective_date: dt.date | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    reverses: int | None = None


@dataclass(frozen=True, slots=True)
class PostedEntry:
    id: int
    idempotency_key: str | None
    effective_date: dt.date
    created: bool  # False when this was a replay of an earlier post


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: int
    code: str
    currency: str
    name: str
    type: AccountType
    party_ref: str
    forbid_negative: bool


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """``net`` is debits minus credits; ``balance`` is on the account's normal side,
    so a liability that we owe shows a positive balance."""

    account: AccountRef
    type: AccountType
    net: int
    party_ref: str = ""  # the account's opaque party, so callers need not parse codes

    @property
    def balance(self) -> int:
        return self.net * self.type.normal_sign

    @property
    def money(self) -> Money:
        return Money(self.balance, self.account.currency)


@dataclass(frozen=True, slots=True)
class TrialBalanceRow:
    account: AccountRef
    name: str
    type: AccountType
    debit: int
    credit: int


@dataclass(frozen=True, slots=True)
class TrialBalance:
    as_of: dt.date | None
    rows: list[TrialBalanceRow]

    def totals(self) -> dict[str, tuple[int, int]]:
        """Total debits and credits per currency; equal when the books balance."""
        out: dict[str, tuple[int, int]] = {}
        for row in self.rows:
            d, c = out.get(row.account.currency, (0, 0))
            out[row.account.currency] = (d + row.debit, c + row.credit)
        return out

    @property
    def balanced(self) -> bool:
        return all(d == c for d, c in self.totals().values())


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry_id: int
    leg_index: int
    effective_date: dt.date
    posted_at: dt.datetime
    description: str
    amount: int
    balance_after: int  # net (debits minus credits) after this posting, in posting order


@dataclass(frozen=True, slots=True)
class StatementPage:
    account: AccountRef
    type: AccountType
    lines: list[StatementLine]
    next_cursor: str | None
    # Paging back: whether lines come before this page, and the cursor of the page before (None: the first page).
    has_previous: bool = False
    previous_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class VerifyProblem:
    kind: str
    message: str
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    entries_checked: int
    sealed: int
    unsealed: int
    head_hash: str
    problems: list[VerifyProblem]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_entry(self) -> int | None:
        return next((p.entry_id for p in self.problems if p.entry_id is not None), None)


@dataclass(frozen=True, slots=True)
class SealResult:
    sealed: int
    head_seq: int
    head_hash: str
