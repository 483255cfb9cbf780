"""The ledger's public interface. Everything outside ``ledger/`` uses only this module.

Writes: :func:`account_open`, :func:`entry_post`, :func:`entries_post`,
:func:`entry_reverse`, :func:`period_close`, :func:`chain_seal`.
Reads: :func:`account_balance`, :func:`trial_balance`, :func:`account_statement` (and
:func:`account_statement_lines`, all of it),
:func:`entry_get`, :func:`chain_verify` and the CSV exports.
"""

from ledger.errors import (
    AccountMismatch,
    AlreadyReversed,
    EntryNotFound,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidEntry,
    LedgerError,
    PeriodClosed,
    UnbalancedEntry,
    UnknownAccount,
)
from ledger.money import Money, allocate, round_minor
from ledger.services.accounts import account_get, account_open, accounts_list
from ledger.services.balances import (
    EntryDetail,
    EntryPosting,
    account_balance,
    account_history,
    account_statement,
    account_statement_lines,
    entry_find,
    entry_get,
    trial_balance,
)
from ledger.services.chain import ChainStatus, chain_seal, chain_status, chain_verify
from ledger.services.exports import (
    JOURNAL_COLUMNS,
    TRIAL_BALANCE_COLUMNS,
    journal_rows,
    trial_balance_rows,
    write_csv,
)
from ledger.services.periods import ClosedPeriod, closed_through, period_close, periods_list
from ledger.services.posting import entries_post, entry_post, entry_reverse
from ledger.types import (
    AccountBalance,
    AccountInfo,
    AccountRef,
    AccountType,
    Leg,
    NewEntry,
    PostedEntry,
    StatementLine,
    StatementPage,
    TrialBalance,
    TrialBalanceRow,
    VerifyReport,
    credit,
    debit,
)

__all__ = [
    "JOURNAL_COLUMNS",
    "TRIAL_BALANCE_COLUMNS",
    "AccountBalance",
    "AccountInfo",
    "AccountMismatch",
    "AccountRef",
    "AccountType",
    "AlreadyReversed",
    "ChainStatus",
    "ClosedPeriod",
    "EntryDetail",
    "EntryNotFound",
    "EntryPosting",
    "IdempotencyConflict",
    "InsufficientBalance",
    "InvalidEntry",
    "LedgerError",
    "Leg",
    "Money",
    "NewEntry",
    "PeriodClosed",
    "PostedEntry",
    "StatementLine",
    "StatementPage",
    "TrialBalance",
    "TrialBalanceRow",
    "UnbalancedEntry",
    "UnknownAccount",
    "VerifyReport",
    "account_balance",
    "account_get",
    "account_history",
    "account_open",
    "account_statement",
    "account_statement_lines",
    "accounts_list",
    "allocate",
    "chain_seal",
    "chain_status",
    "chain_verify",
    "closed_through",
    "credit",
    "debit",
    "entries_post",
    "entry_find",
    "entry_get",
    "entry_post",
    "entry_reverse",
    "journal_rows",
    "period_close",
    "periods_list",
    "round_minor",
    "trial_balance",
    "trial_balance_rows",
    "write_csv",
]
