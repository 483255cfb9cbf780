"""The ledger's schema. Writes go through :mod:`ledger.services` only."""

from ledger.models.accounts import Account, AccountDay
from ledger.models.chain import ChainBlock, ChainSeal
from ledger.models.entries import JournalEntry, Posting, PostingRow
from ledger.models.periods import PeriodClose

__all__ = ["Account", "AccountDay", "ChainBlock", "ChainSeal", "JournalEntry", "PeriodClose", "Posting", "PostingRow"]
