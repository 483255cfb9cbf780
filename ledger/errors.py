"""Errors the ledger raises. Each names what was wrong, so that callers can
show it to a person without guessing."""

from __future__ import annotations

import datetime as dt


class LedgerError(Exception):
    """Base class for every refusal by the ledger."""

    code = "ledger_error"


class InvalidEntry(LedgerError):
    """The entry is malformed: no legs, a zero amount, a bad currency, or it does not balance."""

    code = "invalid_entry"


class UnbalancedEntry(InvalidEntry):
    code = "unbalanced_entry"

    def __init__(self, imbalances: dict[str, int]):
        self.imbalances = imbalances
        parts = ", ".join(f"{cur} off by {amt:+d}" for cur, amt in sorted(imbalances.items()))
        super().__init__(f"entry does not balance: {parts} (debits must equal credits in each currency)")


class UnknownAccount(LedgerError):
    code = "unknown_account"

    def __init__(self, code: str, currency: str):
        self.account_code, self.currency = code, currency
        super().__init__(f"no ledger account {code!r} in {currency}; open it first")


class AccountMismatch(LedgerError):
    """``account_open`` was asked for an existing account with different fixed attributes."""

    code = "account_mismatch"


class InsufficientBalance(LedgerError):
    code = "insufficient_balance"

    def __init__(self, code: str, currency: str, balance: int, attempted: int):
        self.account_code, self.currency = code, currency
        self.balance, self.attempted = balance, attempted
        super().__init__(
            f"account {code!r} ({currency}) may not go negative: balance {balance}, "
            f"this entry would move it to {attempted}"
        )


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"

    def __init__(self, key: str, entry_id: int):
        self.key, self.entry_id = key, entry_id
        super().__init__(f"idempotency key {key!r} was already used for entry {entry_id} with a different payload")


class PeriodClosed(LedgerError):
    code = "period_closed"

    def __init__(self, effective_date: dt.date, closed_through: dt.date):
        self.effective_date, self.closed_through = effective_date, closed_through
        super().__init__(
            f"effective date {effective_date.isoformat()} falls in a closed period "
            f"(the books are closed through {closed_through.isoformat()})"
        )


class AlreadyReversed(LedgerError):
    code = "already_reversed"

    def __init__(self, entry_id: int, reversal_id: int):
        self.entry_id, self.reversal_id = entry_id, reversal_id
        super().__init__(f"entry {entry_id} was already reversed by entry {reversal_id}")


class EntryNotFound(LedgerError):
    code = "entry_not_found"
