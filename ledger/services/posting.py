"""Posting, bulk posting and reversal.

Every request is validated here first, so that callers get a clear, typed
error. The write itself goes through one of two engines with the same
behaviour:

* ``postgresql``: one call to the ``ledger_post_entries`` function, which
  locks the accounts in id order, checks idempotency, periods and overdrafts,
  and writes entries, postings, balances and day totals in one round trip.
* ``orm``: the same steps through the ORM, used on SQLite (the embedded
  default), where a writer holds the database lock for its transaction.

The database then checks balance, immutability and closed periods again.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import struct
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Max
from django.utils import timezone
from psycopg import errors as pg_errors
from psycopg import generators as pg_generators
from psycopg import pq
from psycopg.pq.abc import PGresult

from ledger.errors import (
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
from ledger.models import Account, AccountDay, JournalEntry, PeriodClose, Posting, PostingRow
from ledger.money import BIGINT_MAX, CURRENCY_EXPONENTS
from ledger.services import _hashing
from ledger.services._text import UNSTORABLE as _UNSTORABLE
from ledger.types import AccountType, Leg, NewEntry, PostedEntry

MAX_LEGS = 10_000
MAX_AMOUNT = 10**15  # minor units per leg: far above any real payment
BALANCE_LIMIT = BIGINT_MAX  # a stored balance is a bigint; 9,223 legs of MAX_AMOUNT reach it
BALANCE_OVERFLOW = (
    "the entry would take an account's balance, or one day's total on it, past the 64-bit limit of minor units"
)
_T = TypeVar("_T")
BULK_CHUNK = 5_000  # entries per round trip, at most
PIPELINE_MIN = 1_000  # smaller batches go in one round trip, without a preparing thread
PIPELINE_FIRST = 500  # a larger batch's first chunk: its preparation is not hidden


@dataclass(slots=True)
class _Prepared:
    key: str | None
    request_hash: str
    content_hash: str
    effective_date: dt.date
    description: str
    metadata: dict
    metadata_json: str
    reverses: int | None
    legs: list[Leg]


RESERVED_KEY_PREFIX = "ledger:"


def reversal_key(entry_id: int | None) -> str:
    """The idempotency key entry_reverse posts under by default."""
    return f"{RESERVED_KEY_PREFIX}reverse:{entry_id}"


def _prepare(entry: NewEntry, *, posted_at: dt.datetime, posted_iso: str) -> _Prepared:
    legs = entry.legs if isinstance(entry.legs, list) else list(entry.legs)
    if len(legs) < 2:
        raise InvalidEntry("an entry needs at least two legs")
    if len(legs) > MAX_LEGS:
        raise InvalidEntry(f"an entry may have at most {MAX_LEGS} legs")
    sums: dict[str, int] = {}
    leg_json: list[str] = []
    for i, leg in enumerate(legs):
        if type(leg) is not Leg:
            raise InvalidEntry(f"leg {i} is not a ledger.types.Leg")
        amount = leg.amount
        if type(amount) is not int:
            raise InvalidEntry(f"leg {i}: amount must be an int of minor units, not {type(amount).__name__}")
        if amount == 0:
            raise InvalidEntry(f"leg {i}: amount must not be zero")
        if not -MAX_AMOUNT <= amount <= MAX_AMOUNT:
            raise InvalidEntry(f"leg {i}: amount must be at most {MAX_AMOUNT:,} minor units either way")
        account, currency = leg.account, leg.currency
        prefix = _CHECKED_REFS.get((account, currency)) if type(account) is str and type(currency) is str else None
        if prefix is None:
            prefix = _checked_ref(i, account, currency)
        leg_json.append(f"{prefix}{amount}]")
        sums[currency] = sums.get(currency, 0) + amount
    imbalances = {cur: amount for cur, amount in sums.items() if amount}
    if imbalances:
        raise UnbalancedEntry(imbalances)
    key = entry.idempotency_key
    if key is not None:
        if type(key) is not str or not (0 < len(key) <= 255):
            raise InvalidEntry("idempotency_key must be a string of 1-255 characters")
        if not _plain_text(key) and _UNSTORABLE.search(key):
            raise InvalidEntry("idempotency_key holds a NUL character or a lone surrogate")
        if key.startswith(RESERVED_KEY_PREFIX) and key != reversal_key(entry.reverses):
            # Taken by another entry, the key would make entry_reverse's replay a permanent conflict.
            raise InvalidEntry(
                f"idempotency keys beginning {RESERVED_KEY_PREFIX!r} are reserved for the ledger's reversals"
            )
    if entry.effective_date is not None and type(entry.effective_date) is not dt.date:
        raise InvalidEntry(f"effective_date must be a datetime.date, not {type(entry.effective_date).__name__}")
    reverses = entry.reverses
    if reverses is not None and (type(reverses) is not int or not 0 < reverses <= BIGINT_MAX):
        raise InvalidEntry("reverses must be the id of the entry this one reverses")
    if not isinstance(entry.description, str) or not entry.description.strip():
        raise InvalidEntry("an entry needs a description")
    if not _plain_text(entry.description) and _UNSTORABLE.search(entry.description):
        raise InvalidEntry("the description holds a NUL character or a lone surrogate")
    metadata = entry.metadata
    if not isinstance(metadata, dict):
        raise InvalidEntry("metadata must be a dict")
    if metadata:
        # Hash what the database will hand back: plain JSON, string keys.
        try:
            metadata_json = _hashing.canonical_json(metadata)
            if _UNSTORABLE.search(metadata_json) or "\\u0000" in metadata_json:
                _refuse_unstorable(json.loads(metadata_json))
            metadata = json.loads(metadata_json, parse_float=_stored_float)
        except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deeply to encode
            raise InvalidEntry(f"metadata must be plain JSON: {exc}") from None
    else:
        metadata_json = "{}"
    effective_date = entry.effective_date or posted_at.astimezone(dt.UTC).date()
    body = _hashing.entry_body(
        description=entry.description,
        metadata=metadata,
        metadata_json=metadata_json,  # what the metadata reads back as: canonical, and stable through that trip
        reverses=reverses,
        legs_json=",".join(leg_json),
    )
    return _Prepared(
        key=entry.idempotency_key,
        request_hash=_hashing.request_hash(effective_date=entry.effective_date, body=body),
        content_hash=_hashing.content_hash(
            idempotency_key=entry.idempotency_key, effective_date=effective_date, posted_at=posted_iso, body=body
        ),
        effective_date=effective_date,
        description=entry.description,
        metadata=metadata,
        metadata_json=metadata_json,
        reverses=reverses,
        legs=legs,
    )


def _plain_text(text: str) -> bool:
    """Printable ASCII, which no storage rule refuses: two string methods where the regex cost a post more."""
    return text.isascii() and text.isprintable()


# (account, currency) pairs already checked, with the start of their legs' JSON in the entry body: a batch names a
# few accounts many times, and checking and encoding each leg's text was most of the cost of preparing it.
_CHECKED_REFS: dict[tuple[str, str], str] = {}


def _checked_ref(i: int, account, currency) -> str:
    if type(account) is not str or not account:
        raise InvalidEntry(f"leg {i}: account code is missing")
    if _UNSTORABLE.search(account):
        raise InvalidEntry(f"leg {i}: the account code holds a NUL character or a lone surrogate")
    if not isinstance(currency, str) or currency not in CURRENCY_EXPONENTS:
        raise InvalidEntry(f"leg {i}: {currency!r} is not an ISO 4217 currency code")
    prefix = _hashing.leg_json_prefix(account, currency)
    if type(currency) is str:  # only exact strings are trusted on sight next time
        if len(_CHECKED_REFS) >= 10_000:
            _CHECKED_REFS.clear()
        _CHECKED_REFS[(account, currency)] = prefix
    return prefix


def _stored_float(text: str) -> float:
    """A float that reads back as it was hashed: jsonb spells 1e+20 as 100000000000000000000 and drops -0.0's
    sign, so the content hash recomputed from the stored row would differ."""
    if "e" in text or "E" in text or text == "-0.0":
        raise ValueError(f"the number {text} would be stored in another spelling; send it as an int or a string")
    return float(text)


def _refuse_unstorable(value) -> None:
    if isinstance(value, str) and _UNSTORABLE.search(value):
        raise ValueError(f"{value[:40]!r} holds a NUL character or a lone surrogate")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable(key)
            _refuse_unstorable(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_unstorable(item)


def _engine(db: BaseDatabaseWrapper | None = None) -> str:
    configured = getattr(settings, "LEDGER_ENGINE", "auto")
    if configured == "auto":
        return "postgresql" if (connection if db is None else db).vendor == "postgresql" else "orm"
    return configured


# --- PostgreSQL engine ----------------------------------------------------------

_PG_SQL = (
    "SELECT entry_ids, replayed, replayed_dates FROM ledger_post_entries("
    "%s::text[], %s::text[], %s::text[], %s::date[], %s::text[], %s::jsonb[], %s::bigint[], %s::smallint[], "
    "%s::timestamptz, %s::text[], %s::text[], %s::int[], %s::smallint[], %s::int[], %s::bigint[])"
)


_PG_ONE_SQL = (
    "SELECT entry_id, created, effective_date FROM ledger_post_entry("
    "%s::text, %s::text, %s::text, %s::date, %s::text, %s::jsonb, %s::bigint, %s::timestamptz, "
    "%s::text[], %s::text[], %s::bigint[], %s::boolean)"
)
# The same call as libpq takes it ($1…$12), for the single post's own round trip (see _execute_pg_one).
_PG_ONE_PARTS = _PG_ONE_SQL.split("%s")
_PG_ONE_NATIVE = ("".join(f"{part}${n}" for n, part in enumerate(_PG_ONE_PARTS[:-1], 1)) + _PG_ONE_PARTS[-1]).encode()
_PG_ONE_NAME = b"ledger_post_entry_one"
_STATEMENT_GONE = "26000"  # invalid_sql_statement_name: a prepared statement that no longer exists
_PG_DAY_ZERO = dt.date(2000, 1, 1)  # a binary date counts days from it


def _quoted(item: str) -> str:
    """One element of a PostgreSQL array literal."""
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text_array(items: Iterable[str]) -> str:
    """A PostgreSQL array literal, every element quoted."""
    return "{" + ",".join(map(_quoted, items)) + "}"


def _plain_array(items: Iterable[str]) -> str:
    """An array literal of elements that need no quoting: numbers, hashes, dates, currency codes."""
    return "{" + ",".join(items) + "}"


class _BinaryTextArray(bytes):
    """A text[] parameter already in PostgreSQL's binary array format."""


class _BinaryTextArrayDumper(psycopg.adapt.Dumper):
    format = psycopg.pq.Format.BINARY
    oid = 1009  # text[]

    def dump(self, obj: _BinaryTextArray) -> bytes:
        return obj


_TEXT_OID = 25
_HEX_DIGEST_LENGTH = struct.pack("!i", 64).decode("ascii")  # a SHA-256 in hex, as the binary format counts it


def _binary_hash_array(digests: list[str]) -> _BinaryTextArray:
    """Hex digests as a binary text[]: the server copies each element where it would scan a text literal's
    characters, which was over half the time spent reading a chunk's parameters."""
    if not digests:
        return _BinaryTextArray(struct.pack("!iii", 0, 0, _TEXT_OID))
    body = (_HEX_DIGEST_LENGTH + _HEX_DIGEST_LENGTH.join(digests)).encode("ascii")
    if len(body) != 68 * len(digests):  # each element its 4-byte length and 64 characters, or the server misreads
        raise ValueError("a digest is not 64 hex characters")
    return _BinaryTextArray(struct.pack("!iiiii", 1, 0, _TEXT_OID, len(digests), 1) + body)


def _pg_params(batch: Sequence[_Prepared], posted_at: dt.datetime) -> list:
    # Parallel arrays, each sent as one text literal that the statement casts:
    # several times cheaper on both sides than a JSON document unpacked in SQL,
    # or than letting psycopg adapt lists of Python values. The two hash arrays
    # go in the binary format instead, built in one join. Each account goes
    # once; legs name it by its 1-based ordinal.
    accounts: dict[tuple[str, str], str] = {}
    leg_entry: list[str] = []
    leg_index: list[str] = []
    leg_account: list[str] = []
    leg_amount: list[str] = []
    for ordinal, p in enumerate(batch, start=1):
        ordinal_text = str(ordinal)
        for index, leg in enumerate(p.legs):
            leg_entry.append(ordinal_text)
            leg_index.append(str(index))
            ref = (leg.account, leg.currency)
            account = accounts.get(ref)
            if account is None:
                account = accounts[ref] = str(len(accounts) + 1)
            leg_account.append(account)
            leg_amount.append(str(leg.amount))
    return [
        _plain_array(["NULL" if p.key is None else _quoted(p.key) for p in batch]),
        _binary_hash_array([p.request_hash for p in batch]),
        _binary_hash_array([p.content_hash for p in batch]),
        _plain_array([p.effective_date.isoformat() for p in batch]),
        _text_array([p.description for p in batch]),
        None if all(p.metadata_json == "{}" for p in batch) else _text_array([p.metadata_json for p in batch]),
        _plain_array(["NULL" if p.reverses is None else str(p.reverses) for p in batch]),
        _plain_array([str(len(p.legs)) for p in batch]),
        posted_at.isoformat(),
        _text_array([code for code, _ in accounts]),
        _plain_array([currency for _, currency in accounts]),
        _plain_array(leg_entry),
        _plain_array(leg_index),
        _plain_array(leg_account),
        _plain_array(leg_amount),
    ]


_KEY_CONSTRAINT = "ledger_entry_idempotency_key_uniq"
_RETRY_CONSTRAINTS = (_KEY_CONSTRAINT, "ledger_entry_reverses_uniq")


def _translate_pg_error(exc: DatabaseError) -> LedgerError | None:
    diag = getattr(exc.__cause__, "diag", None)
    sqlstate = getattr(diag, "sqlstate", None)
    if sqlstate == "22003":  # numeric_value_out_of_range: a bigint balance or total
        return InvalidEntry(BALANCE_OVERFLOW)
    if sqlstate == "40001":  # serialization_failure: the caller retries its transaction, as for any other
        return None
    message = getattr(diag, "message_primary", None) or ""
    if diag is None or not message.startswith("ledger:"):
        return None
    detail = json.loads(diag.message_detail or "{}")
    code = message.split(":", 1)[1]
    if code == "unknown_account":
        return UnknownAccount(detail["code"], detail["currency"])
    if code == "period_closed":
        return PeriodClosed(
            dt.date.fromisoformat(detail["effective_date"]), dt.date.fromisoformat(detail["closed_through"])
        )
    if code == "idempotency_conflict":
        return IdempotencyConflict(detail["key"], detail["entry_id"])
    if code == "already_reversed":
        return AlreadyReversed(detail["entry_id"], detail["reversal_id"])
    if code == "insufficient_balance":
        sign = AccountType(detail["type"]).normal_sign
        return InsufficientBalance(detail["code"], detail["currency"], detail["net"] * sign, detail["attempted"] * sign)
    return LedgerError(message)


def _with_retries(
    write: Callable[[], _T], db: BaseDatabaseWrapper | None = None, *, look_key_up: Callable[[], None] | None = None
) -> _T:
    """Run one write of either engine; the database's refusals reach the caller as typed errors.

    Outside a transaction the write is its own (one round trip on PostgreSQL).
    Inside one, a savepoint keeps the caller's transaction usable after a refusal.
    ``look_key_up``, for a write that does not look its idempotency key up first: told that the key is taken or
    the write refused, it turns the lookup on, once, and the write runs again.
    """
    db = connection if db is None else db
    # Also without autocommit (Django's AUTOCOMMIT off): a failed first call, as a replay's is, must not abort the
    # caller's transaction.
    use_savepoint = db.in_atomic_block or not db.get_autocommit()
    retries = 0
    prepared_again = False
    while True:
        try:
            if use_savepoint:
                with transaction.atomic():
                    return write()
            return write()
        except DatabaseError as exc:
            diag = getattr(exc.__cause__, "diag", None)
            constraint = getattr(diag, "constraint_name", "")
            if look_key_up is not None and (
                getattr(diag, "message_primary", None) == "ledger:probe_key"
                or (isinstance(exc, IntegrityError) and constraint == _KEY_CONSTRAINT)
                # The running balances are summed before the insert: a replay whose legs would now carry a balance
                # past 64 bits must still come back as the replay.
                or getattr(diag, "sqlstate", None) == "22003"
            ):
                look_key_up()
                look_key_up = None  # once
                continue
            if getattr(diag, "sqlstate", None) == _STATEMENT_GONE and not prepared_again:
                prepared_again = True  # the call's prepared statement was dropped; it is prepared again (once)
                continue
            # The triggers' refusals are IntegrityErrors too: name them first.
            translated = _translate_pg_error(exc)
            if translated is not None:
                raise translated from None
            # Another transaction committed the same idempotency key (or the
            # same reversal) while we waited: run again and take the replay path.
            if isinstance(exc, IntegrityError) and constraint in _RETRY_CONSTRAINTS:
                if use_savepoint and _snapshot_is_fixed():
                    _refuse_as_serialization_failure(constraint)
                if retries < 2:
                    retries += 1
                    continue
            raise


def _snapshot_is_fixed() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('transaction_isolation') <> 'read committed'")
        return cursor.fetchone()[0]


def _refuse_as_serialization_failure(constraint: str) -> None:
    """At REPEATABLE READ or SERIALIZABLE a key (or reversal) committed after the transaction's snapshot stays
    invisible to every retry inside it: report it as PostgreSQL reports such races, a serialization failure,
    which the caller answers by running its transaction again."""
    assert constraint in _RETRY_CONSTRAINTS  # a fixed name, written into the statement
    with connection.cursor() as cursor:
        cursor.execute(
            f"DO $$ BEGIN RAISE EXCEPTION 'ledger: {constraint}: claimed by a transaction that committed after the"
            " snapshot of this one' USING ERRCODE = 'serialization_failure', HINT = 'retry the transaction'; END $$"
        )


def _pg_one_params(p: _Prepared, posted_at: dt.datetime) -> list:
    # Every parameter goes as text that the statement casts: psycopg's adaptation
    # of dates and lists costs more than the rest of the Python side of a post.
    return [
        p.key,
        p.request_hash,
        p.content_hash,
        p.effective_date.isoformat(),
        p.description,
        p.metadata_json,
        None if p.reverses is None else str(p.reverses),
        posted_at.isoformat(),
        *_leg_arrays(p.legs),
        "f",  # p_probe: the key is not looked up first (see _post_pg_one)
    ]


def _leg_arrays(legs: list[Leg]) -> tuple[str, str, str]:
    """The legs' codes, currencies and amounts as array literals; currencies are checked ISO codes, plain."""
    if len(legs) == 2:  # most posts: written out, which a post's Python side felt
        first, second = legs
        return (
            f"{{{_quoted(first.account)},{_quoted(second.account)}}}",
            f"{{{first.currency},{second.currency}}}",
            f"{{{first.amount},{second.amount}}}",
        )
    return (
        _text_array([leg.account for leg in legs]),
        _plain_array([leg.currency for leg in legs]),
        _plain_array([str(leg.amount) for leg in legs]),
    )


@dataclass(slots=True)
class _PgSession:
    """The posting calls' own state on one psycopg connection, kept on it for as long as it stays open."""

    cursor: psycopg.Cursor  # a new cursor on Django's connection copies its adapters: 20 us of a 400 us post
    refused: bool = False  # the last call was refused, so the next runs unprepared (see _execute_pg)
    one_prepared: bool = False  # the single post's statement is prepared on this connection (_execute_pg_one)


def _new_cursor(raw: psycopg.Connection) -> psycopg.Cursor:
    cursor = psycopg.Cursor(raw)
    cursor.adapters.register_dumper(_BinaryTextArray, _BinaryTextArrayDumper)
    return cursor


def _pg_session(db: BaseDatabaseWrapper) -> _PgSession:
    """The connection's posting state, after the checks Django runs before a query on a cursor of its own: the
    health check, the owning thread, no atomic block left broken. (An event loop is refused before this, by the
    autocommit read or the savepoint in _with_retries.)"""
    db.close_if_health_check_failed()
    raw = db.connection
    if raw is None:  # what ensure_connection checks first; the call itself costs a single post about 3 us
        db.ensure_connection()
        raw = db.connection
    db.validate_no_broken_transaction()
    db.validate_thread_sharing()
    session = getattr(raw, "_ledger_session", None)
    if session is None or session.cursor.closed:
        with raw.lock:  # once per connection, though threads may share it
            old = getattr(raw, "_ledger_session", None)
            if old is not None and not old.cursor.closed:
                return old
            session = raw._ledger_session = _PgSession(
                _new_cursor(raw), one_prepared=old is not None and old.one_prepared
            )
    return session


def _execute_pg(sql: str, params: list, db: BaseDatabaseWrapper | None = None) -> list[tuple]:
    """Run the posting function as a server-side prepared statement.

    Django's cursor binds parameters client-side, quoting every array into the
    SQL text; for the one call on the hot path we bind server-side and let
    psycopg prepare the statement once per connection instead.
    """
    db = db or connections[DEFAULT_DB_ALIAS]  # once: each read through django.db.connection looks it up again
    session = _pg_session(db)
    # Threads that share the connection (inc_thread_sharing) never share a cursor and its results.
    cursor = _new_cursor(db.connection) if db.allow_thread_sharing else session.cursor
    # A statement whose first, preparing execution fails is forgotten by psycopg but stays on the server (about
    # 13 KB each), and the next call prepares it again: after a refusal, calls run unprepared until one succeeds,
    # so refusals in a row cannot pile statements up in the session.
    try:
        cursor.execute(sql, params, prepare=not session.refused)
        rows = cursor.fetchall()
    except psycopg.Error:
        session.refused = True
        # Django's own exception, and its note that the connection may be unusable, as its cursors give; set up
        # only when a call fails (each successful post spared building the wrapper).
        with db.wrap_database_errors:
            raise
    session.refused = False
    return rows


def _execute_pg_one(params: list, db: BaseDatabaseWrapper) -> tuple[int, bool, dt.date]:
    """The single post's call, sent through psycopg's libpq connection rather than its cursor.

    A cursor's execute runs psycopg's query, preparation and adaptation machinery in Python around the same
    two libpq calls; without it a post took 21-22 us (3%) less, alternated post by post. The wait is still
    psycopg's, which cancels the query when interrupted. The statement is prepared once per connection, or
    left unnamed where prepared statements are off (a pooler in transaction mode); results come back binary,
    whatever the session's DateStyle.
    """
    session = _pg_session(db)
    raw = db.connection
    if not raw.autocommit and raw.pgconn.transaction_status == pq.TransactionStatus.IDLE:
        # A transaction psycopg has yet to begin (it sends BEGIN before a cursor's first query; _with_retries's
        # savepoint does so): sent on its own, the call would commit by itself. The cursor begins it.
        entry_id, created, effective_date = _execute_pg(_PG_ONE_SQL, params, db)[0]
        return entry_id, created, effective_date
    values = [None if value is None else value.encode() for value in params]  # Django's connections speak UTF8
    try:
        with raw.lock:
            result = _call_one(raw, session, values)
        if result.status != pq.ExecStatus.TUPLES_OK:
            error = pg_errors.error_from_result(result)
            if error.sqlstate == _STATEMENT_GONE:
                # Dropped under us: psycopg runs DEALLOCATE ALL when its own cache goes stale, and poolers DISCARD
                # ALL. Prepared again on the next call, which _with_retries makes.
                session.one_prepared = False
            raise error
    except psycopg.Error:
        with db.wrap_database_errors:  # Django's exception, the psycopg error its cause, as its cursors give
            raise
    entry_id, created, days = (result.get_value(0, column) or b"" for column in range(3))  # none is NULL
    return (
        int.from_bytes(entry_id, "big", signed=True),
        created == b"\x01",
        _PG_DAY_ZERO + dt.timedelta(days=int.from_bytes(days, "big", signed=True)),
    )


def _call_one(raw: psycopg.Connection, session: _PgSession, values: list) -> PGresult:
    pgconn = raw.pgconn
    if raw.prepare_threshold is None:
        pgconn.send_query_params(_PG_ONE_NATIVE, values, result_format=pq.Format.BINARY)
        return raw.wait(pg_generators.execute(pgconn))[-1]
    if not session.one_prepared:
        pgconn.send_prepare(_PG_ONE_NAME, _PG_ONE_NATIVE)
        prepared = raw.wait(pg_generators.execute(pgconn))[-1]
        if prepared.status != pq.ExecStatus.COMMAND_OK:
            return prepared
        session.one_prepared = True
    pgconn.send_query_prepared(_PG_ONE_NAME, values, result_format=pq.Format.BINARY)
    return raw.wait(pg_generators.execute(pgconn))[-1]


def _post_pg(batch: Sequence[_Prepared], posted_at: dt.datetime, params: list | None = None) -> list[PostedEntry]:
    """Post through the database function; ``params`` may come encoded already (see _Batcher)."""
    if len(batch) == 1:
        return [_post_pg_one(batch[0], posted_at, connections[DEFAULT_DB_ALIAS])]
    return _posted_from_row(batch, _send_pg(batch, posted_at, params))


def _post_pg_one(prepared: _Prepared, posted_at: dt.datetime, db: BaseDatabaseWrapper) -> PostedEntry:
    # The first call leaves the key to the unique index; told that it is taken, or that the post is refused, the
    # call runs again with the lookup (p_probe), which finds the replay (or the conflict).
    params = _pg_one_params(prepared, posted_at)

    def look_key_up() -> None:
        params[-1] = "t"

    entry_id, created, eff = _with_retries(
        lambda: _execute_pg_one(params, db), db, look_key_up=None if prepared.key is None else look_key_up
    )
    return PostedEntry(id=entry_id, idempotency_key=prepared.key, effective_date=eff, created=created)


def _send_pg(batch: Sequence[_Prepared], posted_at: dt.datetime, params: list | None) -> tuple:
    """One call of ledger_post_entries: its row of ids, replayed ordinals and their stored dates."""
    params = params or _pg_params(batch, posted_at)
    return _with_retries(lambda: _execute_pg(_PG_SQL, params))[0]


def _posted_from_row(batch: Sequence[_Prepared], row: tuple) -> list[PostedEntry]:
    ids, replayed, replayed_dates = row
    stored_dates = dict(zip(replayed, replayed_dates, strict=True))
    return [
        PostedEntry(
            id=entry_id,
            idempotency_key=p.key,
            effective_date=stored_dates.get(ordinal, p.effective_date),
            created=ordinal not in stored_dates,
        )
        for ordinal, (entry_id, p) in enumerate(zip(ids, batch, strict=True), start=1)
    ]


# --- ORM engine -----------------------------------------------------------------


def _post_orm(batch: Sequence[_Prepared], posted_at: dt.datetime) -> list[PostedEntry]:
    return _with_retries(lambda: _post_orm_once(batch, posted_at))


def _post_orm_once(batch: Sequence[_Prepared], posted_at: dt.datetime) -> list[PostedEntry]:
    with transaction.atomic():
        refs = {(leg.account, leg.currency) for p in batch for leg in p.legs}
        codes = {code for code, _ in refs}
        accounts = {
            (a.code, a.currency): a
            for a in Account.objects.select_for_update().filter(code__in=codes).order_by("pk")
            if (a.code, a.currency) in refs
        }
        for p in batch:
            for leg in p.legs:
                if (leg.account, leg.currency) not in accounts:
                    raise UnknownAccount(leg.account, leg.currency)

        keys = [p.key for p in batch if p.key]
        existing = {
            e.idempotency_key: e
            for e in JournalEntry.objects.filter(idempotency_key__in=keys).only(
                "id", "idempotency_key", "request_hash", "effective_date"
            )
        }
        results: list[PostedEntry | None] = [None] * len(batch)
        new: list[tuple[int, _Prepared]] = []
        for i, p in enumerate(batch):
            found = existing.get(p.key) if p.key else None
            if found is None:
                new.append((i, p))
            elif found.request_hash != p.request_hash:
                raise IdempotencyConflict(p.key, found.pk)  # type: ignore[arg-type]
            else:
                results[i] = PostedEntry(found.pk, p.key, found.effective_date, created=False)

        unstored = [p for _, p in new]
        refusal = _closed_period_in(unstored, stored={}) or _reversed_already_in(unstored)
        if refusal is not None:
            raise refusal

        # Every running balance against the no-overdraft rule first, then against the 64-bit limit: the
        # PostgreSQL function checks overdrafts before it writes, and meets an overflow only as it writes.
        running = {key: a.net for key, a in accounts.items()}
        overflow = False
        for _, p in new:
            for index, leg in enumerate(p.legs):
                ref = (leg.account, leg.currency)
                running[ref] += leg.amount
                overflow = overflow or not -BALANCE_LIMIT <= running[ref] <= BALANCE_LIMIT
                account = accounts[ref]
                sign = AccountType(account.type).normal_sign
                if account.forbid_negative and running[ref] * sign < 0:
                    # Named with the balance just before this entry: take back its legs on the account so far.
                    moved = sum(other.amount for other in p.legs[: index + 1] if (other.account, other.currency) == ref)
                    raise InsufficientBalance(
                        account.code, account.currency, (running[ref] - moved) * sign, running[ref] * sign
                    )
        if overflow:
            raise InvalidEntry(BALANCE_OVERFLOW)

        created = JournalEntry.objects.bulk_create(
            [
                JournalEntry(
                    effective_date=p.effective_date,
                    posted_at=posted_at,
                    description=p.description,
                    metadata=p.metadata,
                    idempotency_key=p.key,
                    request_hash=p.request_hash,
                    content_hash=p.content_hash,
                    reverses_id=p.reverses,
                    leg_count=len(p.legs),
                )
                for _, p in new
            ]
        )
        postings: list[PostingRow] = []
        balances = {key: a.net for key, a in accounts.items()}
        deltas: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        day_deltas: dict[tuple[int, dt.date], list[int]] = defaultdict(lambda: [0, 0])
        for (i, p), entry in zip(new, created, strict=True):
            results[i] = PostedEntry(entry.pk, p.key, p.effective_date, created=True)
            for index, leg in enumerate(p.legs):
                ref = (leg.account, leg.currency)
                account = accounts[ref]
                balances[ref] += leg.amount
                deltas[ref][0] += leg.amount
                deltas[ref][1] += 1
                day = day_deltas[(account.pk, p.effective_date)]
                day[0] += leg.amount
                day[1] += 1
                postings.append(
                    PostingRow(
                        entry_id=entry.pk,
                        leg_index=index,
                        leg_count=len(p.legs),
                        account_id=account.pk,
                        currency=leg.currency,
                        amount=leg.amount,
                        balance_after=balances[ref],
                    )
                )
        PostingRow.objects.bulk_create(postings, batch_size=2000)
        for ref, (delta, count) in deltas.items():
            Account.objects.filter(pk=accounts[ref].pk).update(
                net=F("net") + delta, posting_count=F("posting_count") + count
            )
        _apply_day_deltas(day_deltas)
    return results  # type: ignore[return-value]


def _apply_day_deltas(day_deltas: dict[tuple[int, dt.date], list[int]]) -> None:
    """Add to the per-day totals; the account locks held by the caller serialise this."""
    if not day_deltas:
        return
    account_ids = {account_id for account_id, _ in day_deltas}
    days = {d for _, d in day_deltas}
    existing = {
        (row.account_id, row.day): row for row in AccountDay.objects.filter(account_id__in=account_ids, day__in=days)
    }
    to_create, to_update = [], []
    for (account_id, day), (net, count) in day_deltas.items():
        row = existing.get((account_id, day))
        if row is None:
            to_create.append(AccountDay(account_id=account_id, day=day, net=net, postings=count))
        else:
            row.net += net
            row.postings += count
            to_update.append(row)
    # A back-dated post can take one day's total past 64 bits though no running balance gets there.
    if any(not -BALANCE_LIMIT <= row.net <= BALANCE_LIMIT for row in to_create + to_update):
        raise InvalidEntry(BALANCE_OVERFLOW)
    AccountDay.objects.bulk_create(to_create)
    AccountDay.objects.bulk_update(to_update, ["net", "postings"])


# --- public ---------------------------------------------------------------------


@dataclass(slots=True)
class _Chunk:
    unique: list[_Prepared]  # entries to send, repeated keys removed
    mirror: list[int]  # per request: the index of its entry among all unique entries so far
    params: list | None  # the unique entries encoded for the PostgreSQL engine


class _Batcher:
    """Turns requests into chunks ready to send: validated, hashed, de-duplicated by key, encoded.

    Chunks are made in order by one thread, which owns the key index, so that a
    large batch can prepare its next chunk while the database writes this one.
    """

    def __init__(self, posted_at: dt.datetime, encode: bool) -> None:
        self.posted_at = posted_at
        self.posted_iso = _hashing.utc_iso(posted_at)
        self.encode = encode
        self.first_by_key: dict[str, tuple[int, str]] = {}  # key -> (unique index, request hash)
        self.unique_count = 0
        self.reversed: set[int] = set()

    def chunk(self, entries: Sequence[NewEntry]) -> _Chunk:
        unique: list[_Prepared] = []
        mirror: list[int] = []
        for entry in entries:
            p = _prepare(entry, posted_at=self.posted_at, posted_iso=self.posted_iso)
            if p.key is not None:
                first = self.first_by_key.get(p.key)
                if first is not None:
                    # Repeated key inside one batch: post the first, replay or refuse the rest.
                    if first[1] != p.request_hash:
                        raise InvalidEntry(
                            f"idempotency key {p.key!r} appears twice in one batch with different payloads"
                        )
                    mirror.append(first[0])
                    continue
                self.first_by_key[p.key] = (self.unique_count, p.request_hash)
            if p.reverses is not None:
                if p.reverses in self.reversed:
                    raise InvalidEntry(f"entry {p.reverses} is reversed twice in one batch")
                self.reversed.add(p.reverses)
            mirror.append(self.unique_count)
            self.unique_count += 1
            unique.append(p)
        params = _pg_params(unique, self.posted_at) if self.encode and len(unique) > 1 else None
        return _Chunk(unique, mirror, params)


def _chunks(entries: Sequence[NewEntry]) -> list[Sequence[NewEntry]]:
    """A small batch goes in one round trip. A large one goes in chunks that double from a short first one
    (whose preparation nothing hides) up to BULK_CHUNK: the database writes a chunk in about twice the time
    Python takes to prepare one, so each chunk is ready by the time the one before it is written, and the
    database waits only for the first."""
    count = len(entries)
    if count <= PIPELINE_MIN:
        return [entries]
    parts: list[Sequence[NewEntry]] = []
    start, size = 0, PIPELINE_FIRST
    while start < count:
        parts.append(entries[start : start + size])
        start += size
        size = min(2 * size, BULK_CHUNK)
    return parts


# The advisory lock that keyed calls share and that a batch sent in several chunks, or one that reverses
# entries, holds alone (ledger_post_entries, step 0).
BULK_KEYS_LOCK = 7145360201


_SEQUENCES = (list, tuple)


def _lock_for_chunks(entries: Sequence[NewEntry]) -> None:
    """Before the first chunk of a batch that goes in several, take every lock that its chunks will need.

    Each chunk's call locks its accounts in id order and claims its keys in key
    order, but a transaction holding chunk 1's locks while it waits for chunk 2's
    would deadlock with a batch that meets the same accounts, keys or reversals
    the other way round. So the batch locks all its accounts at once, in id
    order, and a batch with keys or reversals first takes the lock that such
    calls share, exclusively.
    """
    keyed = any(entry.idempotency_key is not None or entry.reverses is not None for entry in entries)
    # Legs that are not a list or tuple are left to the preparing thread, which may be reading them; anything
    # that is not a Leg of strings is refused when its chunk is prepared.
    refs = {
        (leg.account, leg.currency)
        for entry in entries
        if type(entry.legs) in _SEQUENCES
        for leg in entry.legs
        if type(leg) is Leg and type(leg.account) is str and type(leg.currency) is str
    }
    codes, currencies = zip(*sorted(refs), strict=True) if refs else ((), ())
    with connection.cursor() as cursor:
        if keyed:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BULK_KEYS_LOCK])
        cursor.execute(
            "SELECT a.id FROM ledger_account a JOIN unnest(%s::text[], %s::text[]) AS w(code, cur)"
            " ON a.code = w.code AND a.currency = w.cur ORDER BY a.id FOR UPDATE OF a",
            [list(codes), list(currencies)],
        )


def _post_many(entries: Sequence[NewEntry], posted_at: dt.datetime) -> list[PostedEntry]:
    on_postgresql = _engine() == "postgresql"
    batcher = _Batcher(posted_at, encode=on_postgresql)
    parts = _chunks(entries)
    mirror: list[int] = []
    if len(parts) == 1:
        chunk = batcher.chunk(parts[0])
        _require_entries(p.reverses for p in chunk.unique if p.reverses is not None)  # validated first, as one
        if on_postgresql:
            results = _post_pg(chunk.unique, posted_at, chunk.params)
        else:
            results = _post_orm(chunk.unique, posted_at)
        mirror = chunk.mirror
    else:
        with (
            transaction.atomic(),
            _pipelined_runtime(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-prepare") as pool,
        ):
            # One thread prepares every chunk in order, ahead of the writes; it also turns each written chunk's
            # ids into results, off the path between one write and the next.
            prepared = [pool.submit(batcher.chunk, part) for part in parts]
            written: list = []
            try:
                if connection.vendor == "postgresql":
                    _lock_for_chunks(entries)
                for position, pending in enumerate(prepared, start=1):
                    chunk = pending.result()
                    if chunk.unique:
                        try:
                            _require_entries(p.reverses for p in chunk.unique if p.reverses is not None)
                            if on_postgresql:
                                row = _send_pg(chunk.unique, posted_at, chunk.params)
                                written.append(pool.submit(_posted_from_row, chunk.unique, row))
                            else:
                                written.append(_done(_post_orm(chunk.unique, posted_at)))
                        except LedgerError as refusal:
                            later = [p for following in prepared[position:] for p in following.result().unique]
                            raise _first_refusal(refusal, later) from None
                    mirror.extend(chunk.mirror)
            except BaseException:
                for pending in prepared:
                    pending.cancel()
                raise
            results = [posted for part in written for posted in part.result()]
    if len(mirror) == len(results):  # no key repeated within the batch: one result per request, in order
        return results
    out = []
    seen: set[int] = set()
    for index in mirror:
        result = results[index]
        if index in seen:
            result = PostedEntry(result.id, result.idempotency_key, result.effective_date, created=False)
        seen.add(index)
        out.append(result)
    return out


def _done(value: _T) -> Future[_T]:
    future: Future[_T] = Future()
    future.set_result(value)
    return future


_runtime_lock = threading.Lock()
_runtime_users = 0
_runtime_saved: tuple[float, bool] = (0.0, True)


@contextmanager
def _pipelined_runtime(interval: float = 0.0005):
    """While a batch is pipelined: hand the interpreter lock over within half a millisecond instead of five, and
    hold the cyclic garbage collector.

    Each time the posting thread comes back from the database it needs the lock,
    which the preparing thread holds while it hashes the next chunk; by default
    Python takes it back only after five milliseconds, several times per chunk.
    Preparing 20,000 entries allocates enough to start a full collection in one
    batch out of two, which stopped both threads for 80-100 ms; what a batch
    allocates is freed by reference counting, and the collector resumes after it.
    Both settings are process-wide, so nested and concurrent batches share one
    saved state, restored when the last of them ends.
    """
    global _runtime_users, _runtime_saved
    with _runtime_lock:
        if _runtime_users == 0:
            _runtime_saved = (sys.getswitchinterval(), gc.isenabled())
            sys.setswitchinterval(min(interval, _runtime_saved[0]))
            gc.disable()
        _runtime_users += 1
    try:
        yield
    finally:
        with _runtime_lock:
            _runtime_users -= 1
            if _runtime_users == 0:
                sys.setswitchinterval(_runtime_saved[0])
                if _runtime_saved[1]:
                    gc.enable()


# The order in which one call names the first of several problems (docs/ledger.md); validation comes first.
_REFUSAL_ORDER = (
    EntryNotFound, UnknownAccount, IdempotencyConflict, PeriodClosed, AlreadyReversed, InsufficientBalance
)  # fmt: skip


def _first_refusal(refusal: LedgerError, later: list[_Prepared]) -> LedgerError:
    """A chunk was refused: what one call for the whole batch would have named instead, from the chunks after it.

    Preparing them (above) raised any validation error already; here each database rule that ranks above the
    refusal is checked on them in turn. Only on this path: a batch that posts pays nothing for it.
    """
    rank = next((i for i, kind in enumerate(_REFUSAL_ORDER) if isinstance(refusal, kind)), len(_REFUSAL_ORDER))
    checks = (_missing_reversal_in, _unknown_account_in, _key_conflict_in, _closed_period_in, _reversed_already_in)
    for check in checks[:rank]:
        found = check(later)
        if found is not None:
            return found
    return refusal


def _missing_reversal_in(batch: list[_Prepared]) -> LedgerError | None:
    try:
        _require_entries(p.reverses for p in batch if p.reverses is not None)
    except EntryNotFound as missing:
        return missing
    return None


def _unknown_account_in(batch: list[_Prepared]) -> LedgerError | None:
    refs = [(leg.account, leg.currency) for p in batch for leg in p.legs]
    known = set(Account.objects.filter(code__in={code for code, _ in refs}).values_list("code", "currency"))
    missing = next((ref for ref in refs if ref not in known), None)
    return None if missing is None else UnknownAccount(*missing)


def _stored_by_key(batch: list[_Prepared]) -> dict[str | None, tuple[int, str]]:
    keys = [p.key for p in batch if p.key is not None]
    rows = JournalEntry.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", "id", "request_hash")
    return {key: (entry_id, request_hash) for key, entry_id, request_hash in rows}


def _key_conflict_in(batch: list[_Prepared]) -> LedgerError | None:
    stored = _stored_by_key(batch)
    for p in batch:
        if p.key is not None and p.key in stored and stored[p.key][1] != p.request_hash:
            return IdempotencyConflict(p.key, stored[p.key][0])
    return None


def _closed_period_in(batch: list[_Prepared], stored: dict | None = None) -> LedgerError | None:
    """The first entry dated in a closed period; a replay of a stored key may be (``stored``: known already)."""
    closed = PeriodClose.objects.aggregate(m=Max("through_date"))["m"]
    if closed is None:
        return None
    stored = _stored_by_key(batch) if stored is None else stored
    for p in batch:
        if p.effective_date <= closed and p.key not in stored:
            return PeriodClosed(p.effective_date, closed)
    return None


def _reversed_already_in(batch: list[_Prepared]) -> LedgerError | None:
    """The first entry reversing one that is reversed already (but for a replay of that reversal's key)."""
    wanted = [p for p in batch if p.reverses is not None]
    if not wanted:
        return None
    taken = {
        reversed_id: (reversal, key)
        for reversed_id, reversal, key in JournalEntry.objects.filter(
            reverses_id__in=[p.reverses for p in wanted]
        ).values_list("reverses_id", "id", "idempotency_key")
    }
    for p in wanted:
        if p.reverses in taken and (p.key is None or taken[p.reverses][1] != p.key):
            return AlreadyReversed(p.reverses, taken[p.reverses][0])
    return None


def _post_one(prepared: _Prepared, posted_at: dt.datetime) -> PostedEntry:
    db = connections[DEFAULT_DB_ALIAS]  # once for the whole post (the hot path: each lookup costs a post about 1 us)
    if _engine(db) == "postgresql":
        return _post_pg_one(prepared, posted_at, db)
    return _post_orm([prepared], posted_at)[0]


def _require_entries(ids: Iterable[int]) -> None:
    """Entries named by ``reverses`` must exist: a clear error rather than a foreign-key failure at commit."""
    wanted = set(ids)
    if wanted:
        missing = wanted - set(JournalEntry.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        if missing:
            raise EntryNotFound(f"no journal entry {min(missing)} to reverse")


def entry_post(entry: NewEntry) -> PostedEntry:
    """Post one balanced entry. Safe to repeat with the same ``idempotency_key``."""
    posted_at = timezone.now()
    prepared = _prepare(entry, posted_at=posted_at, posted_iso=_hashing.utc_iso(posted_at))
    if prepared.reverses is not None:
        _require_entries([prepared.reverses])
    return _post_one(prepared, posted_at)


def entries_post(entries: Sequence[NewEntry]) -> list[PostedEntry]:
    """Post many entries atomically: all of them, or none.

    Much faster than one call per entry: accounts are locked once per chunk and
    rows are written set-wise. Results come back in the order given.
    """
    if not entries:
        return []
    return _post_many(entries, timezone.now())


def entry_reverse(
    entry_id: int,
    *,
    description: str | None = None,
    effective_date: dt.date | None = None,
    idempotency_key: str | None = None,
    metadata: dict | None = None,
) -> PostedEntry:
    """Post the exact opposite of an entry. An entry can be reversed once.

    The default idempotency key is derived from the entry, so calling this
    twice returns the same reversal instead of failing.
    """
    try:
        original = JournalEntry.objects.get(pk=entry_id)
    except JournalEntry.DoesNotExist:
        raise EntryNotFound(f"no journal entry {entry_id}") from None
    legs = [
        Leg(code, currency, -amount)
        for code, currency, amount in Posting.objects.filter(entry_id=entry_id)
        .order_by("leg_index")
        .values_list("account__code", "currency", "amount")
    ]
    request = NewEntry(
        legs=legs,
        description=description or f"Reversal of entry {entry_id}: {original.description}",
        idempotency_key=idempotency_key or reversal_key(entry_id),
        effective_date=effective_date,
        metadata={**(metadata or {}), "reverses": entry_id},
        reverses=entry_id,
    )
    posted_at = timezone.now()  # the original was read above: no need for entry_post's existence check
    return _post_one(_prepare(request, posted_at=posted_at, posted_iso=_hashing.utc_iso(posted_at)), posted_at)
