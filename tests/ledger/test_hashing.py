"""Entry hashes are written out by hand for speed; they must stay byte for byte what the JSON encoder writes,
or every entry posted before would fail the chain's verification."""

import datetime as dt
import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from ledger.services import _hashing

ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

# Quotes, backslashes, control characters, non-ASCII and astral characters: everything a JSON string escapes or not.
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
legs = st.lists(st.tuples(text, st.sampled_from(["EUR", "USD", "JPY"]), st.integers(-(10**15), 10**15)), max_size=5)


def reference_body(description, metadata, reverses, legs) -> str:
    return ENCODER([description, metadata, reverses, [list(leg) for leg in legs]])


@given(text, st.dictionaries(text, json_values, max_size=4), st.none() | st.integers(1, 2**63 - 1), legs)
def test_the_body_is_what_the_encoder_writes(description, metadata, reverses, legs):
    expected = reference_body(description, metadata, reverses, legs)
    assert _hashing.entry_body(description=description, metadata=metadata, reverses=reverses, legs=legs) == expected
    # Posting passes the canonical metadata it already encoded.
    assert (
        _hashing.entry_body(
            description=description,
            metadata=metadata,
            metadata_json=_hashing.canonical_json(metadata),
            reverses=reverses,
            legs=legs,
        )
        == expected
    )


@given(st.none() | text.filter(bool), st.none() | st.dates(), st.datetimes(timezones=st.just(dt.UTC)), text)
def test_the_hashes_cover_what_the_encoder_writes(key, effective_date, posted_at, body):
    posted = _hashing.utc_iso(posted_at)
    header = ENCODER([_hashing.HASH_VERSION, effective_date.isoformat() if effective_date else None])
    assert _hashing.request_hash(effective_date=effective_date, body=body) == sha256(header + body)
    on = effective_date or posted_at.date()
    header = ENCODER([_hashing.HASH_VERSION, key, on.isoformat(), posted])
    assert _hashing.content_hash(idempotency_key=key, effective_date=on, posted_at=posted, body=body) == sha256(
        header + body
    )


def test_a_known_entry_keeps_its_hashes():
    """Fixed values, computed with the JSON encoder when the format was set: a change of spelling fails here."""
    body = _hashing.entry_body(
        description='Usage "Q3"\n',
        metadata={"z": 1, "a": ["é", None]},
        reverses=None,
        legs=[("cash:stripe", "EUR", 1250), ("revenue:commission", "EUR", -1250)],
    )
    assert body == (
        '["Usage \\"Q3\\"\\n",{"a":["é",null],"z":1},null,'
        '[["cash:stripe","EUR",1250],["revenue:commission","EUR",-1250]]]'
    )
    assert _hashing.request_hash(effective_date=dt.date(2026, 12, 7), body=body) == sha256('[1,"2026-12-07"]' + body)
    assert _hashing.content_hash(
        idempotency_key="k-1", effective_date=dt.date(2026, 12, 7), posted_at="2026-12-07T03:00:00.000000Z", body=body
    ) == sha256('[1,"k-1","2026-12-07","2026-12-07T03:00:00.000000Z"]' + body)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
