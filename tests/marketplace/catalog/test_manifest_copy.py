"""The PostgreSQL path (COPY, SQL checks, Python for the rest) gives exactly what the row reader gives.

Every file is imported twice, once by each path, and the outcomes must match: the
same row errors (line, field, message) or the same assets, field by field.
"""

import io
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.catalog.manifest import COLUMNS
from marketplace.catalog.models import Asset, ManifestRowError
from marketplace.catalog.services import corpora, imports, manifest_copy
from tests.fixtures.market import CORPUS_DATA, manifest_csv, manifest_row, sha, upload

pytestmark = pytest.mark.postgres

SHA = sha("x")
POOLS = {
    "external_id": ["a", " padded ", "Café", "x" * 201, "", "x" * 200],
    "title": ["Clip", "Title, with a comma", 'He said "hi"', "Ünïcode", " padded ", "", "t" * 501, "tab\tinside"],
    "duration_seconds": [
        "30", "10.5", "0", "-1", "1e3", "10.1234", "abc", "100000001", "5.", ".5", "1_000", " 30 ", "NaN",
        "Infinity", "0030", "30.000", "100000000", "0.001", "1.2.3",
    ],
    "width": ["1920", "0", "+1920", "1920.0", "100001", "0001920", "\u0661\u0669\u0662\u0660", "", "100000"],
    "height": ["1080", "-1080", "1 080"],
    "fps": ["25", "29.97", "1000", "1000.001", "0.001", "24.0000", "0"],
    "codec": ["H264", "h 264", "", "x" * 51, "ÄV1", "vp9"],
    "size_bytes": ["45000000", "0", "1000000000000001", "1000000000000000", "12.5", "", "00045"],
    "sha256": [SHA, SHA.upper(), SHA[:63], "g" * 64, f" {SHA} "],
    "storage_uri": [
        "s3://b/k.mp4", "ftp://x/y", "s3://", "https://x y", "S3://b/k", "file:///tmp/ä.mp4", "gs://b/k", "az://c",
    ],
    "language": ["", "en", "pt-BR", "english", "e", "zh-Hant-TW", "EN", "en-", "x" * 36],
    "rights_expiry": ["", "2027-12-31", "2027-02-29", "2028-02-29", "0000-01-01", "2027-13-01", "20271231", "2027-1-1"],
    "territories": [
        "", "FR", "fr;de", "DE;FR", "fr;FR", "FR;DE;FR", "WW", "WW;FR", "WW;WW", "XX", "FR; DE", "FR;;DE", "USA",
    ],
    "clip_exclusions": ["", "5-10:music", "bad"],
    "co_owners": ["", "harbour:40;northlight:60", "nobody:100"],
}  # fmt: skip


def rows_strategy(valid_only: bool):
    def row(n: int):
        fields = {}
        for name, pool in POOLS.items():
            # Mostly the plain value, so that files mix plain rows (SQL) and unusual ones (Python).
            fields[name] = st.one_of(st.just(pool[0]), st.sampled_from(pool)) if not valid_only else st.just(pool[0])
        return st.fixed_dictionaries(fields).map(lambda r: {**r, "external_id": f"{r['external_id']}-{n}"})

    return st.integers(1, 6).flatmap(lambda n: st.tuples(*[row(i) for i in range(n)]))


def _import(access, content: bytes, *, row_reader: bool, monkeypatch, name="m.csv"):
    corpus = corpora.corpus_create(access=access, data=CORPUS_DATA)
    with monkeypatch.context() as patch:
        if row_reader:
            patch.setattr(manifest_copy, "copy_file", _refuse)
        mi = imports.manifest_upload(access=access, corpus=corpus, upload=upload(name, content))
        mi = imports.manifest_import_run(mi.pk)
    errors = list(
        ManifestRowError.objects.filter(manifest_import=mi)
        .order_by("line", "field")
        .values_list("line", "field", "message")
    )
    fields = ["external_id", *imports._ASSET_FIELDS]
    assets = sorted(Asset.objects.filter(corpus=corpus).values_list(*fields))
    return mi.status, mi.file_error, errors, assets


def _refuse(*args, **kwargs):
    raise manifest_copy.NeedsRowReader


def _both(access, content: bytes, monkeypatch, caplog, name="m.csv", staged_in_sql: list | None = None):
    with caplog.at_level(logging.INFO, logger="marketplace.catalog.services.imports"), monkeypatch.context() as patch:
        caplog.clear()
        stage = manifest_copy.stage_plain_rows
        counts = staged_in_sql if staged_in_sql is not None else []
        patch.setattr(manifest_copy, "stage_plain_rows", lambda *a: counts.append(stage(*a)) or counts[-1])
        fast = _import(access, content, row_reader=False, monkeypatch=monkeypatch, name=name)
        used_copy = "read row by row" not in caplog.text
    slow = _import(access, content, row_reader=True, monkeypatch=monkeypatch, name=name)
    assert fast == slow
    return fast, used_copy


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy(valid_only=False))
def test_copy_path_reports_and_stores_exactly_what_the_row_reader_does(
    licensor, other_licensor, monkeypatch, caplog, rows
):
    (status, _, errors, assets), used_copy = _both(licensor, manifest_csv(list(rows)), monkeypatch, caplog)
    assert used_copy
    assert (status, bool(errors), len(assets)) in (("done", False, len(rows)), ("invalid", True, 0))


def test_every_unusual_value_is_seen_alike_by_both_paths(licensor, other_licensor, monkeypatch, caplog):
    """Each pool value alone in an otherwise plain row (the generated files mix them)."""
    rows = [
        {**manifest_row(f"r-{name}-{j}"), name: value} for name, pool in POOLS.items() for j, value in enumerate(pool)
    ]
    (status, _, errors, _), used_copy = _both(licensor, manifest_csv(rows), monkeypatch, caplog)
    assert used_copy
    assert status == "invalid"
    assert len(errors) > 40


def test_valid_unusual_rows_are_stored_as_the_row_reader_stores_them(licensor, other_licensor, monkeypatch, caplog):
    rows = [
        manifest_row("plain"),
        manifest_row("numbers", duration_seconds="1e3", width="+1920", fps="24.000", size_bytes="00045"),
        manifest_row("text", title=" Ünïcode, quoted ", codec="ÄV1", language="zh-Hant-TW"),
        manifest_row(
            "rights", rights_expiry="2028-02-29", territories="fr;de;FR", co_owners="harbour:40;northlight:60"
        ),
        manifest_row("cuts", clip_exclusions="5-10:music", storage_uri="file:///tmp/ä.mp4", sha256=SHA.upper()),
        manifest_row("one", territories="fr;FR", language="EN", rights_expiry="2027-12-31", fps="29.97"),
        manifest_row("two", territories="DE;FR", width="0001920", duration_seconds="100000000"),
    ]
    staged_in_sql = []
    (status, _, errors, assets), used_copy = _both(
        licensor, manifest_csv(rows), monkeypatch, caplog, staged_in_sql=staged_in_sql
    )
    assert used_copy
    assert (status, errors) == ("done", [])
    assert len(assets) == 7
    assert staged_in_sql == [2]  # "plain" and "one"; "two" has a seven-digit width, the others other oddities


BASE = manifest_csv([manifest_row("a"), manifest_row("b")]).decode()
HEADER, FIRST, SECOND = BASE.splitlines()


@pytest.mark.parametrize(
    ("content", "status", "assets"),
    [
        ((BASE + "\n" + SECOND.replace("b,", "c,", 1) + "\n").encode(), "done", 3),  # a blank line inside
        ((HEADER + "\n" + FIRST + "\n" + "\\.\n" + SECOND + "\n").encode(), "invalid", 0),  # COPY's end marker
        ((HEADER + "\n" + FIRST.replace("Clip a", '"Clip\na"') + "\n" + SECOND + "\n").encode(), "done", 2),
        ((HEADER + "\n" + FIRST.replace("Clip a", 'Clip "a"') + "\n" + SECOND + "\n").encode(), "done", 2),
        ((HEADER + "\n" + FIRST + ",extra\n" + SECOND + "\n").encode(), "invalid", 0),  # a field too many
        (BASE.encode().replace(b"Clip a", b"Clip \xff"), "invalid", 0),  # not UTF-8
        ((HEADER + "\n" + FIRST + "\n" + SECOND[:40]).encode(), "invalid", 0),  # truncated
        ((HEADER + "\n").encode(), "invalid", 0),  # no rows
        (('"external_id",' + HEADER.split(",", 1)[1] + "\n" + FIRST + "\n").encode(), "done", 1),  # quoted header
    ],
    ids=["blank-line", "end-marker", "quoted-newline", "stray-quotes", "extra-field", "latin-1", "truncated",
         "header-only", "quoted-header"],
)  # fmt: skip
def test_files_copy_could_misread_go_to_the_row_reader(licensor, monkeypatch, caplog, content, status, assets):
    outcome, used_copy = _both(licensor, content, monkeypatch, caplog)
    assert not used_copy
    assert (outcome[0], len(outcome[3])) == (status, assets)
    assert status == "done" or outcome[1] or outcome[2]  # a file error or row errors say why


def test_trailing_blank_lines_and_crlf_stay_on_the_copy_path(licensor, monkeypatch, caplog):
    content = BASE.replace("\n", "\r\n").encode() + b"\r\n\r\n"
    (status, _, errors, assets), used_copy = _both(licensor, content, monkeypatch, caplog)
    assert used_copy
    assert (status, errors, [a[0] for a in assets]) == ("done", [], ["a", "b"])


def test_blocks_end_at_a_record_boundary(licensor, monkeypatch, caplog):
    monkeypatch.setattr(manifest_copy, "BLOCK_BYTES", 300)
    rows = [manifest_row(f"a{i}", title=f'Clip, "{i}"\u00e9') for i in range(40)]
    (status, _, errors, assets), used_copy = _both(licensor, manifest_csv(rows), monkeypatch, caplog)
    assert used_copy
    assert (status, errors, len(assets)) == ("done", [], 40)


def test_an_unbalanced_quote_does_not_read_the_rest_of_the_file_into_one_block(monkeypatch):
    monkeypatch.setattr(manifest_copy, "BLOCK_BYTES", 200)
    content = manifest_csv([manifest_row(f"a{i}") for i in range(200)]).replace(b"Clip a3,", b'"Clip a3,', 1)
    stream = io.BytesIO(content)
    with pytest.raises(manifest_copy.NeedsRowReader):
        list(manifest_copy._blocks(stream, quoted=True))
    assert stream.tell() < len(content) / 10


def test_a_file_without_line_feeds_is_not_read_into_one_line(monkeypatch):
    monkeypatch.setattr(manifest_copy, "BLOCK_BYTES", 200)
    content = manifest_csv([manifest_row(f"a{i}") for i in range(200)]).replace(b"\n", b"\r")
    stream = io.BytesIO(content)
    with pytest.raises(manifest_copy.NeedsRowReader):
        manifest_copy.copy_file(stream, "csv", lambda *_: None)
    assert stream.tell() <= 4 * 200


def test_columns_may_come_in_any_order_and_optional_ones_may_be_absent(licensor, monkeypatch, caplog):
    columns = list(reversed([c for c in COLUMNS if c not in ("language", "co_owners")]))
    content = manifest_csv([manifest_row("a"), manifest_row("b", territories="fr")], columns=columns)
    (status, _, errors, assets), used_copy = _both(licensor, content, monkeypatch, caplog)
    assert used_copy
    assert (status, errors, len(assets)) == ("done", [], 2)


# --- JSON Lines ---------------------------------------------------------------------------------------------

JSON_POOLS = {
    **{name: [*pool, None] for name, pool in POOLS.items()},
    "width": [1920, "1920", 1920.0, True, 0, -5, "+1920", 100001, None],
    "height": [1080, "1080", 1e3, "1e3"],
    "duration_seconds": [30, "30", 10.5, 10.50, "10.50", 1.0005, 0, "abc", 100000000, 1e8, None],
    "fps": [25, 29.97, "29.97", 24.0, 1000.001],
    "size_bytes": [45000000, "45000000", 4.5e7, 0],
    "title": ["Clip", 123, True, 1.5, "Ünïcode", " padded ", None],
    "territories": ["FR", "fr;de", ["FR", "DE"], [], ["WW", "FR"], "XX", 7, None],
    "clip_exclusions": ["", [], "5-10:music", [{"start": 5, "end": 10, "reason": "music"}], None],
    "co_owners": ["", [], "harbour:40;northlight:60", None],
}
MISSING = object()


def json_rows_strategy():
    def row(n: int):
        fields = {
            name: st.one_of(st.just(pool[0]), st.sampled_from([*pool, MISSING])) for name, pool in JSON_POOLS.items()
        }
        extra = st.sampled_from([{}, {}, {}, {"colour": "red"}])
        return st.tuples(st.fixed_dictionaries(fields), extra).map(
            lambda pair: {
                **{k: v for k, v in pair[0].items() if v is not MISSING},
                **pair[1],
                "external_id": f"{pair[0]['external_id']}-{n}",
            }
        )

    return st.integers(1, 6).flatmap(lambda n: st.tuples(*[row(i) for i in range(n)]))


def jsonl(rows, blank_every: int = 0) -> bytes:
    lines = []
    for i, row in enumerate(rows):
        lines.append(json.dumps(row, ensure_ascii=False))
        if blank_every and i % blank_every == 0:
            lines.append("")
    return ("\n".join(lines) + "\n").encode()


def plain_json(n: int, **overrides) -> dict:
    row = {**manifest_row(n), "width": 1920, "height": 1080, "duration_seconds": 30, "fps": 25, "size_bytes": 4500}
    return {k: v for k, v in {**row, **overrides}.items() if v != ""}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=json_rows_strategy(), blank_every=st.sampled_from([0, 0, 2]))
def test_json_lines_copy_path_reports_and_stores_exactly_what_the_row_reader_does(
    licensor, other_licensor, monkeypatch, caplog, rows, blank_every
):
    content = jsonl(rows, blank_every)
    (status, _, errors, assets), used_copy = _both(licensor, content, monkeypatch, caplog, name="m.jsonl")
    assert used_copy
    assert (status, bool(errors), len(assets)) in (("done", False, len(rows)), ("invalid", True, 0))


def test_plain_json_lines_are_staged_in_sql_and_unusual_ones_in_python(licensor, other_licensor, monkeypatch, caplog):
    rows = [
        plain_json("plain"),
        plain_json("strings", width="1920", duration_seconds="10.50", territories="fr;de"),
        plain_json("floats", duration_seconds=10.5, fps=29.97, title="Ünïcode"),
        plain_json("arrays", territories=["fr", "DE", "FR"], clip_exclusions=[], co_owners="harbour:40;northlight:60"),
        plain_json("text", title="1e3 in a title is only text"),
        plain_json("types", title=True, codec=264, language=None, rights_expiry=None, territories=None),
    ]
    exponent = json.dumps(plain_json("exponent")).replace('"duration_seconds": 30', '"duration_seconds": 1E2')
    content = b"\xef\xbb\xbf" + jsonl(rows, blank_every=2) + exponent.encode() + b"\n"
    staged_in_sql = []
    (status, _, errors, assets), used_copy = _both(
        licensor, content, monkeypatch, caplog, name="m.jsonl", staged_in_sql=staged_in_sql
    )
    assert used_copy
    assert (status, errors, len(assets)) == ("done", [], 7)
    assert staged_in_sql == [3]  # "plain", "strings" and "text"; the others need Python (1E2 is a float there)


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"external_id": "a"\n', "invalid"),  # not JSON (to PostgreSQL either)
        (b'{"external_id": "a\x01"}\n', "invalid"),  # a byte the verbatim COPY cannot carry
        (b"\n\n  \n", "invalid"),  # nothing but blank lines
        (b'{"title": "Clip \xff"}\n', "invalid"),  # not UTF-8
        (b'{"title": "\\u0000"}\n', "invalid"),  # a NUL that PostgreSQL refuses
    ],
    ids=["broken-json", "control-byte", "blank", "latin-1", "nul-escape"],
)
def test_json_lines_copy_could_misread_go_to_the_row_reader(licensor, monkeypatch, caplog, content, status):
    (outcome, used_copy) = _both(licensor, content, monkeypatch, caplog, name="m.jsonl")
    assert not used_copy
    assert outcome[0] == status
    assert outcome[1] or outcome[2]


def test_json_lines_that_are_not_objects_or_name_unknown_fields_are_reported_alike(licensor, monkeypatch, caplog):
    content = jsonl([plain_json("a"), [1, 2], "text", {**plain_json("b"), "colour": "red"}])
    (status, _, errors, _), used_copy = _both(licensor, content, monkeypatch, caplog, name="m.jsonl")
    assert used_copy
    assert status == "invalid"
    assert [(line, field) for line, field, _ in errors] == [(2, ""), (3, ""), (4, "colour")]
