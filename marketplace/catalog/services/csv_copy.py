"""The PostgreSQL path for CSV manifests: parse with ``COPY``, check in SQL, fall back to Python per row.

Most rows of a large manifest are plain: ASCII identifiers, numbers, a hash, a
URI. PostgreSQL's CSV parser and a set-based check handle those far faster than
Python can, so this path

1. streams the file into a temporary table of text columns with ``COPY`` (in
   blocks cut at line ends, with progress between them);
2. stages, in one ``INSERT … SELECT``, every row that a conservative SQL
   predicate proves valid, converted exactly as
   :func:`marketplace.catalog.manifest.validate_record` would (each distinct
   territories field is checked and converted once, in a table of its own);
3. reads back every other row and runs the Python validator on it, which
   reports its problems (or stages it, when it is valid but unusual: non-ASCII
   edges, exclusions, co-owners, …) with the same messages as the row reader.

A file that does not suit ``COPY`` (bad UTF-8, a quoted field spanning lines,
blank lines, a wrong field count, odd quoting) raises :class:`NeedsRowReader`
before anything is staged; the caller then reads it row by row, which reports
every such problem with its line number.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from typing import IO

import psycopg
from django.db import DatabaseError, connection, transaction

from marketplace.catalog.manifest import (
    COLUMNS,
    INVISIBLE_RANGES,
    MAX_DURATION,
    AssetRow,
    ManifestFileError,
    RowError,
    check_columns,
    kept_mask,
    validate_record,
)
from marketplace.catalog.vocab import COUNTRIES, WORLDWIDE

BLOCK_BYTES = 4 << 20
STAGE_PAGES = 2_048  # heap pages of the temporary table per staging statement (16 MB): progress between them
_FIELD_LIMIT = csv.field_size_limit()
FETCH_ROWS = 2_000
RAW_TABLE = "pg_temp.catalog_manifest_raw"
TERRITORIES_TABLE = "pg_temp.catalog_manifest_territories"

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
    # The row reader also splits lines at a lone CR; only a final CRLF reads the same both ways.
    if b'"' in raw or not raw.endswith(b"\n") or raw.count(b"\r") > raw.endswith(b"\r\n"):
        raise NeedsRowReader
    try:
        header = [name.strip() for name in raw.decode("utf-8").rstrip("\r\n").split(",")]
        check_columns(header)
    except (UnicodeDecodeError, ManifestFileError):
        raise NeedsRowReader from None
    return header


def _blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """Blocks of whole records: cut at a line end outside quotes; the last one without trailing blank lines."""
    pending = b""
    while True:
        block = stream.read(BLOCK_BYTES)
        if block:
            block += _line(stream)
            while block.count(b'"') % 2:
                more = _line(stream)
                if not more:
                    break
                if len(block) > 4 * BLOCK_BYTES:  # an unbalanced quote: memory stays bounded
                    raise NeedsRowReader
                block += more
        if not block:
            if pending and not pending.endswith(b"\n"):
                raise NeedsRowReader  # no final line break: the row reader reports a possibly cut last row
            newline = b"\r\n" if pending.endswith(b"\r\n") else b"\n"
            pending = pending.rstrip(b"\r\n")
            if pending:
                yield pending + newline
            return
        if pending:
            yield pending
        pending = block


def _check_block(block: bytes) -> int:
    """The records in a block as the row reader would see them; NeedsRowReader where COPY could differ."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        raise NeedsRowReader from None
    if b'"' in block and b'"' in _QUOTED_FIELD.sub(b"", block):
        raise NeedsRowReader
    # A lone CR is a line break to the row reader (and would shift its line numbers), data to COPY.
    if block.count(b"\r") != block.count(b"\r\n"):
        raise NeedsRowReader
    # Python's csv module refuses a field over its size limit; COPY does not.
    if len(block) > _FIELD_LIMIT and max(map(len, block.split(b"\n"))) > _FIELD_LIMIT:
        raise NeedsRowReader
    return block.count(b"\n") + (0 if block.endswith(b"\n") else 1)


def _copy_file(stream: IO[bytes], header: list[str], on_block: Callable[[int, int], None]) -> int:
    columns = ", ".join(header)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}, {TERRITORIES_TABLE}")
        cursor.execute(
            f"CREATE TEMP TABLE catalog_manifest_raw (seq bigint GENERATED ALWAYS AS IDENTITY, "
            f"{', '.join(f'{name} text' for name in header)})"
        )
        copy_sql = f"COPY {RAW_TABLE} ({columns}) FROM STDIN (FORMAT csv)"
        rows = 0
        for block in _blocks(stream):
            expected = _check_block(block)
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
    if not rows:
        raise NeedsRowReader
    return rows


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
        f" OR length({col}) - length(replace({col}, '.', '')) > 1 THEN false"
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
        f" ELSE %(codes)s::jsonb ?& {codes} AND NOT ({col} LIKE '%%;%%' AND '{WORLDWIDE}' = ANY({codes}))"
        # Within the corpus' rights: a row naming more goes to Python, which refuses it on its line, with its id.
        f" AND %(held)s::jsonb ?& {codes} END)"
    )


# manifest.INVISIBLE_RANGES as a PostgreSQL regex (its \\U escapes); NUL cannot reach a text column.
_INVISIBLE_SQL = "[" + "".join(f"\\U{max(low, 1):08x}-\\U{high:08x}" for low, high in INVISIBLE_RANGES) + "]"


def _row_checks(c: dict[str, str]) -> list[str]:
    """Every check but the territories' (see _territories_sql)."""
    uri_scheme = f"split_part({c['storage_uri']}, '://', 1)"
    return [
        # Printable ASCII, or else no invisible character and the form ids are stored in (NFC); any other id goes
        # to Python, which converts or refuses it.
        f"({_ascii_edges(c['external_id'], 200)} AND ({c['external_id']} !~ '[^\\x20-\\x7e]'"
        f" OR ({c['external_id']} !~ '{_INVISIBLE_SQL}' AND {c['external_id']} IS NFC NORMALIZED)))",
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
        f" AND {c['storage_uri']} !~ '[^!-~]'"
        # A host or bucket, and a bucket's key (file:///… goes to Python, as does anything unusual).
        f" AND split_part({c['storage_uri']}, '/', 3) <> ''"
        f" AND ({uri_scheme} NOT IN ('s3', 'gs', 'az') OR split_part({c['storage_uri']}, '/', 4) <> ''))",
        _optional(c["language"], _language(c["language"])),
        _optional(c["rights_expiry"], _iso_date(c["rights_expiry"])),
        _empty(c["clip_exclusions"]),
        _empty(c["co_owners"]),
    ]


def _territory_list(col: str) -> str:
    """Sorted, distinct, upper-case codes as JSON; the common one- and two-code cases without a sort."""
    first, second = f"upper(split_part({col}, ';', 1))", f"upper(split_part({col}, ';', 2))"
    return (
        f"CASE WHEN coalesce({col}, '') = '' THEN '[]'::jsonb"
        f" WHEN length({col}) = 2 THEN jsonb_build_array(upper({col}))"
        f' WHEN length({col}) = 5 THEN CASE WHEN {first} < {second} COLLATE "C"'
        f" THEN jsonb_build_array({first}, {second})"
        f' WHEN {first} > {second} COLLATE "C" THEN jsonb_build_array({second}, {first})'
        f" ELSE jsonb_build_array({first}) END"
        f" ELSE to_jsonb(ARRAY(SELECT code FROM unnest(string_to_array(upper({col}), ';')) code"
        f' GROUP BY code ORDER BY code COLLATE "C")) END'
    )


def _territories_sql(c: dict[str, str]) -> str:
    """The TERRITORIES table: each distinct territories field of the file (NULL read as ""), whether it is valid
    and within the corpus' rights (``ok``) and, if so, its JSON list.

    A catalogue repeats a handful of territory lists over all its rows, and checking and converting one took
    longer than the other fourteen fields together; each list is now done once and the rows join to it.
    """
    return f"""
        CREATE TEMP TABLE catalog_manifest_territories AS
        SELECT d.field, k.ok, CASE WHEN k.ok THEN {_territory_list("d.field")} END AS codes
          FROM (SELECT DISTINCT coalesce({c["territories"]}, '') AS field FROM {RAW_TABLE} r) d
         CROSS JOIN LATERAL (SELECT {_optional("d.field", _territories("d.field"))} IS TRUE AS ok) k
    """


def _checked_rows(c: dict[str, str], rows: str) -> str:
    """``rows`` of the raw table (a condition on ``r``), each with ``r.row_ok`` and its territories ``t``.

    The row checks are a column behind a fence: as a filter on the raw table they would make the planner expect
    a row or two and scan the raw table once per territory list. As a column, with the lists analyzed, the join
    is a hash join whenever there is more than one.
    """
    return (
        f"(SELECT r.*, ({' AND '.join(_row_checks(c))}) IS TRUE AS row_ok FROM {RAW_TABLE} r WHERE {rows} OFFSET 0) r"
        f" LEFT JOIN {TERRITORIES_TABLE} t ON t.field = coalesce({c['territories']}, '')"
    )


def _stage_sql(c: dict[str, str], rows: str) -> str:
    return f"""
        INSERT INTO catalog_manifestrow (manifest_import_id, line, external_id, title, duration_seconds, width,
            height, fps, codec, size_bytes, sha256, storage_uri, language, rights_expiry, territories,
            clip_exclusions, co_owners, kept)
        SELECT %(import_id)s, r.seq + 1, {c["external_id"]}, {c["title"]}, {c["duration_seconds"]}::numeric(12, 3),
               {c["width"]}::int, {c["height"]}::int, {c["fps"]}::numeric(7, 3), lower({c["codec"]}),
               {c["size_bytes"]}::bigint, lower({c["sha256"]}), {c["storage_uri"]}, coalesce({c["language"]}, ''),
               nullif({c["rights_expiry"]}, '')::date, t.codes, '[]', '[]', %(kept)s
          FROM {_checked_rows(c, rows)}
         WHERE r.row_ok AND t.ok
    """


def _columns(header: list[str]) -> dict[str, str]:
    return {name: f"r.{name}" if name in header else "NULL::text" for name in COLUMNS}


_CODES = json.dumps(dict.fromkeys(sorted(COUNTRIES | {WORLDWIDE}), True))


def _held_codes(held: tuple[str, ...] | None) -> str:
    """The codes a row may name: every one where the corpus holds WW (or nothing is checked), else its own."""
    if held is None or WORLDWIDE in held:
        return _CODES
    return json.dumps(dict.fromkeys(sorted(held), True))


def raw_pages() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_relation_size('{RAW_TABLE}') / current_setting('block_size')::int")
        return cursor.fetchone()[0]


def stage_plain_rows(import_id: int, header: list[str], first_page: int = 0, end_page: int | None = None) -> int:
    """Stage every row the SQL predicate proves valid, of the temporary table's pages from ``first_page`` to
    ``end_page`` (the end of the table when None), in one statement; returns how many."""
    rows = "r.ctid >= %(lo)s::tid"  # a TID range scan reads just those pages
    if end_page is not None:
        rows += " AND r.ctid < %(hi)s::tid"
    sql = _stage_sql(_columns(header), rows)
    params = {
        "import_id": import_id, "lo": f"({first_page},0)", "hi": f"({end_page},0)",
        "kept": kept_mask(header),  # the columns the file leaves out, the same for every row
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def other_rows(
    header: list[str], known_orgs: frozenset[str], held: tuple[str, ...] | None = None
) -> Iterator[tuple[AssetRow | None, list[RowError]]]:
    """Every row the SQL predicate did not take, through the Python validator, in file order."""
    c = _columns(header)
    present = set(header)
    names = ", ".join(c[name] for name in COLUMNS)
    sql = f"SELECT r.seq, {names} FROM {_checked_rows(c, 'true')} WHERE (r.row_ok AND t.ok) IS NOT TRUE ORDER BY r.seq"
    # WITH HOLD: the cursor outlives its transaction, so the caller commits each chunk it stages
    # (and its heartbeat) while it reads; the server keeps the rows it selected.
    connection.ensure_connection()
    with connection.connection.cursor(name="catalog_manifest_other", withhold=True) as cursor:
        cursor.itersize = FETCH_ROWS
        cursor.execute(sql)
        for seq, *values in cursor:
            # COPY reads an unquoted empty field as NULL; the row reader sees "".
            # Only the file's columns: one it leaves out is kept as stored, not read as empty (KEEP_BITS).
            record = {
                name: "" if value is None else value
                for name, value in zip(COLUMNS, values, strict=True)
                if name in present
            }
            yield validate_record(record, seq + 1, known_orgs, held)


def drop_raw() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}, {TERRITORIES_TABLE}")


def _collect_territories(header: list[str], held: tuple[str, ...] | None) -> None:
    """Check and convert each distinct territories field once, and give the planner their number."""
    with connection.cursor() as cursor:
        cursor.execute(_territories_sql(_columns(header)), {"codes": _CODES, "held": _held_codes(held)})
        cursor.execute(f"ANALYZE {TERRITORIES_TABLE}")


def copy_file(
    stream: IO[bytes], on_block: Callable[[int, int], None], held: tuple[str, ...] | None = None
) -> tuple[list[str], int]:
    """Load the file into the temporary table; returns its header and record count. ``held``: the corpus' rights
    territory; a row naming more is left to Python (None: not checked)."""
    header = _header(stream)
    try:
        rows = _copy_file(stream, header, on_block)
        _collect_territories(header, held)
        return header, rows
    except NeedsRowReader:
        drop_raw()
        raise
