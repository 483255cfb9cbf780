"""The PostgreSQL CSV path (COPY, SQL checks, Python for the rest) gives exactly what the row reader gives.

Every file is imported twice, once by each path, and the outcomes must match: the
same row errors (line, field, message) or the same assets, field by field.
"""

import io
import logging

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.catalog.manifest import COLUMNS
from marketplace.catalog.models import Asset, ImportStatus, ManifestImport, ManifestRow, ManifestRowError
from marketplace.catalog.services import corpora, csv_copy, imports
from tests.fixtures.market import CORPUS_DATA, manifest_csv, manifest_row, sha, upload

pytestmark = pytest.mark.postgres

SHA = sha("x")
POOLS = {
    "external_id": ["a", " padded ", "Café", "x" * 201, "", "x" * 200],
    "title": ["Clip", "Title, with a comma", 'He said "hi"', "Ünïcode", " padded ", "", "t" * 501, "tab\tinside"],
    "duration_seconds": [
        "30", "10.5", "0", "-1", "1e3", "10.1234", "abc", "100000001", "5.", ".5", "1_000", " 30 ", "NaN",
        "Infinity", "0030", "30.000", "100000000", "0.001", "1.2.3", "1..", "5.5.",
    ],
    "width": ["1920", "0", "+1920", "1920.0", "100001", "0001920", "\u0661\u0669\u0662\u0660", "", "100000"],
    "height": ["1080", "-1080", "1 080"],
    "fps": ["25", "29.97", "1000", "1000.001", "0.001", "24.0000", "0", "25.."],
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


def _import(access, content: bytes, *, row_reader: bool, monkeypatch):
    corpus = corpora.corpus_create(access=access, data=CORPUS_DATA)
    with monkeypatch.context() as patch:
        if row_reader:
            patch.setattr(csv_copy, "copy_file", _refuse)
        mi = imports.manifest_upload(access=access, corpus=corpus, upload=upload("m.csv", content))
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
    raise csv_copy.NeedsRowReader


def _both(access, content: bytes, monkeypatch, caplog, staged_in_sql: list | None = None):
    with caplog.at_level(logging.INFO, logger="marketplace.catalog.services.imports"), monkeypatch.context() as patch:
        caplog.clear()
        stage = csv_copy.stage_plain_rows
        counts = staged_in_sql if staged_in_sql is not None else []
        patch.setattr(csv_copy, "stage_plain_rows", lambda *a: counts.append(stage(*a)) or counts[-1])
        fast = _import(access, content, row_reader=False, monkeypatch=monkeypatch)
        used_copy = "read row by row" not in caplog.text
    slow = _import(access, content, row_reader=True, monkeypatch=monkeypatch)
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


def test_a_territory_list_repeated_over_many_rows_is_read_alike_in_every_row(
    licensor, other_licensor, monkeypatch, caplog
):
    """Each distinct territories field is checked and converted once (csv_copy._territories_sql); every row that
    repeats it gets the same outcome, however the rows interleave."""
    spellings = ["FR;DE", "de;fr", "", "WW"]
    rows = [manifest_row(f"r{n}", territories=spellings[n % 4]) for n in range(60)]
    staged_in_sql = []
    (status, _, errors, assets), used_copy = _both(
        licensor, manifest_csv(rows), monkeypatch, caplog, staged_in_sql=staged_in_sql
    )
    assert used_copy and (status, errors) == ("done", [])
    assert sum(staged_in_sql) == 60
    lists = {asset[0]: asset[1 + imports._ASSET_FIELDS.index("territories")] for asset in assets}
    assert lists["r0"] == lists["r1"] == ["DE", "FR"] and lists["r2"] == [] and lists["r3"] == ["WW"]

    rows = [manifest_row(f"s{n}", territories=["FR;DE", "XX;FR", "FR;WW"][n % 3]) for n in range(30)]
    (status, _, errors, _), _ = _both(licensor, manifest_csv(rows), monkeypatch, caplog)
    assert status == "invalid"
    assert [line for line, field, _ in errors if field == "territories"] == [n + 2 for n in range(30) if n % 3]


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
        ((HEADER + "\n" + FIRST + "\n" + SECOND).encode(), "invalid", 0),  # no final line break: maybe cut
        ((HEADER + "\n").encode(), "invalid", 0),  # no rows
        (('"external_id",' + HEADER.split(",", 1)[1] + "\n" + FIRST + "\n").encode(), "done", 1),  # quoted header
        ((HEADER + "\n" + FIRST.replace("Clip a", '"Clip\ra"') + "\n" + SECOND.replace(",1920,", ",0,") + "\n")
         .encode(), "invalid", 0),  # a lone CR: a line break to the row reader
        (HEADER.replace(",title", ",\rtitle").encode() + b"\n" + FIRST.encode() + b"\n", "invalid", 0),
        ((HEADER + "\n" + FIRST.replace("Clip a", "t" * 140_000) + "\n" + SECOND.replace(",1920,", ",0,") + "\n")
         .encode(), "invalid", 0),  # a field over Python's csv limit
        (BASE.encode().replace(b"Clip a", b"Clip \x00a"), "invalid", 0),  # NUL: COPY refuses, the reader reports
    ],
    ids=["blank-line", "end-marker", "quoted-newline", "stray-quotes", "extra-field", "latin-1", "truncated",
         "no-final-newline", "header-only", "quoted-header", "lone-cr", "cr-in-header", "huge-field", "nul"],
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
    monkeypatch.setattr(csv_copy, "BLOCK_BYTES", 300)
    rows = [manifest_row(f"a{i}", title=f'Clip, "{i}"\u00e9') for i in range(40)]
    (status, _, errors, assets), used_copy = _both(licensor, manifest_csv(rows), monkeypatch, caplog)
    assert used_copy
    assert (status, errors, len(assets)) == ("done", [], 40)


def test_an_unbalanced_quote_does_not_read_the_rest_of_the_file_into_one_block(monkeypatch):
    monkeypatch.setattr(csv_copy, "BLOCK_BYTES", 200)
    content = manifest_csv([manifest_row(f"a{i}") for i in range(200)]).replace(b"Clip a3,", b'"Clip a3,', 1)
    stream = io.BytesIO(content)
    with pytest.raises(csv_copy.NeedsRowReader):
        list(csv_copy._blocks(stream))
    assert stream.tell() < len(content) / 10


def test_a_file_without_line_feeds_is_not_read_into_one_line(monkeypatch):
    monkeypatch.setattr(csv_copy, "BLOCK_BYTES", 200)
    content = manifest_csv([manifest_row(f"a{i}") for i in range(200)]).replace(b"\n", b"\r")
    stream = io.BytesIO(content)
    with pytest.raises(csv_copy.NeedsRowReader):
        csv_copy.copy_file(stream, lambda *_: None)
    assert stream.tell() <= 4 * 200


def test_columns_may_come_in_any_order_and_optional_ones_may_be_absent(licensor, monkeypatch, caplog):
    columns = list(reversed([c for c in COLUMNS if c not in ("language", "co_owners")]))
    content = manifest_csv([manifest_row("a"), manifest_row("b", territories="fr")], columns=columns)
    (status, _, errors, assets), used_copy = _both(licensor, content, monkeypatch, caplog)
    assert used_copy
    assert (status, errors, len(assets)) == ("done", [], 2)


def test_a_row_past_the_corpus_territory_is_refused_alike_by_both_paths(licensor, monkeypatch, caplog):
    """A row naming a territory past the corpus' rights is a row error that carries its id, and, as on the row
    reader, is not staged: the checks that read staged rows (exclusions kept from the stored asset, co-owners) do
    not add errors of their own for it."""
    setup = manifest_csv(
        [manifest_row("plain"), manifest_row("odd", duration_seconds="100", clip_exclusions="50-90:music")]
    )
    columns = [c for c in COLUMNS if c != "clip_exclusions"]
    content = manifest_csv(
        [manifest_row("plain", territories="FR"), manifest_row("odd", duration_seconds="10", territories="ES;fr")],
        columns=columns,
    )
    outcomes = []
    for row_reader in (False, True):
        corpus = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "territory": ["FR", "DE"]})
        first = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.csv", setup))
        assert imports.manifest_import_run(first.pk).status == ImportStatus.DONE
        caplog.clear()
        with (
            caplog.at_level(logging.INFO, logger="marketplace.catalog.services.imports"),
            monkeypatch.context() as patch,
        ):
            if row_reader:
                patch.setattr(csv_copy, "copy_file", _refuse)
            mi = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.csv", content))
            mi = imports.manifest_import_run(mi.pk)
        assert row_reader or "read row by row" not in caplog.text
        errors = ManifestRowError.objects.filter(manifest_import=mi).order_by("line", "field")
        outcomes.append((mi.status, list(errors.values_list("line", "field", "external_id", "message"))))
    assert outcomes[0] == outcomes[1]
    assert [error[:3] for error in outcomes[0][1]] == [(3, "territories", "odd")]
    assert "territories ES beyond the corpus' rights (DE, FR)" in outcomes[0][1][0][3]


@pytest.mark.django_db(transaction=True)
def test_rows_checked_in_python_commit_as_they_go_with_the_heartbeat(licensor, monkeypatch):
    """A long Python pass must not sit in one transaction: its heartbeat would be invisible to the sweeper."""
    monkeypatch.setattr(imports, "STAGE_CHUNK", 2)
    seen = []
    validate = csv_copy.validate_record

    def watched(record, line, known, held):
        mi = ManifestImport.objects.get()
        seen.append((connection.in_atomic_block, mi.heartbeat_at, ManifestRow.objects.count()))
        return validate(record, line, known, held)

    monkeypatch.setattr(csv_copy, "validate_record", watched)
    corpus = corpora.corpus_create(access=licensor, data=CORPUS_DATA)
    rows = [manifest_row(f"a{i}", duration_seconds="60", clip_exclusions="5-10:music") for i in range(6)]
    mi = imports.manifest_import_run(
        imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv(rows))).pk
    )
    assert (mi.status, mi.added) == ("done", 6)
    assert [atomic for atomic, _, _ in seen] == [False] * 6
    assert [staged for _, _, staged in seen] == [0, 0, 2, 2, 4, 4]  # each chunk committed before the next row
    beats = [beat for _, beat, _ in seen]
    assert beats == sorted(beats) and len(set(beats)) >= 3


@pytest.mark.django_db(transaction=True)
def test_staging_goes_page_range_by_page_range_with_progress_and_applying_is_announced(licensor, monkeypatch):
    """Each range of the temporary table's pages is its own statement and commit, with progress between."""
    monkeypatch.setattr(csv_copy, "STAGE_PAGES", 2)
    statements = []
    stage = csv_copy.stage_plain_rows
    monkeypatch.setattr(csv_copy, "stage_plain_rows", lambda *a: statements.append(a[2:]) or stage(*a))
    apply = imports._apply

    def watched_apply(mi):
        # Committed before the apply's transaction: what the page polls for.
        statements.append((connection.in_atomic_block, ManifestImport.objects.get(pk=mi.pk).status))
        return apply(mi)

    monkeypatch.setattr(imports, "_apply", watched_apply)
    corpus = corpora.corpus_create(access=licensor, data=CORPUS_DATA)
    rows = [manifest_row(f"a{i:04d}", title=f"Clip {i} " + "x" * 200) for i in range(300)]
    reports = []
    mi = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv(rows)))
    mi = imports.manifest_import_run(mi.pk, progress=lambda percent, phase: reports.append((phase, percent)))
    assert (mi.status, mi.added, mi.progress_percent) == ("done", 300, 100)
    ranges, announced = statements[:-1], statements[-1]
    assert len(ranges) >= 3 and ranges[0] == (0, 2) and ranges[-1][1] is None  # the last range is open-ended
    assert [first for first, _ in ranges] == list(range(0, 2 * len(ranges), 2))
    assert announced == (False, ImportStatus.APPLYING)
    phases = [phase for phase, _ in reports]
    assert phases == sorted(phases, key=["reading", "checking", "applying"].index)
    assert phases.count("checking") >= len(ranges) and phases[-1] == "applying"
    percents = [percent for _, percent in reports]
    assert percents == sorted(percents) and percents[-1] == imports.CHECKED
