"""Manifest parsing and validation: CSV or JSON Lines, streamed, every bad row reported.

:func:`read_manifest` yields one :class:`RowResult` per record with either a
validated row or the list of problems (line number, field, message). Problems
with the file as a whole (encoding of the header, missing or unknown columns,
an empty file) raise :class:`ManifestFileError`. Nothing here touches the
database; the format is documented in docs/manifest.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from ledger.services import parse_iso_date
from marketplace.catalog.vocab import COUNTRIES, EXCLUSION_REASONS, LANGUAGE_TAG, WORLDWIDE, codes_beyond

REQUIRED = (
    "external_id", "title", "duration_seconds", "width", "height", "fps", "codec", "size_bytes", "sha256",
    "storage_uri",
)  # fmt: skip
OPTIONAL = ("language", "rights_expiry", "territories", "clip_exclusions", "co_owners")
COLUMNS = REQUIRED + OPTIONAL

# The columns as the import form's format page explains them (docs/manifest.md has the full reference; a test keeps
# the two naming the same columns): column -> (what it holds, CSV example, JSON Lines example if it differs).
COLUMN_GUIDE = {
    "external_id": (
        "Your id for the video, unique within the corpus; up to 200 characters, none of them invisible.",
        "nl-000042",
        None,
    ),
    "title": ("Up to 500 characters.", "Harbour at dawn", None),
    "duration_seconds": ("Positive decimal, up to 3 decimal places.", "32.5", None),
    "width": ("Positive whole number of pixels.", "3840", None),
    "height": ("Positive whole number of pixels.", "2160", None),
    "fps": ("Frames per second: positive decimal, up to 3 decimal places.", "29.97", None),
    "codec": ("Up to 50 characters, case-insensitive.", "h264", None),
    "size_bytes": ("The file's size: positive whole number.", "148897792", None),
    "sha256": ("The file's SHA-256: 64 hexadecimal characters.", "9f86d081…b0f00a08", None),
    "storage_uri": (
        "Where the file is: s3://bucket/key, gs://bucket/key, az://container/blob, https://host/…, http:// or file://.",
        "s3://bucket/key.mp4",
        None,
    ),
    "language": ("BCP 47 tag; zxx for no speech.", "pt-BR", None),
    "rights_expiry": ("YYYY-MM-DD, the last day your rights to the video run.", "2031-12-31", None),
    "territories": (
        "ISO 3166-1 alpha-2 codes, or WW for worldwide, within the corpus' rights territory; empty: the corpus' "
        "territory.",
        "FR;DE",
        '["FR", "DE"]',
    ),
    "clip_exclusions": (
        "Time ranges that may not be used, each with a reason: music, likeness, brand or other. Times in seconds "
        "or HH:MM:SS(.fff).",
        "12-20:music;00:01:00-00:01:30:likeness",
        '[{"start": 12, "end": 20, "reason": "music"}]',
    ),
    "co_owners": (
        "Licensors sharing this video's royalties, by the short name in their address (/o/<slug>/), with "
        "percentages that sum to 100; empty: the corpus' shares.",
        "northlight-studios:70;harbour-stock:30",
        '[{"org": "northlight-studios", "share": "70"}, {"org": "harbour-stock", "share": "30"}]',
    ),
}

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
# A bucket and a key, a host, or a path: "s3:///" names no file.
_URI = re.compile(r"^(?:(?:s3|gs|az)://[^/\s]+/\S+|https?://[^/\s]+\S*|file://\S+)$")
_TIMECODE = re.compile(r"^(?:([0-9]+):)?([0-9]+):([0-5]?[0-9](?:\.[0-9]+)?)$")
# Plain ASCII notation only: Decimal() and int() would also take "1_000" and other scripts' digits.
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
# A NUL cannot be stored in a PostgreSQL text column; a lone surrogate cannot be encoded at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_JSON_KINDS = {dict: "a JSON object", list: "a JSON list", bool: "true or false"}
MAX_DURATION = Decimal(10**8)


class ManifestFileError(ValueError):
    """The file cannot be read as a manifest at all; the message says why."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    message: str
    # The row's id when it could be read although the row is bad: a duplicate of it is still reported.
    external_id: str | None = None


@dataclass(slots=True)
class AssetRow:
    line: int
    external_id: str
    title: str
    duration_seconds: Decimal
    width: int
    height: int
    fps: Decimal
    codec: str
    size_bytes: int
    sha256: str
    storage_uri: str
    language: str
    rights_expiry: dt.date | None
    territories: list[str]
    clip_exclusions: list[dict]
    co_owners: list[dict]
    kept: int = 0  # bits of KEEP_BITS: optional columns this row leaves out, which keep the asset's stored value


@dataclass(slots=True)
class RowResult:
    line: int
    row: AssetRow | None
    errors: list[RowError]
    bytes_read: int


# --- field parsers: each returns a value or raises ValueError with a message ------------


def _readable(value: Any) -> Any:
    """``value``, unless it is a JSON number Python could not hold: that is out of range wherever it stands."""
    if isinstance(value, _UnreadNumber):
        raise ValueError(f"{_shown(str(value))} is out of range")
    return value


def _text(value: Any, limit: int, required: bool = True) -> str:
    _readable(value)
    if value is None:
        value = ""
    if isinstance(value, (dict, list, bool)):  # JSON Lines: a number may stand for its text, nothing else
        raise ValueError(f"must be text or a number, not {_JSON_KINDS[type(value)]}")
    if not isinstance(value, str):
        value = _written(value)
    if _UNSTORABLE.search(value):
        raise ValueError("contains a NUL character or invalid Unicode (a lone surrogate)")
    value = value.strip()
    if required and not value:
        raise ValueError("is required")
    if len(value) > limit:
        raise ValueError(f"is {len(value)} characters long; the limit is {limit}")
    return value


def _number(text: str) -> Decimal:
    """``text`` already matches _NUMBER; an exponent past about 10^18 ("1e99999999999999999999") is out of
    Decimal's range, and a row error like any other rather than a crash of the import."""
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ValueError(f"{text!r} is out of range") from None


class _NotJsonNumber(ValueError):
    pass


class _UnreadNumber(str):
    """A JSON number that Python cannot hold: an exponent past Decimal's range, or an integer of 4,300 digits and
    more. It is kept as its text, so that the row error names its field, as it does for the same text in a CSV."""


class _WrittenDecimal(Decimal):
    """A JSON number with a fraction or an exponent, which keeps how it was written: a text field takes it as
    written (an id 1e3 is "1e3", not "1E+3"), and a message quotes it as the file has it."""

    written: str

    def __new__(cls, text: str) -> _WrittenDecimal:
        number = super().__new__(cls, text)
        number.written = text
        return number


class _WrittenInt(int):
    """A JSON integer, which keeps how it was written (-0 is "-0" in a text field)."""

    written: str

    def __new__(cls, text: str) -> _WrittenInt:
        number = super().__new__(cls, text)
        number.written = text
        return number


def _json_float(text: str) -> Decimal | _UnreadNumber:
    try:
        return _WrittenDecimal(text)
    except ArithmeticError:
        return _UnreadNumber(text)


def _json_int(text: str) -> int | _UnreadNumber:
    try:
        return _WrittenInt(text)
    except ValueError:  # past sys.get_int_max_str_digits()
        return _UnreadNumber(text)


def _written(value: Any) -> str:
    """A field's value as the file wrote it: a JSON number in its own spelling, anything else as text."""
    return value.written if isinstance(value, (_WrittenDecimal, _WrittenInt)) else str(_readable(value))


def _json_shown(value: Any) -> str:
    """A value from the file for a message, spelt as the file has it: JSON's null, true and false, numbers as
    written, text quoted and escaped."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (_WrittenDecimal, _WrittenInt)):
        return value.written
    if isinstance(value, (dict, list)):
        return _shown(json.dumps(value, default=str, ensure_ascii=False))
    return _shown(str(value))


def _refuse_constant(name: str) -> None:
    """Python's json reads NaN and Infinity, which JSON does not have."""
    raise _NotJsonNumber(f"{name} is not a JSON number")


def _long_json_integer(value: Any, limit: int) -> None:
    """A JSON integer written longer than a numeric field reads is out of range, as one past int()'s 4,300 digits
    is: Python holds it, but no field has a use for it, and a message must not quote it whole."""
    if isinstance(value, _WrittenInt) and len(value.written) > limit:
        raise ValueError(f"{_shown(value.written)} is out of range")


def _decimal(value: Any, places: int, maximum: Decimal) -> Decimal:
    _long_json_integer(value, 40)
    text = _text(value, 40)
    if not _NUMBER.match(text):
        raise ValueError(f"{text!r} is not a number")
    number = _number(text)
    if number <= 0:
        raise ValueError(f"must be greater than zero (got {text})")
    if number > maximum:
        raise ValueError(f"{text} is implausibly large (limit {maximum})")
    # By value: ffprobe writes 32.500000, which is 32.5 exactly, and is stored so.
    exact = number.quantize(Decimal(1).scaleb(-places))
    if number != exact:
        raise ValueError(f"{text} has more than {places} decimal places")
    return exact if -number.as_tuple().exponent > places else number  # type: ignore[operator]


def _int(value: Any, maximum: int) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, int):
        _long_json_integer(value, 30)
        number, text = int(value), _written(value)  # a plain int, and how the file wrote it
    else:
        text = _text(value, 30)
        exact = _number(text) if _NUMBER.match(text) else None  # "1e3" is 1000, as it is for a duration
        if exact is None or exact != exact.to_integral_value():
            raise ValueError(f"{text!r} is not a whole number")
        if exact > maximum:  # before int(): "1e999999999" would be a billion digits
            raise ValueError(f"{text} is implausibly large (limit {maximum})")
        number = int(exact)
    if number <= 0:
        raise ValueError(f"must be greater than zero (got {text})")
    if number > maximum:
        raise ValueError(f"{text} is implausibly large (limit {maximum})")
    return number


def _date(value: Any) -> dt.date | None:
    text = _text(value, 20, required=False)
    return parse_iso_date(text) if text else None  # exactly YYYY-MM-DD, as the ledger's reports take dates


def _list(value: Any) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    raise ValueError("must be a list")


def _territories(value: Any) -> list[str]:
    items = _list(value)
    # JSON Lines: [true], [1], [null]
    if not_text := [item for item in items if not isinstance(item, str) or isinstance(item, _UnreadNumber)]:
        kind = _JSON_KINDS.get(type(not_text[0]), "null" if not_text[0] is None else "a number")
        raise ValueError(f"must be a list of codes as text, not of {kind}")
    # ASCII before upper-casing: Unicode upper-cases the ligature U+FB01 to "FI" and the dotless i U+0131 to "I".
    codes = [code.upper() if code.isascii() else code for code in (c.strip() for c in items)]
    unknown = [code for code in codes if code != WORLDWIDE and code not in COUNTRIES]
    if unknown:
        shown = ", ".join(code if code.isalnum() and code.isascii() else repr(code) for code in unknown)
        raise ValueError(f"names unknown code(s) {shown}: use ISO 3166-1 alpha-2 codes or WW")
    codes = sorted(set(codes))  # FR;FR is FR, and WW;WW is WW
    if WORLDWIDE in codes and len(codes) > 1:
        raise ValueError("WW (worldwide) cannot be combined with other territories")
    return codes


def _seconds(text: str) -> Decimal:
    text = text.strip()
    not_a_time = ValueError(f"{text[:40]!r} is not a time (seconds, or HH:MM:SS)")
    if len(text) > 40:
        raise not_a_time
    match = _TIMECODE.match(text)
    if match and (match[1] is None or int(match[2]) < 60):  # HH:MM:SS, or MM:SS; seconds below 60 (the pattern)
        hours, minutes, seconds = match.groups()
        value = Decimal(hours or 0) * 3600 + Decimal(minutes) * 60 + Decimal(seconds)
    elif _NUMBER.match(text) and (value := _number(text)) >= 0:
        value = value.copy_abs()  # -0 is stored as 0: one spelling per time (abs() would round)
    else:
        raise not_a_time
    # Bounded like a duration, to the millisecond: an exact value that is stored as it was checked.
    if value > MAX_DURATION:
        raise ValueError(f"time {text} is implausibly large (limit {MAX_DURATION} s)")
    if value != value.quantize(Decimal("0.001")):
        raise ValueError(f"time {text} has more than 3 decimal places")
    return value


def _time(value: Any) -> Decimal:
    """An exclusion's start or end: text (from a CSV range too) or a JSON number."""
    if value is None or isinstance(value, (bool, dict, list)):
        raise ValueError(f"{_json_shown(value)} is not a time (seconds, or HH:MM:SS)")
    return _seconds(_written(value))


def clip_exclusions(value: Any, duration: Decimal | None) -> list[dict]:
    """Exclusions in their stored form; ValueError names the first that is malformed or overruns ``duration``."""
    items = []
    for item in _list(value):
        if isinstance(item, str):
            # 60-90:music  or  00:01:00-00:01:30:likeness
            span, sep, reason = item.rpartition(":")
            if not sep or "-" not in span:
                raise ValueError(f"{item!r} is not start-end:reason (for example 60-90:music)")
            start_text, _, end_text = span.partition("-")
            if not start_text.strip():
                raise ValueError(f"{_shown(item)} has no start time (times are never negative)")
            if reason.strip().lower() not in EXCLUSION_REASONS and re.fullmatch(r"\s*[0-9.]+\s*", reason):
                raise ValueError(f"{_shown(item)} has no reason: end it with :{', :'.join(EXCLUSION_REASONS)}")
            item = {"start": start_text, "end": end_text, "reason": reason}
        if not isinstance(item, dict):
            raise ValueError("each exclusion must be an object with start, end and reason")
        if unknown := sorted(set(item) - {"start", "end", "reason"}):
            raise ValueError(f"an exclusion has start, end and reason only, not {', '.join(map(repr, unknown))}")
        start = _time(item.get("start", ""))
        end = _time(item.get("end", ""))
        reason_value = item.get("reason", "")
        reason = reason_value.strip().lower() if isinstance(reason_value, str) else None
        if reason not in EXCLUSION_REASONS:
            shown = _shown(reason) if reason is not None else _json_shown(reason_value)
            raise ValueError(f"exclusion reason {shown} is not one of {', '.join(EXCLUSION_REASONS)}")
        if end <= start:
            raise ValueError(f"exclusion {start}-{end} ends before it starts")
        if duration is not None and end > duration:
            raise ValueError(f"exclusion {start}-{end} runs past the end of the video ({duration.normalize():f} s)")
        # One spelling per time ("60", not "60.0"): an unchanged file must compare equal on re-upload.
        items.append({"start": f"{start.normalize():f}", "end": f"{end.normalize():f}", "reason": reason})
    # One order and no repeats: the same exclusions listed in another order, or twice, are the same rights.
    unique = {(x["start"], x["end"], x["reason"]): x for x in items}
    return sorted(unique.values(), key=lambda x: (Decimal(x["start"]), Decimal(x["end"]), x["reason"]))


def co_owner_shares(value: Any, known_orgs: frozenset[str]) -> list[dict]:
    """Parse co-owner shares ("org:60;other:40", or objects) into basis points that sum to 100%; empty: none."""
    shares = []
    unknown: list[str] = []
    for item in _list(value):
        if isinstance(item, str):
            org, sep, share = item.rpartition(":")
            if not sep:
                raise ValueError(f"{_shown(item)} is not org:percent (for example northlight-studios:60)")
            item = {"org": org, "share": share}
        if not isinstance(item, dict):
            raise ValueError("each co-owner must be an object with org and share")
        if stray := sorted(set(item) - {"org", "share"}):
            raise ValueError(f"a co-owner has org and share only, not {', '.join(map(_shown, stray))}")
        if not isinstance(item.get("org", ""), str):
            raise ValueError(f"co-owner {_json_shown(item.get('org'))} is not a licensor's slug written as text")
        org = item.get("org", "").strip()
        org = org.lower() if org.isascii() else org  # slugs are lower case: Harbour-Stock is harbour-stock
        if org not in known_orgs:
            unknown.append(org)  # named with the shares' own problems, below
        # A plain name as it is; any other quoted and escaped, so that no byte of it reaches a message raw.
        named = org if re.fullmatch(r"[A-Za-z0-9._-]{1,100}", org) else _shown(org)
        share = item.get("share", "")
        if share is None or isinstance(share, (bool, dict, list)):
            raise ValueError(f"share {_json_shown(share)} of {named} is not a percentage")
        text = _written(share).strip().rstrip("%")
        if len(text) > 40:  # a percentage has no use for more: the message would quote it whole
            raise ValueError(f"share {_shown(text)} of {named} is out of range")
        if not _NUMBER.match(text):
            raise ValueError(f"share {_json_shown(share)} of {named} is not a percentage")
        percent = _number(text)
        if not 0 < percent <= 100:
            raise ValueError(f"share {text}% of {named} must be above 0% and at most 100%")
        if percent != percent.quantize(Decimal("0.01")):  # before scaling: 1e-999999999 would round to 0
            raise ValueError(f"share {text}% of {named} has more than two decimals")
        bp = percent * 100
        shares.append({"org": org, "bp": int(bp)})
    problems = []
    if unknown:
        names = ", ".join(_shown(org) for org in unknown)
        problems.append(
            f"co-owner {names} is not a licensor on ClearFrame (name it by its slug, as in /o/<slug>/)"
            if len(unknown) == 1
            else f"co-owners {names} are not licensors on ClearFrame (name each by its slug, as in /o/<slug>/)"
        )
    if shares and (total := sum(s["bp"] for s in shares)) != 10_000:
        problems.append(f"co-owner shares sum to {Decimal(total) / 100}%; they must sum to 100%")
    if len({s["org"] for s in shares}) != len(shares):
        problems.append("a co-owner is listed twice")
    if problems:
        raise ValueError("; ".join(problems))
    return sorted(shares, key=lambda s: s["org"])


def exclusions_text(exclusions: list[dict]) -> str:
    """Clip exclusions as a CSV manifest writes them: "12-20:music; 60-70:likeness"."""
    return "; ".join(f"{x['start']}-{x['end']}:{x['reason']}" for x in exclusions)


def shares_text(shares: list[dict]) -> str:
    """Co-owner shares as a person types them: "harbour-stock:25; northlight-studios:75"."""
    return "; ".join(f"{s['org']}:{Decimal(s['bp']) / 100:f}" for s in shares)


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def territories_beyond(codes: list[str], held: Sequence[str]) -> str | None:
    """Why a row's territories reach past its corpus' rights, or None: an asset cannot hold rights its corpus does
    not (the chain of title is the corpus')."""
    if not (beyond := codes_beyond(codes, held)):
        return None
    shown = "WW (worldwide)" if beyond == [WORLDWIDE] else ", ".join(beyond)
    return (
        f"territories {shown} beyond the corpus' rights ({', '.join(held)}): an asset cannot hold rights its corpus "
        "does not; narrow the row, or widen the corpus' territory first"
    )


def _sha(value: Any) -> str:
    text = _text(value, 64 + 10)
    if not _SHA256.match(text):
        raise ValueError(sha_problem(text))
    return text.lower()


def sha_problem(text: str) -> str:
    """Why a SHA-256 does not read: its length, or the first character that is not hexadecimal."""
    bad = next((i for i, char in enumerate(text) if char not in _HEX_DIGITS), None)
    if len(text) == 64 and bad is not None:
        return f"must be 64 hexadecimal characters (0-9, a-f): character {bad + 1} is {text[bad]!r}"
    shown = text if len(text) <= 20 else f"{text[:16]}…"
    return f"must be 64 hexadecimal characters (got {len(text)} characters: {shown!r})"


def _uri(value: Any) -> str:
    text = _text(value, 1000)
    if not _URI.match(text):
        raise ValueError(
            f"{text[:60]!r} is not a storage URI (s3://bucket/key, gs://bucket/key, az://container/blob, "
            "https://host/…, http://host/… or file://…)"
        )
    return text


def _language(value: Any) -> str:
    text = _text(value, 35, required=False)
    if text and not LANGUAGE_TAG.match(text):
        raise ValueError(f"{text!r} is not a BCP 47 language tag (for example en, pt-BR)")
    return text


def _required_text(limit: int):
    return lambda value: _text(value, limit)


def _lower_text(limit: int):
    # Lower-cased before the length check: some characters grow ("İ" becomes two).
    return lambda value: _text(value.lower() if isinstance(value, str) else value, limit)


# Characters that no one can see or that break a line: control characters (Cc), format characters such as
# zero-width spaces, direction marks and the byte-order mark (Cf), and the line and paragraph separators (Zl, Zp),
# as Unicode 14 classes them (a test checks this table against Python's unicodedata). An id holding one would look
# like another id, or split in a pasted list. The SQL road reads the same table (csv_copy).
INVISIBLE_RANGES = (
    (0x00, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F),
    (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064),
    (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip
_INVISIBLE = re.compile("[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in INVISIBLE_RANGES) + "]")


def external_id_key(text: str) -> str:
    """The form in which an external id is stored and looked up: Unicode NFC. "é" typed as one character on one
    system and exported as "e" and a combining accent by another are the same id, and must name the same asset."""
    return unicodedata.normalize("NFC", text)


def _external_id(value: Any) -> str:
    """An id is a key, shown in pages and CSV lists: a tab or a line break inside it would make two ids look one."""
    text = _text(external_id_key(value) if isinstance(value, str) else value, 200)
    if _INVISIBLE.search(text):
        raise ValueError(
            "contains a control character or an invisible one (a tab, a line break, a zero-width space, a direction "
            "mark or similar)"
        )
    return text


# Field name -> parser, in manifest order. Exclusions and co-owners need context and are handled after.
_PARSERS = (
    ("external_id", _external_id),
    ("title", _required_text(500)),
    ("duration_seconds", lambda v: _decimal(v, 3, MAX_DURATION)),
    ("width", lambda v: _int(v, 100_000)),
    ("height", lambda v: _int(v, 100_000)),
    ("fps", lambda v: _decimal(v, 3, Decimal(1000))),
    ("codec", _lower_text(50)),
    ("size_bytes", lambda v: _int(v, 10**15)),
    ("sha256", _sha),
    ("storage_uri", _uri),
    ("language", _language),
    ("rights_expiry", _date),
    ("territories", _territories),
)


def validate_record(
    record: dict[str, Any], line: int, known_orgs: frozenset[str], held: tuple[str, ...] | None = None
) -> tuple[AssetRow | None, list[RowError]]:
    """``held``: the corpus' rights territory, past which no row's territories may reach (None: not checked)."""
    errors: list[RowError] = []
    values: dict[str, Any] = {}
    get = record.get
    for name, parse in _PARSERS:
        try:
            values[name] = parse(get(name))
        except ValueError as exc:
            errors.append(RowError(line, name, f"{name} {exc}"))
    if held is not None and values.get("territories") and (beyond := territories_beyond(values["territories"], held)):
        errors.append(RowError(line, "territories", beyond))
    try:
        values["clip_exclusions"] = clip_exclusions(get("clip_exclusions"), values.get("duration_seconds"))
    except ValueError as exc:
        errors.append(RowError(line, "clip_exclusions", f"clip_exclusions {exc}"))
    try:
        values["co_owners"] = co_owner_shares(get("co_owners"), known_orgs)
    except ValueError as exc:
        errors.append(RowError(line, "co_owners", f"co_owners {exc}"))
    if errors:
        return None, _with_id(errors, record)
    return AssetRow(line=line, kept=kept_mask(record), **values), []


FIELD_NAME_LIMIT = 60  # ManifestRowError.field


def _field_name(name: str) -> str:
    """A name from the file as the error's field, when it fits and can be stored."""
    return name if len(name) <= FIELD_NAME_LIMIT and not _UNSTORABLE.search(name) else ""


def _shown(name: str) -> str:
    """A name from the file for a message: quoted and escaped, cut short when it is long."""
    return repr(name) if len(name) <= FIELD_NAME_LIMIT else repr(name[:FIELD_NAME_LIMIT]) + "…"


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, COLUMNS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_columns(columns: Iterable[str]) -> None:
    counts = Counter(columns)  # a header may be megabytes wide: nothing quadratic, and a bounded message
    if len(counts) == 1 and "external_id" in (only := next(iter(counts))):
        for separator, name in ((";", "semicolons (a spreadsheet's CSV in some languages)"), ("\t", "tabs")):
            if only.count(separator) >= 2:
                raise ManifestFileError(
                    f"The manifest's columns are separated by {name}: save it with commas between columns (in "
                    f"Excel, 'CSV UTF-8'). Expected columns: {', '.join(COLUMNS)}."
                )
    unknown = [c for c in counts if c not in COLUMNS]
    missing = [c for c in REQUIRED if c not in counts]
    duplicated = sorted(c for c, n in counts.items() if n > 1 and c in COLUMNS)
    problems = []
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    for name in unknown[:10]:
        problems.append(f"unknown column {_shown(name)}{_suggest(name)}")
    if len(unknown) > 10:
        problems.append(f"and {len(unknown) - 10:,} more unknown columns")
    if duplicated:
        problems.append(f"column(s) given twice: {', '.join(duplicated)}")
    if problems:
        raise ManifestFileError(
            "The manifest's columns are wrong: " + "; ".join(problems) + f". Expected columns: {', '.join(COLUMNS)}."
        )


UTF16_MESSAGE = (
    "The file is in UTF-16 (a spreadsheet's 'Unicode text' export), not UTF-8: save it as UTF-8 (in Excel, "
    "'CSV UTF-8'), then upload it again."
)


SPREADSHEET_MESSAGE = (
    "The file is a spreadsheet (Excel, Numbers or OpenDocument) saved under a .csv or .jsonl name, not text: export "
    "it as CSV (in Excel, 'CSV UTF-8'), then upload that file."
)


def refuse_unreadable(first_line: bytes) -> None:
    """A file that is not text at all, or text in UTF-16: one clear file error for what the first line shows."""
    if first_line.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # a zip (xlsx, ods, numbers) or an old .xls
        raise ManifestFileError(SPREADSHEET_MESSAGE)
    refuse_utf16(first_line)


def refuse_utf16(first_line: bytes) -> None:
    """A UTF-16 file read as UTF-8 fails on every line, or passes with a NUL between letters: one clear file error
    instead. Its first line starts with a byte-order mark, or has a zero byte beside every ASCII character."""
    if first_line.startswith((b"\xff\xfe", b"\xfe\xff")) or first_line[:64].count(0) >= len(first_line[:64]) // 3 > 0:
        raise ManifestFileError(UTF16_MESSAGE)


def _decode(raw: bytes, line: int) -> tuple[str, RowError | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex().upper()
        return raw.decode("utf-8", errors="replace"), RowError(
            line,
            "",
            f"line {line} is not valid UTF-8 (byte 0x{bad} at position {exc.start + 1}); save the file as UTF-8",
        )


def read_manifest(
    stream: IO[bytes],
    fmt: str,
    known_orgs: frozenset[str],
    columns: set[str] | None = None,
    held: tuple[str, ...] | None = None,
) -> Iterator[RowResult]:
    """Yield one result per record. ``fmt`` is ``csv`` or ``jsonl``.

    ``columns``, if given, collects the columns the file carries: the CSV header's, or every key some JSON Lines
    record has (kept_columns reports the optional ones the whole file leaves out; each row's own are its
    ``kept`` bits)."""
    columns = set() if columns is None else columns
    if fmt == "csv":
        yield from _read_csv(stream, known_orgs, columns, held)
    elif fmt == "jsonl":
        yield from _read_jsonl(stream, known_orgs, columns, held)
    else:
        raise ManifestFileError(f"unknown manifest format {fmt!r}: upload .csv or .jsonl")


LINE_LIMIT = 8 * 2**20  # bytes: fifteen fields within csv's field size limit need far less
READ_CHUNK = 64 * 1024


def _lines(stream: IO[bytes], chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
    """The stream's lines, split as Django's File splits them (\\n, \\r\\n or a lone \\r ends one).

    A line longer than LINE_LIMIT is refused rather than held: memory stays
    bounded whatever the file holds, even a gigabyte without a line break.
    """
    limit = LINE_LIMIT
    pending, yielded = b"", 0
    while chunk := stream.read(chunk_size):
        for line in chunk.splitlines(True):
            if pending:
                if pending.endswith(b"\r") and line != b"\n":
                    yielded += 1
                    yield pending
                else:
                    line = pending + line
                pending = b""
            if line.endswith(b"\n"):
                yielded += 1
                yield line
            elif len(line) > limit:
                raise ManifestFileError(
                    f"Line {yielded + 1} is longer than {limit // 2**20} MB; no manifest row needs that much. "
                    "Check that the file is a manifest and that its lines end with line breaks."
                )
            else:
                pending = line
    if pending:
        yield pending


TRUNCATED_LAST_LINE = (
    "line {line} is the last and does not end with a line break, so the file may be truncated; "
    "if the file is complete, end it with a line break"
)


# One bit per optional column: set on a staged row that leaves the column out (a CSV without it, a JSON Lines
# record without the key), so that applying it keeps what the asset stores there.
KEEP_BITS = {name: 1 << i for i, name in enumerate(OPTIONAL)}


def kept_mask(present: Iterable[str]) -> int:
    have = set(present)
    return sum(bit for name, bit in KEEP_BITS.items() if name not in have)


def kept_columns(columns: Iterable[str]) -> list[str]:
    """The optional columns a file leaves out, in table order: re-uploading it leaves them as each asset has them."""
    present = set(columns)
    return [name for name in OPTIONAL if name not in present]


def _with_id(errors: list[RowError], record: dict[str, Any]) -> list[RowError]:
    """A bad row's id, when it can be read, rides on its first error, whatever the errors are about (a bad byte,
    an unknown key): the duplicate check counts the row, so fixing it reveals no new error."""
    if not errors or any(e.external_id for e in errors):
        return errors
    try:
        external_id = _external_id(record.get("external_id"))
    except ValueError:
        return errors
    first = errors[0]
    return [RowError(first.line, first.field, first.message, external_id), *errors[1:]]


def _read_csv(
    stream: IO[bytes], known_orgs: frozenset[str], columns: set[str], held: tuple[str, ...] | None
) -> Iterator[RowResult]:
    state = {"bytes": 0, "line": 0, "last_complete": True, "quotes": 0}
    decode_errors: dict[int, RowError] = {}

    def lines() -> Iterator[str]:
        for raw in _lines(stream):
            state["line"] += 1
            state["bytes"] += len(raw)
            if state["line"] == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
                refuse_unreadable(raw)
            text, error = _decode(raw, state["line"])
            if error:
                if state["line"] == 1:
                    raise ManifestFileError(error.message.replace("line 1", "the header line"))
                decode_errors[state["line"]] = error
            state["last_complete"] = raw.endswith((b"\n", b"\r"))
            state["quotes"] += text.count('"')
            yield text

    source = lines()
    reader = csv.reader(source, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ManifestFileError("The file is empty: a manifest needs a header line and at least one row.") from None
    except csv.Error as exc:
        raise ManifestFileError(f"The header line is not valid CSV: {exc}.") from None
    header = [h.strip() for h in header]
    check_columns(header)
    columns.update(header)
    width = len(header)
    saw_row = False
    while True:
        start_line = state["line"] + 1
        state["quotes"] = 0
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            message = str(exc)
            hint = " (the file may be truncated)" if "EOF" in message or "end of data" in message else ""
            if hint and state["line"] > start_line:  # the open field swallowed the lines after it
                hint = (
                    f": a quote opened on line {start_line} is never closed, so lines {start_line}-{state['line']} "
                    "were read as one field (or the file is truncated)"
                )
            if message.startswith("field larger than field limit"):
                message = f"a field is longer than {csv.field_size_limit():,} characters, more than any manifest field"
            if not hint and not _skip_open_quote(source, state):
                hint = "; its quoted field is never closed"
            saw_row = True  # the row error stands; it is not an empty file
            # A bad byte on the same lines is reported too, not only the syntax it led to.
            errors = [decode_errors.pop(n) for n in range(start_line, state["line"] + 1) if n in decode_errors]
            errors.append(RowError(start_line, "", f"line {start_line}: {message}{hint}"))
            yield RowResult(start_line, None, errors, state["bytes"])
            if hint:
                break
            continue  # the reader starts afresh after the bad record, so later rows are checked too
        if not fields or (len(fields) == 1 and not fields[0].strip()):  # blank, or spaces only: as in JSON Lines
            continue
        saw_row = True
        line = start_line
        errors = [decode_errors.pop(n) for n in range(start_line, state["line"] + 1) if n in decode_errors]
        if len(fields) != width:
            truncated = " (the file may be truncated)" if not state["last_complete"] else ""
            errors.append(
                RowError(line, "", f"line {line} has {len(fields)} fields; the header has {width}{truncated}")
            )
            # Its id, where its column can still be read, so that a repeat of it is reported in the same pass.
            readable = {name: value for name, value in zip(header, fields, strict=False) if name == "external_id"}
            yield RowResult(line, None, _with_id(errors, readable), state["bytes"])
            continue
        record = dict(zip(header, fields, strict=True))
        row, field_errors = validate_record(record, line, known_orgs, held)
        errors.extend(field_errors)
        if not state["last_complete"]:
            # Cut inside its last field, a row can look whole: only the missing line break tells.
            errors.append(RowError(line, "", TRUNCATED_LAST_LINE.format(line=line)))
        yield RowResult(line, None if errors else row, _with_id(errors, record), state["bytes"])
    if not saw_row:
        raise ManifestFileError("The manifest has a header but no rows.")


def _skip_open_quote(source: Iterator[str], state: dict) -> bool:
    """Read past the rest of a bad record whose quoted field spans lines, so that its next lines are not checked
    as rows of their own. An odd count of quotes so far means a field is still open ("" inside one counts two).
    False if the file ends first."""
    while state["quotes"] % 2:
        if next(source, None) is None:
            return False
    return True


class _DuplicateKey(ValueError):
    pass


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict:
    """JSON lets a key repeat and json.loads keeps the last; a manifest row would silently lose the first."""
    record = dict(pairs)
    if len(record) < len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _DuplicateKey(f"the key {_shown(repeated)} appears twice")
    return record


def _read_jsonl(
    stream: IO[bytes], known_orgs: frozenset[str], columns: set[str], held: tuple[str, ...] | None
) -> Iterator[RowResult]:
    consumed = 0
    saw_row = False
    for line, raw in enumerate(_lines(stream), start=1):
        consumed += len(raw)
        if line == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
            refuse_unreadable(raw)
        text, error = _decode(raw, line)
        if error:
            yield RowResult(line, None, [error], consumed)
            continue
        if not text.strip():
            continue
        saw_row = True
        try:
            # Decimals, not floats: 30.00000000000000001 must fail the decimal-places check as it does in a CSV.
            record = json.loads(
                text,
                parse_float=_json_float,
                parse_int=_json_int,
                parse_constant=_refuse_constant,
                object_pairs_hook=_object_without_repeats,
            )
        # Also nesting too deep.
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                reason = exc.msg
            elif isinstance(exc, _DuplicateKey | _NotJsonNumber):
                reason = str(exc)
            else:
                reason = "it nests too deeply"
            hint = " (the file may be truncated)" if not raw.endswith(b"\n") else ""
            yield RowResult(
                line, None, [RowError(line, "", f"line {line} is not valid JSON: {reason}{hint}")], consumed
            )
            continue
        if not isinstance(record, dict):
            yield RowResult(line, None, [RowError(line, "", f"line {line} must be a JSON object")], consumed)
            continue
        columns.update(k for k in record if k in COLUMNS)
        unknown = [k for k in record if k not in COLUMNS]
        # Bounded like a CSV header's: a line may carry thousands of stray keys.
        errors = [RowError(line, _field_name(k), f"unknown field {_shown(k)}{_suggest(k)}") for k in unknown[:10]]
        if len(unknown) > 10:
            errors.append(RowError(line, "", f"and {len(unknown) - 10:,} more unknown fields"))
        row, field_errors = validate_record(record, line, known_orgs, held)
        errors.extend(field_errors)
        yield RowResult(line, None if errors else row, _with_id(errors, record), consumed)
    if not saw_row:
        raise ManifestFileError("The file is empty: a JSON Lines manifest needs at least one line.")
