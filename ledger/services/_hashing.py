"""Canonical hashes of entries.

``request_hash`` covers what the caller asked for, so that an idempotent
replay can be told apart from a different request under the same key.
``content_hash`` covers everything stored about an entry and its legs; the
chain and the verifier recompute it from the rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

HASH_VERSION = 1


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def utc_iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def request_hash(
    *,
    effective_date: dt.date | None,
    description: str,
    metadata: dict,
    reverses: int | None,
    legs: Iterable[tuple[str, str, int]],
) -> str:
    return _sha256(
        [
            HASH_VERSION,
            effective_date.isoformat() if effective_date else None,
            description,
            metadata,
            reverses,
            [list(leg) for leg in legs],
        ]
    )


def content_hash(
    *,
    idempotency_key: str | None,
    effective_date: dt.date,
    posted_at: dt.datetime,
    description: str,
    metadata: dict,
    reverses: int | None,
    legs: Iterable[tuple[str, str, int]],
) -> str:
    return _sha256(
        [
            HASH_VERSION,
            idempotency_key,
            effective_date.isoformat(),
            utc_iso(posted_at),
            description,
            metadata,
            reverses,
            [list(leg) for leg in legs],
        ]
    )


GENESIS_HASH = "0" * 64


def chain_hash(previous: str, seq: int, entry_id: int, entry_content_hash: str) -> str:
    return hashlib.sha256(f"{previous}:{seq}:{entry_id}:{entry_content_hash}".encode()).hexdigest()
