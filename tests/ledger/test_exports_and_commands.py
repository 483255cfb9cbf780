"""CSV exports, the export and seal commands, and the read-only admin."""

import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from ledger import services as ledger
from ledger.types import NewEntry, credit, debit
from tests.fixtures.ledger import eur


@pytest.fixture
def posted(chart):
    first = ledger.entry_post(
        NewEntry(
            legs=[debit("cash:stripe", eur(12_345)), credit("prepaid:lic_acme", eur(12_345))],
            description='Top-up, "quoted"',
            idempotency_key="pi_9",
            effective_date=dt.date(2026, 3, 1),
        )
    )
    second = ledger.entry_post(
        NewEntry(
            legs=[
                debit("prepaid:lic_acme", eur(1_000)),
                credit("revenue:commission", eur(200)),
                credit("royalty_payable:lor_north", eur(800)),
            ],
            description="Usage",
            effective_date=dt.date(2026, 3, 2),
        )
    )
    return first.id, second.id


def test_journal_csv_has_one_row_per_posting(posted):
    out = io.StringIO()
    call_command("ledger_export", "journal", stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0].keys()) == ledger.JOURNAL_COLUMNS
    assert len(rows) == 5
    assert rows[0] == {
        "entry_id": str(posted[0]),
        "effective_date": "2026-03-01",
        "posted_at": rows[0]["posted_at"],
        "account_code": "cash:stripe",
        "account_type": "asset",
        "currency": "EUR",
        "amount_minor": "12345",
        "description": 'Top-up, "quoted"',
        "idempotency_key": "pi_9",
    }
    assert rows[0]["posted_at"].endswith("Z")
    assert [r["amount_minor"] for r in rows[2:]] == ["1000", "-200", "-800"]
    assert sum(int(r["amount_minor"]) for r in rows) == 0


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1 refund", "'+1 refund"),
        ("-fee", "'-fee"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTabbed", "'\tTabbed"),
        ("'Tis an apostrophe", "''Tis an apostrophe"),
        ("Usage 2026-03", "Usage 2026-03"),
        ("-42", "-42"),
    ],
)
def test_journal_csv_cells_never_run_as_spreadsheet_formulas(chart, stored, written):
    ledger.entry_post(
        NewEntry(
            legs=[debit("cash:stripe", eur(5)), credit("revenue:commission", eur(5))],
            description=stored,
            idempotency_key=stored,
        )
    )
    out = io.StringIO()
    call_command("ledger_export", "journal", stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["description"], r["idempotency_key"]) for r in rows] == [(written, written)] * 2
    assert [r["amount_minor"] for r in rows] == ["5", "-5"]  # numbers stay numbers
    restored = written[1:] if written.startswith("'") else written  # the documented rule
    assert restored == stored


def test_journal_export_streams_on_while_accounts_are_opened(posted):
    from ledger.services import exports
    from ledger.types import AccountType

    rows = exports.journal_rows(chunk=1)
    first = next(rows)
    ledger.account_open(code="cash:bank", currency="EUR", type=AccountType.ASSET)
    late = ledger.entry_post(
        NewEntry(legs=[debit("cash:bank", eur(5)), credit("revenue:commission", eur(5))], description="Wire")
    )
    rest = list(rows)
    assert first[0] == posted[0]
    assert [r[3] for r in rest if r[0] == late.id] == ["cash:bank", "revenue:commission"]


def test_journal_csv_filters_by_date_and_writes_a_file(posted, tmp_path):
    target = tmp_path / "journal.csv"
    out = io.StringIO()
    call_command(
        "ledger_export", "journal", "--from", "2026-03-02", "-o", str(target), stdout=out, stderr=io.StringIO()
    )
    assert "wrote 3 rows" in out.getvalue()
    rows = list(csv.DictReader(target.open()))
    assert {r["entry_id"] for r in rows} == {str(posted[1])}
    # Not on a terminal (a log, cron mail): the progress line once, at the end, without redraws.
    err = io.StringIO()
    call_command("ledger_export", "journal", "-o", str(target), stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == "exporting postings: 5/5 100.0%  " + err.getvalue().rsplit("  ", 1)[1]
    assert "\r" not in err.getvalue() and err.getvalue().endswith("/s\n")


def test_export_read_by_a_pipe_that_closes_early_stops_quietly(posted, monkeypatch):
    """`ledger_export journal | head -1`: a closed pipe ends the export, without a traceback."""
    import os

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    silenced = []
    monkeypatch.setattr(os, "open", lambda path, flags: silenced.append(path) or 99)
    monkeypatch.setattr(os, "dup2", lambda fd, fd2: silenced.append((fd, fd2)))
    call_command("ledger_export", "journal", stdout=ClosedPipe(), stderr=io.StringIO())  # no exception
    assert silenced[0] == os.devnull and silenced[1][0] == 99


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["journal", "--from", "2026-13-01"], "'2026-13-01' is not a date in the calendar"),
        (["journal", "--from", "20260301"], "'20260301' is not a date in YYYY-MM-DD form"),
        (["trial-balance", "--as-of", "2026-W09-7"], "'2026-W09-7' is not a date in YYYY-MM-DD form"),
        (["journal", "--as-of", "2026-03-01"], "--as-of applies to the trial balance"),
        (["trial-balance", "--from", "2026-03-01"], "--from and --to apply to the journal"),
        (["journal", "--from", "2026-03-11", "--to", "2026-03-01"], "is after --to"),
        (["journal", "-o", "/nonexistent/dir/journal.csv"], "cannot write /nonexistent/dir/journal.csv"),
    ],
)
def test_export_refuses_options_it_would_not_honour(posted, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("ledger_export", *arguments, stdout=io.StringIO(), stderr=io.StringIO())


def test_an_export_that_cannot_be_written_whole_says_so_and_leaves_no_file(posted, tmp_path, monkeypatch):
    """A full disk (or a quota) mid-export: a clear error, and no journal cut short where the whole one belongs."""
    from ledger.services import exports

    target = tmp_path / "journal.csv"
    real_writer = exports.csv.writer

    def writer(out, **options):
        def full(text):
            raise OSError(28, "No space left on device")

        out.write = full  # the file takes the header from open(), then every write fails
        return real_writer(out, **options)

    monkeypatch.setattr(exports.csv, "writer", writer)
    with pytest.raises(CommandError, match=f"cannot write {target}: No space left on device; nothing was kept"):
        call_command("ledger_export", "journal", "-o", str(target), stdout=io.StringIO(), stderr=io.StringIO())
    assert not target.exists()


def test_trial_balance_csv(posted):
    out = io.StringIO()
    call_command("ledger_export", "trial-balance", stdout=out)
    rows = {r["account_code"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert (rows["cash:stripe"]["debit_minor"], rows["cash:stripe"]["credit_minor"]) == ("12345", "0")
    assert (rows["prepaid:lic_acme"]["debit_minor"], rows["prepaid:lic_acme"]["credit_minor"]) == ("0", "11345")
    assert sum(int(r["debit_minor"]) for r in rows.values()) == sum(int(r["credit_minor"]) for r in rows.values())
    out = io.StringIO()
    call_command("ledger_export", "trial-balance", "--as-of", "2026-03-01", stdout=out)
    past = {r["account_code"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert past["revenue:commission"]["credit_minor"] == "0"


def test_admin_is_read_only(posted, admin_client):
    response = admin_client.get(reverse("admin:ledger_journalentry_change", args=[posted[0]]))
    assert response.status_code == 200
    assert b"cash:stripe" in response.content
    assert admin_client.get(reverse("admin:ledger_journalentry_add")).status_code == 403
    response = admin_client.post(reverse("admin:ledger_journalentry_delete", args=[posted[0]]), {"post": "yes"})
    assert response.status_code == 403
    assert ledger.entry_get(posted[0]).description == 'Top-up, "quoted"'
    refused = admin_client.get(reverse("admin:ledger_account_add"))
    assert refused.status_code == 403 and b"Members page" not in refused.content  # no role changes that
    # Postings and day totals can be browsed too, never changed; amounts read as debits and credits.
    listing = admin_client.get(reverse("admin:ledger_posting_changelist")).content.decode()
    assert "cash:stripe" in listing and " EUR" in listing
    entry_page = admin_client.get(reverse("admin:ledger_journalentry_change", args=[posted[0]])).content.decode()
    assert f"entry {posted[0]}, leg 0: debit" in entry_page
    assert " UTC" in entry_page and " EUR Dr" in entry_page  # when, in UTC; balances on their side
    assert admin_client.get(reverse("admin:ledger_accountday_changelist")).status_code == 200
    from ledger.models import Posting

    first = Posting.objects.filter(entry_id=posted[0]).first()
    assert (
        admin_client.post(reverse("admin:ledger_posting_delete", args=[first.pk]), {"post": "yes"}).status_code == 403
    )
    assert Posting.objects.filter(pk=first.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_journal_export_reads_one_snapshot_of_the_ledger(posted):
    """Entry ids are taken before their transactions commit, so pages read one after another could take in an
    entry committed after the export began, or leave out one committed before a page already read."""
    import threading

    from django.db import connection

    from ledger.services import exports

    def post_elsewhere(results):
        legs = [debit("cash:stripe", eur(7)), credit("prepaid:lic_acme", eur(7))]
        try:
            results.append(ledger.entry_post(NewEntry(legs=legs, description="Late")).id)
        finally:
            connection.close()

    rows = exports.journal_rows(chunk=1)
    assert next(rows)[0] == posted[0]
    late: list[int] = []
    thread = threading.Thread(target=post_elsewhere, args=(late,))
    thread.start()
    thread.join()
    assert len(late) == 1
    assert sorted({row[0] for row in rows}) == [posted[0], posted[1]]  # the first entry's second row, then the next
    assert late[0] in {row[0] for row in exports.journal_rows()}  # a new export has it
