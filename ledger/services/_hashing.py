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
from json.encoder import encode_basestring  # the C encoder of a JSON string, as ensure_ascii=False writes it
from typing import Any

HASH_VERSION = 1
GENESIS_HASH = "0" * 64

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def canonical_json(value: Any) -> str:
    return _dumps(value)


def utc_iso(moment: dt.datetime) -> str:
    """``%Y-%m-%dT%H:%M:%S.%fZ``, the form every stored hash was made with."""
    utc = moment.astimezone(dt.UTC)
    if utc.year < 1000:  # strftime writes such a year unpadded, isoformat pads it
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # half strftime's cost, on every post


def entry_body(
    *,
    description: str,
    metadata: dict,
    reverses: int | None,
    legs: Iterable[tuple[str, str, int]] = (),
    metadata_json: str | None = None,
    legs_json: str | None = None,
) -> str:
    """``_dumps([description, metadata, reverses, legs])``, written out by hand: the encoder's generic walk was
    most of the Python cost of preparing a bulk post. ``metadata_json``, when the caller has it, is
    ``canonical_json(metadata)``; ``legs_json``, the legs joined by commas, each ``leg_json_prefix(account,
    currency)`` + amount + ``]``. tests/ledger/test_hashing.py holds these spellings to the encoder's."""
    if legs_json is None:
        legs_json = ",".join([f"{leg_json_prefix(account, currency)}{amount}]" for account, currency, amount in legs])
    if metadata_json is None:
        metadata_json = _dumps(metadata)
    reversal = "null" if reverses is None else str(reverses)
    return f"[{encode_basestring(description)},{metadata_json},{reversal},[{legs_json}]]"


def leg_json_prefix(account: str, currency: str) -> str:
    """A leg's JSON up to its amount: ``["account","EUR",``."""
    return f"[{encode_basestring(account)},{encode_basestring(currency)},"


def request_hash(*, effective_date: dt.date | None, body: str) -> str:
    date = f'"{effective_date.isoformat()}"' if effective_date else "null"
    return hashlib.sha256(f"[{HASH_VERSION},{date}]{body}".encode()).hexdigest()


def content_hash(*, idempotency_key: str | None, effective_date: dt.date, posted_at: str, body: str) -> str:
    """``posted_at`` is the UTC ISO form from :func:`utc_iso`."""
    key = "null" if idempotency_key is None else encode_basestring(idempotency_key)
    header = f'[{HASH_VERSION},{key},"{effective_date.isoformat()}","{posted_at}"]'
    return hashlib.sha256(f"{header}{body}".encode()).hexdigest()


def chain_hash(previous: str, seq: int, entry_id: int, entry_content_hash: str) -> str:
    return hashlib.sha256(f"{previous}:{seq}:{entry_id}:{entry_content_hash}".encode()).hexdigest()
