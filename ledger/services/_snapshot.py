"""Reads that must agree with each other: one snapshot of the ledger for all their queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def one_snapshot() -> Iterator[None]:
    """On PostgreSQL, a read-only REPEATABLE READ transaction: every query in it sees one snapshot of the ledger.

    Inside a caller's transaction, that transaction as it is (its isolation is set already). On SQLite none: its
    transactions here are IMMEDIATE, and one held for a long read would hold every writer off.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield
