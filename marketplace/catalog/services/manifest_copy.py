"""The PostgreSQL path for manifests: parse with ``COPY``, check in SQL, fall back to Python per row.

Most rows of a large manifest are plain: ASCII identifiers, numbers, a hash, a
URI. PostgreSQL's parsers and a set-based check handle those far faster than
Python can, so this path

1. streams the file into a temporary table with ``COPY`` (in blocks cut at line
   ends, with progress between them): CSV into text columns; JSON Lines as one
   text column per line, cast to ``jsonb`` and spread into the same text columns
   where the record is plain JSON (strings, plain numbers, no unknown keys);
2. stages, in one ``INSERT … SELECT``, every row that a conservative SQL
   predicate proves valid, converted exactly as
   :func:`marketplace.catalog.manifest.validate_record` would;
3. reads back every other row and runs the Python validator on it, which
   reports its problems (or stages it, when it is valid but unusual: non-ASCII
   edges, exclusions, co-owners, …) with the same messages as the row reader.

A file that does not suit ``COPY`` (bad UTF-8, a quoted field spanning lines,
blank CSV lines, a wrong field count, odd quoting, a line PostgreSQL cannot read
as JSON) raises :class:`NeedsRowReader` before anything is staged; the caller
then reads it row by row, which reports every such problem with its line number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import IO

import psycopg
from django.db import DatabaseError, connection, transaction

from marketplace.catalog.manifest import (
    COLUMNS,
    MAX_DURATION,
    AssetRow,
    ManifestFileError,
    RowError,
    check_columns,
    jsonl_record,
    validate_record,
)
from marketplace.catalog.vocab import COUNTRIES, WORLDWIDE

BLOCK_BYTES = 4 << 20
FETCH_ROWS = 2_000
RAW_TABLE = "pg_temp.catalog_manifest_raw"  # the file: text columns (CSV), or one line per row (JSON Lines)
FIELDS_TABLE = "pg_temp.catalog_manifest_fields"  # JSON Lines: the plain records' fields as text columns
# JSON Lines lines are copied verbatim: CSV mode with a delimiter and a quote that a file must not contain.
_JSONL_COPY = "COPY pg_temp.catalog_manifest_raw (line) FROM STDIN (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"
_BLANK = "(r.line IS NULL OR btrim(r.line, E' \\t\\r\\n\\f\\x0b') = '')"

# A field in quotes, doubled quotes inside: the only quoting both parsers read the same way.
_QUOTED_FIELD = re.compile(rb'(?:^|(?<=,))"(?:[^"]|"")*"(?=,|\r?$)', re.MULTILINE)


class NeedsRowReader(Exception):
    """The file needs the row-by-row reader; nothing was staged."""


def _line(stream: IO[bytes]) -> bytes:
    """One line, or NeedsRowReader when none ends within a few blocks (say, a file with only CR line ends)."""
    line = stream.readline(4 * BLOCK_BYTES)
    if len(line) == 4 * BLOCK_BYTES and not line.endswith(b"\n"):
        raise NeedsRowReader
    return line


def _header(stream: IO[bytes]) -> list[str]:
    raw = _line(stream)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b'"' in raw or not raw.endswith(b"\n"):
        raise NeedsRowReader
    try:
        header = [name.strip() for name in raw.decode("utf-8").rstrip("\r\n").split(",")]
        check_columns(header)
    except (UnicodeDecodeError, ManifestFileError):
        raise NeedsRowReader from None
    return header


def _blocks(stream: IO[bytes], quoted: bool) -> Iterator[bytes]:
    """Blocks of whole records: cut at a line end (outside CSV quotes); the last without trailing blank lines."""
    pending = b""
    while True:
        block = stream.read(BLOCK_BYTES)
        if block:
            block += _line(stream)
            while quoted and block.count(b'"') % 2:
                more = _line(stream)
                if not more:
                    break
                if len(block) > 4 * BLOCK_BYTES:  # an unbalanced quote: memory stays bounded
                    raise NeedsRowReader
                block += more
        if not block:
            newline = b"\r\n" if pending.endswith(b"\r\n") else b"\n"
            pending = pending.rstrip(b"\r\n")
            if pending:
                yield pending + newline
            return
        if pending:
            yield pending
        pending = block


def _check_block(block: bytes, csv: bool) -> int:
    """The records in a block as the row reader would see them; NeedsRowReader where COPY could differ."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        raise NeedsRowReader from None
    if csv and b'"' in block and b'"' in _QUOTED_FIELD.sub(b"", block):
        raise NeedsRowReader
    if not csv and (b"\x01" in block or b"\x02" in block):
        raise NeedsRowReader
    return block.count(b"\n") + (0 if block.endswith(b"\n") else 1)


def _copy_file(stream: IO[bytes], header: list[str] | None, on_block: Callable[[int, int], None]) -> int:
    csv = header is not None
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}, {FIELDS_TABLE}")
        if csv:
            columns = ", ".join(header)
            cursor.execute(
                f"CREATE TEMP TABLE catalog_manifest_raw (seq bigint GENERATED ALWAYS AS IDENTITY, "
                f"{', '.join(f'{name} text' for name in header)})"
            )
            copy_sql = f"COPY {RAW_TABLE} ({columns}) FROM STDIN (FORMAT csv)"
        else:
            cursor.execute(
                "CREATE TEMP TABLE catalog_manifest_raw (seq bigint GENERATED ALWAYS AS IDENTITY, line text)"
            )
            copy_sql = _JSONL_COPY
        rows = 0
        for block in _blocks(stream, quoted=csv):
            if not csv and not rows and block.startswith(b"\xef\xbb\xbf"):
                block = block[3:]
            expected = _check_block(block, csv)
            try:
                # A savepoint when the caller holds a transaction: a refused block must not abort it.
                with transaction.atomic(), cursor.cursor.copy(copy_sql) as copy:
                    copy.write(block)
            except (psycopg.Error, DatabaseError):
                raise NeedsRowReader from None
            # Fewer rows than lines: a quoted line break, or a "\." line that COPY reads as the end.
            if cursor.cursor.rowcount != expected:
                raise NeedsRowReader
            rows += expected
            on_block(stream.tell(), rows)
    if not rows or (not csv and not _spread_json()):
        raise NeedsRowReader
    return rows


def _spread_json() -> int:
    """JSON Lines: the plain records' fields into text columns, as a CSV would give them; returns the records.

    Plain: an object of known keys whose text fields are strings, whose numbers are written without an exponent
    (``1e3`` is a float to Python, which a whole-number field refuses), and whose exclusions and co-owners are
    empty. Any other record stays for the Python reader. A line PostgreSQL cannot parse sends the whole file there.
    """
    text_fields = [n for n in COLUMNS if n not in _NUMERIC_FIELDS and n not in _LIST_FIELDS]
    plain = [
        "jsonb_typeof(j) = 'object'",
        "j - %(columns)s::text[] = '{}'::jsonb",
        "r_line !~ '[:,\\[][[:space:]]*-?[0-9.]+[eE]'",
        *(f"coalesce(jsonb_typeof(j -> '{n}'), 'null') IN ('string', 'null')" for n in text_fields),
        *(f"coalesce(jsonb_typeof(j -> '{n}'), 'null') IN ('string', 'number', 'null')" for n in _NUMERIC_FIELDS),
        *(f"coalesce(j -> '{n}', 'null') IN ('null', '\"\"', '[]')" for n in _LIST_FIELDS),
    ]
    fields = ", ".join(f"j ->> '{n}' AS {n}" for n in COLUMNS if n not in _LIST_FIELDS)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                CREATE TEMP TABLE catalog_manifest_fields AS
                SELECT seq, {fields}, NULL::text AS clip_exclusions, NULL::text AS co_owners
                  FROM (SELECT r.seq, r.line AS r_line, r.line::jsonb AS j FROM {RAW_TABLE} r WHERE NOT {_BLANK}) p
                 WHERE {" AND ".join(plain)}
                """,
                {"columns": list(COLUMNS)},
            )
            cursor.execute(f"SELECT count(*) FROM {RAW_TABLE} r WHERE NOT {_BLANK}")
            return cursor.fetchone()[0]
    except DatabaseError:  # a line that is not JSON to PostgreSQL: the row reader names it
        raise NeedsRowReader from None


_NUMERIC_FIELDS = ("duration_seconds", "width", "height", "fps", "size_bytes")
_LIST_FIELDS = ("clip_exclusions", "co_owners")


# --- the SQL twin of validate_record, for the rows it can prove valid -------------------------------------
# Negated character classes (`!~ '[^0-9]'`) cost a fraction of anchored, counted patterns in PostgreSQL's
# regex engine; the counted ones run only where the structure matters, and casts only behind a CASE.


def _ascii_edges(col: str, limit: int) -> str:
    # Python strips Unicode whitespace; a value starting and ending with a printable ASCII character has none.
    edges = f"ascii({col}) BETWEEN 33 AND 126 AND ascii(right({col}, 1)) BETWEEN 33 AND 126"
    return f"(length({col}) <= {limit} AND {edges})"


def _whole(col: str, digits: int, maximum: int) -> str:
    return (
        f"(CASE WHEN length({col}) BETWEEN 1 AND {digits} AND {col} !~ '[^0-9]'"
        f" THEN {col}::bigint BETWEEN 1 AND {maximum} ELSE false END)"
    )


def _decimal(col: str, digits: int, maximum: int) -> str:
    whole, fraction = f"split_part({col}, '.', 1)", f"split_part({col}, '.', 2)"
    return (
        f"(CASE WHEN {col} ~ '[^0-9.]' OR length({whole}) NOT BETWEEN 1 AND {digits} OR length({fraction}) > 3"
        f" OR split_part({col}, '.', 3) <> '' THEN false"
        f" ELSE {col}::numeric BETWEEN 0.001 AND {maximum} END)"
    )


def _language(col: str) -> str:
    return (
        f"(CASE WHEN length({col}) = 2 THEN {col} !~ '[^A-Za-z]'"
        f" ELSE length({col}) <= 35 AND {col} ~ '^[A-Za-z]{{2,3}}(-[A-Za-z0-9]{{1,8}})*$' END)"
    )


def _optional(col: str, test: str) -> str:
    return f"({col} IS NULL OR {col} = '' OR {test})"


def _empty(col: str) -> str:
    return f"({col} IS NULL OR {col} = '')"


def _iso_date(col: str) -> str:
    last_day = (
        f"extract(day FROM make_date(substr({col}, 1, 4)::int, substr({col}, 6, 2)::int, 1)"
        " + interval '1 month - 1 day')"
    )
    return (
        f"(CASE WHEN {col} !~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$' THEN false"
        f" WHEN substr({col}, 1, 4)::int < 1 OR substr({col}, 6, 2)::int NOT BETWEEN 1 AND 12 THEN false"
        f" ELSE substr({col}, 9, 2)::int BETWEEN 1 AND {last_day} END)"
    )


def _territories(col: str) -> str:
    codes = f"string_to_array(upper({col}), ';')"
    return (
        f"(CASE WHEN {col} !~ '^[A-Za-z]{{2}}(;[A-Za-z]{{2}})*$' THEN false"
        f" ELSE %(codes)s::jsonb ?& {codes} AND NOT ({col} LIKE '%%;%%' AND '{WORLDWIDE}' = ANY({codes})) END)"
    )


def _predicate(c: dict[str, str]) -> str:
    uri_scheme = f"split_part({c['storage_uri']}, '://', 1)"
    checks = [
        _ascii_edges(c["external_id"], 200),
        _ascii_edges(c["title"], 500),
        _decimal(c["duration_seconds"], 9, int(MAX_DURATION)),
        _whole(c["width"], 6, 100_000),
        _whole(c["height"], 6, 100_000),
        _decimal(c["fps"], 4, 1000),
        f"(length({c['codec']}) BETWEEN 1 AND 50 AND {c['codec']} !~ '[^!-~]')",
        _whole(c["size_bytes"], 16, 10**15),
        f"(length({c['sha256']}) = 64 AND {c['sha256']} !~ '[^0-9a-fA-F]')",
        f"({uri_scheme} IN ('s3', 'gs', 'az', 'http', 'https', 'file')"
        f" AND length({c['storage_uri']}) BETWEEN length({uri_scheme}) + 4 AND 1000"
        f" AND {c['storage_uri']} !~ '[^!-~]')",
        _optional(c["language"], _language(c["language"])),
        _optional(c["rights_expiry"], _iso_date(c["rights_expiry"])),
        _optional(c["territories"], _territories(c["territories"])),
        _empty(c["clip_exclusions"]),
        _empty(c["co_owners"]),
    ]
    return " AND ".join(checks)


def _territory_list(col: str) -> str:
    """Sorted, distinct, upper-case codes as JSON; the common one- and two-code cases without a sort."""
    first, second = f"upper(split_part({col}, ';', 1))", f"upper(split_part({col}, ';', 2))"
    return (
        f"CASE WHEN coalesce({col}, '') = '' THEN '[]'::jsonb"
        f" WHEN length({col}) = 2 THEN jsonb_build_array(upper({col}))"
        f" WHEN length({col}) = 5 THEN CASE WHEN {first} < {second} THEN jsonb_build_array({first}, {second})"
        f" WHEN {first} > {second} THEN jsonb_build_array({second}, {first}) ELSE jsonb_build_array({first}) END"
        f" ELSE to_jsonb(ARRAY(SELECT code FROM unnest(string_to_array(upper({col}), ';')) code"
        f' GROUP BY code ORDER BY code COLLATE "C")) END'
    )


def _stage_sql(c: dict[str, str], source: str, line: str) -> str:
    return f"""
        INSERT INTO catalog_manifestrow (manifest_import_id, line, external_id, title, duration_seconds, width,
            height, fps, codec, size_bytes, sha256, storage_uri, language, rights_expiry, territories,
            clip_exclusions, co_owners)
        SELECT %(import_id)s, {line}, {c["external_id"]}, {c["title"]}, {c["duration_seconds"]}::numeric(12, 3),
               {c["width"]}::int, {c["height"]}::int, {c["fps"]}::numeric(7, 3), lower({c["codec"]}),
               {c["size_bytes"]}::bigint, lower({c["sha256"]}), {c["storage_uri"]}, coalesce({c["language"]}, ''),
               nullif({c["rights_expiry"]}, '')::date, {_territory_list(c["territories"])}, '[]', '[]'
          FROM {source} r
         WHERE {_predicate(c)}
    """


def _columns(header: list[str]) -> dict[str, str]:
    return {name: f"r.{name}" if name in header else "NULL::text" for name in COLUMNS}


_CODES = json.dumps(dict.fromkeys(sorted(COUNTRIES | {WORLDWIDE}), True))


def stage_plain_rows(import_id: int, header: list[str] | None) -> int:
    """Stage every row the SQL predicate proves valid, in one statement; returns how many.

    ``header``: the CSV's columns, or None for JSON Lines (whose line numbers need no header line).
    """
    if header is None:
        sql = _stage_sql(_columns(list(COLUMNS)), FIELDS_TABLE, "r.seq")
    else:
        sql = _stage_sql(_columns(header), RAW_TABLE, "r.seq + 1")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"import_id": import_id, "codes": _CODES})
        return cursor.rowcount


def other_rows(
    import_id: int, header: list[str] | None, known_orgs: frozenset[str]
) -> Iterator[tuple[AssetRow | None, list[RowError]]]:
    """Every row that was not staged in SQL, through the Python validator, in file order."""
    if header is None:
        values, line = "r.line", "r.seq"
        where = f"NOT {_BLANK}"
    else:
        c = _columns(header)
        values, line = ", ".join(c[name] for name in COLUMNS), "r.seq + 1"
        where = "true"
    sql = f"""
        SELECT {line}, {values} FROM {RAW_TABLE} r
         WHERE {where} AND NOT EXISTS (SELECT 1 FROM catalog_manifestrow m
                                        WHERE m.manifest_import_id = %(import_id)s AND m.line = {line})
         ORDER BY r.seq
    """
    with transaction.atomic(), connection.connection.cursor(name="catalog_manifest_other") as cursor:
        cursor.itersize = FETCH_ROWS
        cursor.execute(sql, {"import_id": import_id})
        for number, *fields in cursor:
            if header is None:
                yield jsonl_record(fields[0], number, known_orgs)
                continue
            # COPY reads an unquoted empty field as NULL; the row reader sees "".
            record = {name: "" if value is None else value for name, value in zip(COLUMNS, fields, strict=True)}
            yield validate_record(record, number, known_orgs)


def drop_raw() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}, {FIELDS_TABLE}")


def copy_file(stream: IO[bytes], fmt: str, on_block: Callable[[int, int], None]) -> tuple[list[str] | None, int]:
    """Load the file into temporary tables; returns the CSV header (None for JSON Lines) and the record count."""
    header = _header(stream) if fmt == "csv" else None
    try:
        return header, _copy_file(stream, header, on_block)
    except NeedsRowReader:
        drop_raw()
        raise
