"""Manifest parsing: every bad row reported with its line, field and a clear message."""

import io
import json
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.catalog.manifest import ManifestFileError, read_manifest
from tests.fixtures.market import manifest_csv, manifest_row

ORGS = frozenset({"northlight", "harbour"})


def parse(content: bytes, fmt: str = "csv"):
    return list(read_manifest(io.BytesIO(content), fmt, ORGS))


def messages(results) -> list[tuple[int, str, str]]:
    return [(e.line, e.field, e.message) for r in results for e in r.errors]


def test_valid_csv_rows_are_parsed_and_normalised():
    rows = parse(
        manifest_csv(
            [
                manifest_row(
                    "a1", sha256="AB" * 32, territories="fr;DE", clip_exclusions="00:00:05-10:music",
                    co_owners="northlight:60;harbour:40", rights_expiry="2030-01-31",
                )
            ]
        )
    )  # fmt: skip
    assert messages(rows) == []
    row = rows[0].row
    assert row.line == 2
    assert row.sha256 == "ab" * 32
    assert row.territories == ["DE", "FR"]
    assert row.clip_exclusions == [{"start": "5", "end": "10", "reason": "music"}]
    assert row.co_owners == [{"org": "harbour", "bp": 4000}, {"org": "northlight", "bp": 6000}]


def test_every_bad_row_is_reported_with_line_and_field():
    rows = parse(
        manifest_csv(
            [
                manifest_row("ok-1"),
                manifest_row("bad-1", duration_seconds="-4", sha256="xyz"),
                manifest_row("bad-2", width="wide", storage_uri="ftp://host/x"),
                manifest_row("bad-3", co_owners="northlight:60;harbour:30", territories="ZZ"),
                manifest_row("bad-4", clip_exclusions="20-40:music", duration_seconds="30"),
                manifest_row("", title=""),
            ]
        )
    )
    found = {(line, field) for line, field, _ in messages(rows)}
    assert found == {
        (3, "duration_seconds"), (3, "sha256"), (4, "width"), (4, "storage_uri"), (5, "co_owners"),
        (5, "territories"), (6, "clip_exclusions"), (7, "external_id"), (7, "title"),
    }  # fmt: skip
    text = {(line, field): message for line, field, message in messages(rows)}
    assert text[(3, "duration_seconds")] == "duration_seconds must be greater than zero (got -4)"
    assert text[(3, "sha256")].startswith("sha256 must be 64 hexadecimal characters")
    assert text[(5, "co_owners")] == "co_owners co-owner shares sum to 90%; they must sum to 100%"
    assert "runs past the end of the video" in text[(6, "clip_exclusions")]
    assert rows[0].row is not None


def test_a_sha256_of_the_right_length_names_its_first_bad_character():
    rows = parse(manifest_csv([manifest_row("a", sha256="ab" * 20 + "zz" + "cd" * 11), manifest_row("b", sha256="ab")]))
    assert messages(rows) == [
        (2, "sha256", "sha256 must be 64 hexadecimal characters (0-9, a-f): character 41 is 'z'"),
        (3, "sha256", "sha256 must be 64 hexadecimal characters (got 2 characters: 'ab')"),
    ]


def test_unknown_co_owners_are_named_with_the_shares_own_problems():
    rows = parse(manifest_csv([manifest_row("a", co_owners="harbour:30;nobody:80;ghost:10")]))
    assert messages(rows) == [
        (
            2,
            "co_owners",
            "co_owners co-owners 'nobody', 'ghost' are not licensors on ClearFrame (name each by its slug, as "
            "in /o/<slug>/); co-owner shares sum to 120%; they must sum to 100%",
        )
    ]


def test_unknown_co_owner_is_named():
    rows = parse(manifest_csv([manifest_row("a", co_owners="nobody:100")]))
    assert messages(rows) == [
        (
            2,
            "co_owners",
            "co_owners co-owner 'nobody' is not a licensor on ClearFrame (name it by its slug, as in /o/<slug>/)",
        )
    ]


def test_wrong_encoding_names_the_line_and_byte():
    content = manifest_csv([manifest_row("a1"), manifest_row("a2", title="CAFE")]).replace(b"CAFE", b"CAF\xe9")
    rows = parse(content)
    assert messages(rows) == [
        (3, "", "line 3 is not valid UTF-8 (byte 0xE9 at position 7); save the file as UTF-8"),
    ]


def test_wrong_columns_are_named_with_suggestions():
    content = manifest_csv([manifest_row("a")]).replace(b"duration_seconds", b"duration", 1)
    with pytest.raises(ManifestFileError) as caught:
        parse(content)
    message = str(caught.value)
    assert "missing required column(s): duration_seconds" in message
    assert "unknown column 'duration' (did you mean 'duration_seconds'?)" in message


def test_a_very_wide_header_gets_a_bounded_message():
    header = ",".join(["external_id", "title", "title"] + [f"extra{i}" for i in range(50_000)])
    with pytest.raises(ManifestFileError) as caught:
        parse(header.encode() + b"\n")
    message = str(caught.value)
    assert "unknown column 'extra9'" in message and "'extra10'" not in message
    assert "and 49,990 more unknown columns" in message
    assert "column(s) given twice: title" in message
    assert len(message) < 2_000


def test_truncated_csv_is_reported():
    content = manifest_csv([manifest_row("a1"), manifest_row("a2")])
    truncated = content[: len(content) - 60]
    assert messages(parse(truncated))[-1][2].endswith("(the file may be truncated)")
    unterminated = manifest_csv([manifest_row("a1")]) + b'a2,"Unclosed title'
    assert "the file may be truncated" in messages(parse(unterminated))[-1][2]


def test_a_row_cut_inside_its_last_field_is_not_taken_for_whole():
    from marketplace.catalog.manifest import COLUMNS

    columns = COLUMNS[: COLUMNS.index("storage_uri") + 1]  # a free-text field last: a cut leaves it plausible
    rows = [manifest_row("a1"), manifest_row("a2", storage_uri="s3://media/long-name.mp4")]
    content = manifest_csv(rows, columns=columns)
    assert content.endswith(b"long-name.mp4\n")
    for cut in (content[:-8], content[:-1]):  # cut inside the last field; or whole but with no final line break
        found = messages(parse(cut))
        assert found == [(3, "", "line 3 is the last and does not end with a line break, so the file may be "
                                 "truncated; if the file is complete, end it with a line break")]  # fmt: skip
    assert messages(parse(content)) == []
    assert messages(parse(content.replace(b"\n", b"\r\n"))) == []


def test_whole_numbers_in_exponent_form_and_json_constants():
    csv_rows = parse(
        manifest_csv(
            [
                manifest_row("e1", size_bytes="1e3", width="1.92e3"),
                manifest_row("e2", size_bytes="1.5e0"),
                manifest_row("e3", size_bytes="1e999999999"),
            ]
        )
    )
    assert (csv_rows[0].row.size_bytes, csv_rows[0].row.width) == (1000, 1920)
    found = messages(csv_rows)
    assert found[0] == (3, "size_bytes", "size_bytes '1.5e0' is not a whole number")
    assert found[1][:2] == (4, "size_bytes") and "implausibly large" in found[1][2]
    lines = [json.dumps(manifest_row("j1"))[:-1] + ', "width": NaN}', json.dumps({**manifest_row("j2"), "width": 1e3})]
    found = messages(parse("\n".join(lines).encode() + b"\n", "jsonl"))
    assert found == [(1, "", "line 1 is not valid JSON: NaN is not a JSON number")]
    odd = [json.dumps({**manifest_row(f"t{i}"), "territories": [v]}) for i, v in enumerate([True, 1.5, None])]
    found = messages(parse("\n".join(odd).encode() + b"\n", "jsonl"))
    assert [message for _, _, message in found] == [
        f"territories must be a list of codes as text, not of {kind}" for kind in ("true or false", "a number", "null")
    ]


def test_empty_and_header_only_files():
    with pytest.raises(ManifestFileError, match="The file is empty"):
        parse(b"")
    with pytest.raises(ManifestFileError, match="has a header but no rows"):
        parse(manifest_csv([]))


def test_json_lines_with_native_types_and_errors():
    lines = [
        json.dumps({**manifest_row("j1"), "width": 1920, "territories": ["WW"],
                    "clip_exclusions": [{"start": 1, "end": 2, "reason": "brand"}],
                    "co_owners": [{"org": "northlight", "share": "100"}]}),
        json.dumps({**manifest_row("j2"), "colour": "red"}),
        "[1, 2]",
        json.dumps({**manifest_row("j5"), "clip_exclusions": [{"start": 1, "end": 2, "reason": "music", "stop": 3}]}),
        json.dumps(manifest_row("j4"))[:40],
    ]  # fmt: skip
    rows = parse(("\n".join(lines)).encode(), "jsonl")
    assert rows[0].row.co_owners == [{"org": "northlight", "bp": 10000}]
    found = messages(rows)
    assert found[:2] == [(2, "colour", "unknown field 'colour'"), (3, "", "line 3 must be a JSON object")]
    # A typo inside an exclusion is as much an error as one at the top level.
    assert found[2] == (4, "clip_exclusions", "clip_exclusions an exclusion has start, end and reason only, not 'stop'")
    assert found[3][0] == 5
    assert found[3][2].startswith("line 5 is not valid JSON: ")
    assert found[3][2].endswith("(the file may be truncated)")
    assert len(found) == 4


@given(st.lists(st.sampled_from([b"a", b"bc", b",", b"\r", b"\n", b"\r\n", b'"']), max_size=40), st.integers(1, 9))
def test_lines_split_as_django_files_do_whatever_the_chunks(pieces, chunk_size):
    from django.core.files.base import File

    from marketplace.catalog.manifest import _lines

    data = b"".join(pieces)
    expected = list(File(io.BytesIO(data)))
    assert list(_lines(io.BytesIO(data), chunk_size=chunk_size)) == expected


def test_a_line_longer_than_the_limit_is_refused_without_holding_it(monkeypatch):
    from marketplace.catalog import manifest

    monkeypatch.setattr(manifest, "LINE_LIMIT", 2**20)
    head = manifest_csv([manifest_row("a1")])
    for fmt, content, line in (("csv", head + b"x" * (3 * 2**20), 3), ("jsonl", b"{}\n" + b"[" * (3 * 2**20), 2)):
        with pytest.raises(ManifestFileError, match=f"Line {line} is longer than 1 MB"):
            parse(content, fmt)


def test_rows_after_a_csv_syntax_error_are_still_checked():
    rows = [manifest_row("a1"), manifest_row("a2"), manifest_row("a3", sha256="abc"), manifest_row("a4")]
    content = manifest_csv(rows).replace(b"a2,Clip a2", b'a2,"Clip a2"x', 1)
    found = messages(parse(content))
    assert [(line, field) for line, field, _ in found] == [(3, ""), (4, "sha256")]
    assert "',' expected after '\"'" in found[0][2]
    assert [r.row.external_id for r in parse(content) if r.row] == ["a1", "a4"]
    # A bad byte on the broken line is reported too, not only the syntax error it came with.
    both = messages(parse(content.replace(b'"Clip a2"x', b'"Clip \xffa2"x', 1)))
    assert [line for line, _, _ in both[:2]] == [3, 3]
    assert both[0][2].startswith("line 3 is not valid UTF-8 (byte 0xFF")
    assert "',' expected after '\"'" in both[1][2]


def test_a_quoted_field_over_the_limit_is_one_error_however_many_lines_it_spans():
    import csv

    spanning = "x" * csv.field_size_limit() + '\nsecond line, with "quotes" inside\n' + "y" * 10
    rows = [
        manifest_row("a1"),
        manifest_row("a2", title=spanning),
        manifest_row("a3", sha256="abc"),
        manifest_row("a4"),
    ]
    found = messages(parse(manifest_csv(rows)))
    assert found == [
        (3, "", "line 3: a field is longer than 131,072 characters, more than any manifest field"),
        (6, "sha256", found[1][2]),  # the next record, on the line after the field closes: nothing in between
    ]
    assert [r.row.external_id for r in parse(manifest_csv(rows)) if r.row] == ["a1", "a4"]
    never_closed = manifest_csv([manifest_row("a1")]) + b'a2,"' + b"x" * (csv.field_size_limit() + 1) + b"\nmore\n"
    assert messages(parse(never_closed))[-1] == (
        3, "", "line 3: a field is longer than 131,072 characters, more than any manifest field; "
        "its quoted field is never closed",
    )  # fmt: skip


UNSTORABLE = "contains a NUL character or invalid Unicode (a lone surrogate)"
HUGE = "1e99999999999999999999999"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": "Clip\x00b"}, "title", f"title {UNSTORABLE}"),
        ({"width": "1_920"}, "width", "width '1_920' is not a whole number"),
        ({"width": "١٩٢٠"}, "width", "width '١٩٢٠' is not a whole number"),
        ({"duration_seconds": "1_000"}, "duration_seconds", "duration_seconds '1_000' is not a number"),
        ({"fps": "Infinity"}, "fps", "fps 'Infinity' is not a number"),
        ({"rights_expiry": "20311231"}, "rights_expiry", "'20311231' is not a date in YYYY-MM-DD form"),
        ({"rights_expiry": "2031-W01-1"}, "rights_expiry", "'2031-W01-1' is not a date in YYYY-MM-DD form"),
        ({"codec": "İ" * 26}, "codec", "codec is 52 characters long; the limit is 50"),
        ({"co_owners": "northlight:Infinity"}, "co_owners", "share 'Infinity' of northlight is not a percentage"),
        ({"co_owners": "northlight:sNaN"}, "co_owners", "share 'sNaN' of northlight is not a percentage"),
        ({"co_owners": "northlight:1e999999"}, "co_owners", "share 1e999999% of northlight must be above 0%"),
        ({"co_owners": "northlight:0.001"}, "co_owners", "share 0.001% of northlight has more than two decimals"),
        ({"territories": "FR;X\x00"}, "territories", "territories names unknown code(s) 'X\\x00': use ISO 3166-1"),
        ({"territories": "\ufb01;\u0131t"}, "territories", "territories names unknown code(s) '\ufb01', '\u0131t'"),
        ({"co_owners": "northlight:100;harbour:1e-999999999"}, "co_owners", "harbour has more than two decimals"),
        ({"clip_exclusions": "0-1e-999999999:brand"}, "clip_exclusions", "time 1e-999999999 has more than 3 dec"),
        (
            {"clip_exclusions": "1.00000000000000000000000000001-1.00000000000000000000000000002:music"},
            "clip_exclusions",
            "time 1.00000000000000000000000000001 has more than 3 decimal places",
        ),
        ({"clip_exclusions": f"0-{'9' * 41}:music"}, "clip_exclusions", "is not a time"),
        # Exponents past Decimal's range: Decimal() raises an ArithmeticError, not a ValueError.
        ({"duration_seconds": HUGE}, "duration_seconds", f"duration_seconds '{HUGE}' is out of range"),
        ({"fps": HUGE}, "fps", f"fps '{HUGE}' is out of range"),
        ({"clip_exclusions": f"0-{HUGE}:music"}, "clip_exclusions", f"'{HUGE}' is out of range"),
        ({"co_owners": f"northlight:{HUGE}"}, "co_owners", f"'{HUGE}' is out of range"),
        # Minutes and seconds of a time code stay below 60 (MM:SS alone may count more minutes).
        ({"clip_exclusions": "00:00:75-00:01:00:music"}, "clip_exclusions", "'00:00:75' is not a time"),
        ({"clip_exclusions": "0-01:99:00:music"}, "clip_exclusions", "'01:99:00' is not a time"),
        # Messages that name the real problem.
        ({"rights_expiry": "2023-02-29"}, "rights_expiry", "'2023-02-29' is not a date in the calendar"),
        ({"clip_exclusions": "-1-5:music"}, "clip_exclusions", "'-1-5:music' has no start time"),
        ({"clip_exclusions": "00:01:00-00:01:30"}, "clip_exclusions", "'00:01:00-00:01:30' has no reason: end it"),
    ],
)
def test_values_that_could_not_be_stored_or_read_two_ways_are_row_errors(overrides, field, message):
    """Each of these once passed validation and then failed the whole import while it was stored."""
    rows = parse(manifest_csv([manifest_row("ok"), manifest_row("bad", **overrides)]))
    assert [(line, name) for line, name, _ in messages(rows)] == [(3, field)]
    assert message in messages(rows)[0][2]
    assert rows[1].row is None


def test_the_example_manifests_offered_for_download_import_as_they_are():
    from pathlib import Path

    static = Path(__file__).resolve().parents[3] / "marketplace" / "catalog" / "static" / "catalog"
    for name, fmt in (("manifest-example.csv", "csv"), ("manifest-example.jsonl", "jsonl")):
        rows = parse((static / name).read_bytes(), fmt)
        assert messages(rows) == [] and len(rows) == 3, name


def test_time_codes_and_negative_zero_have_one_spelling():
    rows = parse(manifest_csv([manifest_row("a", duration_seconds="7200", clip_exclusions="75:30-01:59:59.5:music")]))
    assert rows[0].row.clip_exclusions == [{"start": "4530", "end": "7199.5", "reason": "music"}]
    long = parse(manifest_csv([manifest_row("b", duration_seconds="7300", clip_exclusions="120:00-121:00:music")]))
    assert long[0].row.clip_exclusions == [{"start": "7200", "end": "7260", "reason": "music"}]  # MM:SS past 99
    for start in ('"-0"', "-0.0", "0"):  # -0 would compare unequal to 0 on re-upload
        line = json.dumps(manifest_row("j")).replace(
            '"clip_exclusions": ""', f'"clip_exclusions": [{{"start": {start}, "end": 5, "reason": "music"}}]'
        )
        assert parse(line.encode() + b"\n", "jsonl")[0].row.clip_exclusions == [
            {"start": "0", "end": "5", "reason": "music"}
        ]


def test_json_lines_numbers_out_of_range_and_stray_keys_are_bounded_row_errors():
    lines = [
        json.dumps(manifest_row("j1")).replace('"fps": "25"', f'"fps": {HUGE}'),
        json.dumps({**manifest_row("j2"), **{f"titl{n}": 0 for n in range(5_000)}}),
    ]
    nested = json.dumps(
        {
            **manifest_row("j3"),
            "territories": ["FR", "@"],
            "clip_exclusions": [{"start": 0, "end": "@", "reason": "music"}],
            "co_owners": [{"org": "northlight", "share": "@"}],
        }
    ).replace('"@"', HUGE)  # unquoted
    digits = "9" * 5000  # past Python's int() limit, in an exclusion and a share
    long = nested.replace(HUGE, digits).replace('"j3"', '"j4"').replace(f'["FR", {digits}]', '["FR"]')
    rows = parse("".join(line + "\n" for line in [*lines, nested, long]).encode(), "jsonl")
    found = messages(rows)
    assert found[0] == (1, "fps", f"fps '{HUGE}' is out of range")  # the field named, as for the same text in a CSV
    assert [(field, message) for line, field, message in found if line == 3] == [
        ("territories", "territories must be a list of codes as text, not of a number"),
        ("clip_exclusions", f"clip_exclusions '{HUGE}' is out of range"),
        ("co_owners", f"co_owners '{HUGE}' is out of range"),
    ]
    assert [(field, message) for line, field, message in found if line == 4] == [
        ("clip_exclusions", f"clip_exclusions '{'9' * 60}'… is out of range"),
        ("co_owners", f"co_owners '{'9' * 60}'… is out of range"),
    ]
    assert len(found) == 1 + 11 + 3 + 2 and found[-6] == (2, "", "and 4,990 more unknown fields")
    assert found[1] == (2, "titl0", "unknown field 'titl0' (did you mean 'title'?)")


def test_json_lines_integers_of_thousands_of_digits_within_pythons_limit_are_out_of_range_too():
    """Below int()'s limit of 4,300 digits Python holds the number, but no numeric field has a use for it: it is
    out of range on its field, as a longer one is, and the message does not quote it whole."""
    digits = "9" * 4000
    record = json.dumps(manifest_row("j"))
    for name in ("duration_seconds", "width", "height", "fps", "size_bytes"):
        record = re.sub(f'"{name}": "[^"]*"', f'"{name}": {digits}', record)
    found = messages(parse(record.encode() + b"\n", "jsonl"))
    assert found == [
        (1, name, f"{name} '{'9' * 60}'… is out of range")
        for name in ("duration_seconds", "width", "height", "fps", "size_bytes")
    ]
    assert parse(json.dumps(manifest_row("j")).replace('"1920"', "1" + "0" * 3).encode() + b"\n", "jsonl")[0].row


def test_json_lines_values_that_are_not_text_or_storable_are_row_errors():
    lines = [
        {**manifest_row("j1"), "title": {"en": "A title"}},
        {**manifest_row("j2"), "codec": ["h264"], "language": True},
        {**manifest_row("j3"), "title": "Clip \ud800"},
        {**manifest_row("j4"), "k" * 61: 1, "bad\x00key": 2},
    ]
    rows = parse("".join(json.dumps(line) + "\n" for line in lines).encode(), "jsonl")
    assert messages(rows) == [
        (1, "title", "title must be text or a number, not a JSON object"),
        (2, "codec", "codec must be text or a number, not a JSON list"),
        (2, "language", "language must be text or a number, not true or false"),
        (3, "title", "title contains a NUL character or invalid Unicode (a lone surrogate)"),
        (4, "", "unknown field " + repr("k" * 60) + "…"),
        (4, "", "unknown field 'bad\\x00key'"),
    ]


def test_a_huge_exclusion_time_is_a_row_error_beside_a_bad_duration():
    """The duration check is skipped when the duration is bad; the exclusion must still fail on its own."""
    rows = parse(manifest_csv([manifest_row("bad", duration_seconds="-4", clip_exclusions="0-1e999999999:music")]))
    assert [(line, field) for line, field, _ in messages(rows)] == [(2, "duration_seconds"), (2, "clip_exclusions")]
    assert "time 1e999999999 is implausibly large" in messages(rows)[1][2]


def test_json_lines_that_python_cannot_parse_are_row_errors_and_decimals_stay_exact():
    lines = [
        json.dumps(manifest_row("long")).replace('"1920"', "1" * 5000),
        "[" * 100_000,
        json.dumps({**manifest_row("precise"), "duration_seconds": 1}).replace(": 1,", ": 30.00000000000000001,"),
        json.dumps({**manifest_row("fine"), "duration_seconds": 1}).replace(": 1,", ": 30.5,"),
    ]
    rows = parse(("\n".join(lines) + "\n").encode(), "jsonl")
    assert messages(rows) == [
        (1, "width", f"width '{'1' * 60}'… is out of range"),
        (2, "", "line 2 is not valid JSON: it nests too deeply"),
        (3, "duration_seconds", "duration_seconds 30.00000000000000001 has more than 3 decimal places"),
    ]
    assert str(rows[3].row.duration_seconds) == "30.5"


def test_clip_exclusion_times_have_one_spelling():
    """60-90 and 60.0-90.00 are the same exclusion: a re-upload must not count the asset as changed."""
    plain, padded = parse(
        manifest_csv(
            [
                manifest_row(name, duration_seconds="120", clip_exclusions=spelling)
                for name, spelling in (("a", "60-90:music"), ("b", "60.0-90.00:music"))
            ]
        )
    )
    assert plain.row.clip_exclusions == padded.row.clip_exclusions == [{"start": "60", "end": "90", "reason": "music"}]


def test_exact_values_with_trailing_zeros_and_exclusions_in_any_order_read_the_same():
    plain = parse(manifest_csv([manifest_row("a", clip_exclusions="1-2:music;1-5:likeness")]))[0].row
    other = parse(
        manifest_csv([manifest_row("a", duration_seconds="30.000000", fps="25.0000",
                                   clip_exclusions="1-5:likeness;1-2:music;1-2:music")])
    )[0].row  # fmt: skip
    assert other is not None and plain is not None
    assert (other.duration_seconds, other.fps) == (Decimal("30"), Decimal("25"))
    assert (
        other.clip_exclusions
        == plain.clip_exclusions
        == [
            {"start": "1", "end": "2", "reason": "music"},
            {"start": "1", "end": "5", "reason": "likeness"},
        ]
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_utf16_file_is_one_clear_file_error(encoding, fmt):
    text = (
        manifest_csv([manifest_row("a")]).decode()
        if fmt == "csv"
        else json.dumps(manifest_row("a")) + "\r\n" + json.dumps(manifest_row("b")) + "\r\n"
    )
    with pytest.raises(ManifestFileError, match=r"The file is in UTF-16 .* save it as UTF-8"):
        parse(text.encode(encoding), fmt)


@pytest.mark.parametrize(("separator", "named"), [(b";", "semicolons"), (b"\t", "tabs")])
def test_a_csv_separated_otherwise_than_by_commas_is_named_as_such(separator, named):
    content = manifest_csv([manifest_row("a")]).replace(b",", separator)
    with pytest.raises(ManifestFileError, match=f"separated by {named}"):
        parse(content)


@pytest.mark.parametrize("start", [b"PK\x03\x04\x14\x00\x06\x00", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_spreadsheet_under_a_text_name_is_named_as_such(start, fmt):
    with pytest.raises(ManifestFileError, match=r"is a spreadsheet .* saved under a \.csv or \.jsonl name"):
        parse(start + b"\x00\x87binary\n", fmt)


def test_the_format_page_and_the_reference_name_the_same_columns(client):
    """The import form's format page explains every column, as docs/manifest.md does; neither may drift."""
    from pathlib import Path

    from django.urls import reverse

    from marketplace.catalog.manifest import COLUMN_GUIDE, COLUMNS

    assert list(COLUMN_GUIDE) == list(COLUMNS)
    reference = (Path(__file__).resolve().parents[3] / "docs" / "manifest.md").read_text()
    for column in COLUMNS:
        assert f"`{column}`" in reference
    page = client.get(reverse("catalog:manifest_format"))
    assert page.status_code == 200
    body = page.content.decode()
    for column in COLUMNS:
        assert f'<tr id="column-{column}">' in body
    assert "manifest-example.csv" in body and "manifest-example.jsonl" in body


def test_an_open_quote_that_swallows_the_rest_of_the_file_is_named_with_its_lines():
    good = manifest_csv([manifest_row("a1")])
    rest = b"".join(manifest_csv([manifest_row(f"b{i}")]).split(b"\n", 1)[1] for i in range(3))
    rows = parse(good + b'a2,"Unclosed title,30,1920,1080,25,h264,1,' + b"0" * 64 + b",s3://x/a2.mp4\n" + rest)
    [(line, field, message)] = messages(rows)
    assert (line, field) == (3, "")
    assert message.endswith(
        "a quote opened on line 3 is never closed, so lines 3-6 were read as one field (or the file is truncated)"
    )


def _jsonl(*records: dict) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def test_a_json_number_in_a_text_field_is_taken_and_quoted_as_written():
    # json.dumps would write 1e3 as 1000.0: the numbers go in by hand, to keep their spelling.
    template = json.dumps({**manifest_row("x"), "external_id": "@"})
    lines = [template.replace('"@"', number) for number in ("1e3", "0.0000001", "-0", "12")]
    rows = parse("\n".join(lines).encode() + b"\n", "jsonl")
    assert [r.row.external_id for r in rows] == ["1e3", "0.0000001", "-0", "12"]
    bad = json.dumps({**manifest_row("y"), "width": "@", "fps": "@@"}).replace('"@"', "-1e3").replace('"@@"', "1e400")
    assert messages(parse(bad.encode() + b"\n", "jsonl")) == [
        (1, "width", "width must be greater than zero (got -1e3)"),
        (1, "fps", "fps 1e400 is implausibly large (limit 1000)"),
    ]


@pytest.mark.parametrize(
    ("co_owners", "message"),
    [
        # Once a crash of the whole import: the name went into the message unescaped, and could not be stored.
        ([{"org": "harb\x00our", "share": 0}], "share 0% of 'harb\\x00our' must be above 0%"),
        ([{"org": "harb\ud800our", "share": "abc"}], "share 'abc' of 'harb\\ud800our' is not a percentage"),
        ([{"org": "harb\x00our", "share": "33.333"}], "share 33.333% of 'harb\\x00our' has more than two decimals"),
        # JSON's own values, spelt as JSON.
        ([{"org": "harbour", "share": None}], "share null of harbour is not a percentage"),
        ([{"org": None, "share": 100}], "co-owner null is not a licensor's slug written as text"),
        ([{"org": "harbour", "share": 100, "note": 1}], "a co-owner has org and share only, not 'note'"),
    ],
)
def test_co_owners_that_cannot_be_read_are_row_errors_named_safely(co_owners, message):
    rows = parse(_jsonl({**manifest_row("a"), "co_owners": co_owners}), "jsonl")
    found = messages(rows)
    assert len(found) == 1 and found[0][:2] == (1, "co_owners") and message in found[0][2], found
    assert "\x00" not in found[0][2] and "\ud800" not in found[0][2]  # storable as it stands


@pytest.mark.parametrize(
    ("exclusion", "message"),
    [
        ({"start": None, "end": 5, "reason": "music"}, "null is not a time"),
        ({"start": False, "end": 5, "reason": "music"}, "false is not a time"),
        ({"start": {"s": 1}, "end": 5, "reason": "music"}, "'{\"s\": 1}' is not a time"),
        ({"start": 1, "end": 5, "reason": None}, "exclusion reason null is not one of"),
        ({"start": 1, "end": 5, "reason": "Songs"}, "exclusion reason 'songs' is not one of"),
    ],
)
def test_json_values_in_an_exclusion_are_named_as_json_writes_them(exclusion, message):
    found = messages(parse(_jsonl({**manifest_row("a"), "clip_exclusions": [exclusion]}), "jsonl"))
    assert len(found) == 1 and found[0][1] == "clip_exclusions" and message in found[0][2], found


@pytest.mark.parametrize("invisible", ["\u2028", "\u2029", "\u200b", "\u200e", "\u202e", "\ufeff", "\u00ad", "\x85"])
def test_an_external_id_with_an_invisible_character_is_refused(invisible):
    found = messages(parse(manifest_csv([manifest_row("ok"), manifest_row(f"a{invisible}b", storage_uri="s3://m/x")])))
    assert found == [
        (
            3,
            "external_id",
            "external_id contains a control character or an invisible one (a tab, a line break, a zero-width "
            "space, a direction mark or similar)",
        )
    ]


def test_the_table_of_invisible_characters_is_unicodes():
    import unicodedata

    from marketplace.catalog.manifest import INVISIBLE_RANGES

    listed = {cp for low, high in INVISIBLE_RANGES for cp in range(low, high + 1)}
    classed = {
        cp
        for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zl", "Zp")
    }
    assert listed == classed


def test_territories_listed_twice_are_listed_once_worldwide_too():
    rows = parse(manifest_csv([manifest_row("a", territories="WW;WW"), manifest_row("b", territories="FR;FR")]))
    assert messages(rows) == []
    assert [r.row.territories for r in rows] == [["WW"], ["FR"]]


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("s3:///", False),
        ("s3://bucket", False),
        ("s3://bucket/", False),
        ("gs:///key.mp4", False),
        ("https:///x.mp4", False),
        ("s3://bucket/key.mp4", True),
        ("az://container/dir/blob.mp4", True),
        ("https://cdn.example/x.mp4", True),
        ("file:///srv/media/x.mp4", True),
    ],
)
def test_a_storage_uri_names_a_file(uri, ok):
    found = messages(parse(manifest_csv([manifest_row("a", storage_uri=uri)])))
    assert (found == []) is ok, found
    if not ok:
        assert found[0][1] == "storage_uri" and "is not a storage URI (s3://bucket/key" in found[0][2]


def test_a_row_with_the_wrong_number_of_fields_still_counts_for_repeated_ids():
    content = manifest_csv([manifest_row("a"), manifest_row("b")]) + b"a,only,three\n"
    rows = parse(content)
    assert [(e.line, e.external_id) for r in rows for e in r.errors] == [(4, "a")]
