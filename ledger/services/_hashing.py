"""Canonical hashes of entries.

``request_hash`` covers what the caller asked for, so that an idempotent
replay can be told apart from a different request under the same key.
``content_hash`` covers everything stored about an entry and its legs; the
chain and the verifier recompute it from the rows.

Both hash a small header plus one shared canonical body (description,
metadata, reversal and legs), so posting serialises each entry once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

HASH_VERSION = 1
GENESIS_HASH = "0" * 64

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def canonical_json(value: Any) -> str:
    return _dumps(value)


def utc_iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_body(*, description: str, metadata: dict, reverses: int | None, legs: Iterable[tuple[str, str, int]]) -> str:
    return _dumps([description, metadata, reverses, [list(leg) for leg in legs]])


def request_hash(*, effective_date: dt.date | None, body: str) -> str:
    header = _dumps([HASH_VERSION, effective_date.isoformat() if effective_date else None])
    return hashlib.sha256(f"{header}{body}".encode()).hexdigest()


def content_hash(*, idempotency_key: str | None, effective_date: dt.date, posted_at: str, body: str) -> str:
    """``posted_at`` is the UTC ISO form from :func:`utc_iso`."""
    header = _dumps([HASH_VERSION, idempotency_key, effective_date.isoformat(), posted_at])
    return hashlib.sha256(f"{header}{body}".encode()).hexdigest()


def chain_hash(previous: str, seq: int, entry_id: int, entry_content_hash: str) -> str:
    return hashlib.sha256(f"{previous}:{seq}:{entry_id}:{entry_content_hash}".encode()).hexdigest()
