"""Manifest imports end to end through the service: upsert, diffs, errors, crashes, withdrawals."""

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.test import override_settings
from django.urls import reverse

from marketplace.catalog.manifest import REQUIRED as REQUIRED_COLUMNS
from marketplace.catalog.models import (
    Asset,
    AssetStatus,
    Corpus,
    ImportStatus,
    ManifestImport,
    ManifestRow,
    ManifestRowError,
    Withdrawal,
)
from marketplace.catalog.services import corpora, imports, withdrawals
from marketplace.events.models import DomainEvent
from tests.fixtures.market import CORPUS_DATA, add_member, import_rows, manifest_csv, manifest_row, sha, upload
from tests.fixtures.threads import HeldTransaction


def totals(corpus):
    corpus.refresh_from_db()
    return corpus.asset_count, corpus.total_seconds, corpus.total_bytes


def test_import_adds_assets_and_keeps_totals_exact(licensor, corpus):
    rows = [manifest_row(f"a{i}", duration_seconds=f"{10 + i}.5", size_bytes=str(1000 + i)) for i in range(5)]
    mi = import_rows(licensor, corpus, rows)
    assert (mi.status, mi.rows_seen, mi.added, mi.changed, mi.unchanged, mi.missing) == ("done", 5, 5, 0, 0, 0)
    assert totals(corpus) == (5, Decimal("62.500"), 5010)
    asset = Asset.objects.get(corpus=corpus, external_id="a2")
    assert (asset.duration_seconds, asset.size_bytes, asset.status, asset.last_import_id) == (
        Decimal("12.5"), 1002, "active", mi.pk,
    )  # fmt: skip


def test_rows_that_together_pass_what_a_corpus_can_total_change_nothing(licensor, corpus):
    """Each size is within the row limit (10^15 bytes); 9,224 of them pass the 64-bit total."""
    import_rows(licensor, corpus, [manifest_row("kept", size_bytes="1000")])
    rows = [manifest_row(f"big{i}", size_bytes=str(10**15)) for i in range(9_224)]
    mi = import_rows(licensor, corpus, rows)
    assert mi.status == ImportStatus.INVALID
    assert "more than a corpus can hold: check the size_bytes and duration_seconds columns" in mi.file_error
    assert totals(corpus) == (1, Decimal("30.000"), 1000)
    assert list(Asset.objects.filter(corpus=corpus).values_list("external_id", flat=True)) == ["kept"]
    assert not ManifestRow.objects.filter(manifest_import=mi).exists()


def test_the_same_file_twice_changes_nothing(licensor, corpus):
    rows = [manifest_row(f"a{i}") for i in range(4)]
    import_rows(licensor, corpus, rows)
    before = list(Asset.objects.filter(corpus=corpus).order_by("id").values_list("id", "updated_at", "title"))
    again = import_rows(licensor, corpus, rows)
    assert (again.added, again.changed, again.unchanged, again.missing) == (0, 0, 4, 0)
    after = list(Asset.objects.filter(corpus=corpus).order_by("id").values_list("id", "updated_at", "title"))
    assert after == before


def test_reupload_upserts_by_external_id_and_reports_missing(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(4)])
    second = import_rows(
        licensor, corpus,
        [manifest_row("a0"), manifest_row("a1", title="Renamed"), manifest_row("a4"), manifest_row("a5")],
    )  # fmt: skip
    assert (second.added, second.changed, second.unchanged, second.missing) == (2, 1, 1, 2)
    assert Asset.objects.get(corpus=corpus, external_id="a1").title == "Renamed"
    assert second.changes_sample == {
        "added": ["a4", "a5"],
        "changed": [{"external_id": "a1", "fields": {"title": ["Clip a1", "Renamed"]}}],
    }
    assert set(imports.missing_assets(second).values_list("external_id", flat=True)) == {"a2", "a3"}
    assert totals(corpus)[0] == 6  # missing assets stay listed until withdrawn

    withdrawal = withdrawals.missing_withdraw(access=licensor, manifest_import=second)
    assert (withdrawal.scope, withdrawal.asset_count) == ("missing", 2)
    assert set(Asset.objects.filter(corpus=corpus, status="withdrawn").values_list("external_id", flat=True)) == {
        "a2", "a3",
    }  # fmt: skip
    assert totals(corpus)[0] == 4
    with pytest.raises(ValidationError, match="already withdrawn"):
        withdrawals.missing_withdraw(access=licensor, manifest_import=second)
    # Only the latest manifest's staged rows are kept.
    assert set(ManifestRow.objects.values_list("manifest_import_id", flat=True)) == {second.pk}


@pytest.mark.postgres
def test_missing_assets_stay_an_anti_join_when_the_listing_outgrows_memory(licensor, corpus):
    """``NOT IN (subquery)`` is rescanned for every asset once the listing no longer fits ``work_mem`` as a hash:
    quadratic, minutes under the corpus lock for a re-upload of a few hundred thousand rows. Here the listing is
    made to outgrow a tiny ``work_mem``; the query must stay one anti-join over each side."""
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(3000)])
    second = import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(1, 3000)])
    assert second.missing == 1
    missing = imports.missing_assets(second)
    with transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute("ANALYZE catalog_asset, catalog_manifestrow")
        cursor.execute("SET LOCAL work_mem = '64kB'")
        sql, params = missing.values("pk").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Anti Join" in plan and "SubPlan" not in plan, plan
    assert list(missing.values_list("external_id", flat=True)) == ["a0"]


def test_missing_assets_are_not_withdrawn_when_the_staged_listing_was_lost(licensor, corpus):
    """On PostgreSQL staged rows are unlogged: a crash empties them, which must not make every asset missing."""
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(4)])
    second = import_rows(licensor, corpus, [manifest_row("a0"), manifest_row("a1")])
    assert second.missing == 2
    ManifestRow.objects.filter(manifest_import=second).delete()  # what a crash leaves of an unlogged table
    with pytest.raises(ValidationError, match="lost when the database restarted"):
        withdrawals.missing_withdraw(access=licensor, manifest_import=second)
    assert not Asset.objects.filter(corpus=corpus, status="withdrawn").exists()


def test_a_manifest_with_errors_changes_nothing_and_reports_every_row(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("keep")])
    bad = import_rows(
        licensor,
        corpus,
        [
            manifest_row("keep", title="Would change"),
            manifest_row("dup"),
            manifest_row("bad-sha", sha256="nothex"),
            manifest_row("dup", title="Again"),
            manifest_row("neg", duration_seconds="-1"),
            manifest_row("dup", title="Third"),
        ],
    )
    assert bad.status == ImportStatus.INVALID
    errors = list(
        ManifestRowError.objects.filter(manifest_import=bad).order_by("line").values_list("line", "field", "message")
    )
    assert [(line, field) for line, field, _ in errors] == [
        (4, "sha256"), (5, "external_id"), (6, "duration_seconds"), (7, "external_id"),
    ]  # fmt: skip
    assert errors[1][2] == "external_id 'dup' already appears on line 3"
    assert bad.error_count == 4
    assert Asset.objects.get(corpus=corpus, external_id="keep").title == "Clip keep"
    assert Asset.objects.filter(corpus=corpus).count() == 1
    assert not ManifestRow.objects.filter(manifest_import=bad).exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("manifest.xlsx", b"x", "is a spreadsheet, not a .csv or .jsonl manifest: export it as CSV"),
        ("manifest.txt", b"x", "is not a .csv or .jsonl manifest"),
        ("manifest.csv", b"", "The file is empty"),
    ],
)
def test_unusable_uploads_are_refused_at_upload(licensor, corpus, name, content, message):
    with pytest.raises(ValidationError, match=message):
        imports.manifest_upload(access=licensor, corpus=corpus, upload=upload(name, content))
    assert not ManifestImport.objects.exists()


def test_sizes_read_in_the_decimal_units_that_per_gb_prices_charge():
    assert imports.human_size(999) == "999 bytes"
    assert imports.human_size(1_000_003) == "1.0 MB"
    assert imports.human_size(5_061_518_398_591) == "5.1 TB"  # Django's filesizeformat says 4.6 TB (TiB)
    assert imports.human_size(3 * 10**15) == "3,000.0 TB"
    assert (imports.human_size(999_949), imports.human_size(999_950)) == ("999.9 kB", "1.0 MB")
    assert imports.human_size(999_999_999) == "1.0 GB"


@override_settings(MANIFEST_MAX_BYTES=1000)
def test_oversized_manifest_is_refused_with_its_size(licensor, corpus):
    content = manifest_csv([manifest_row(f"a{i}") for i in range(20)])
    with pytest.raises(ValidationError, match=r"The manifest is \d\.\d kB; the limit is 1\.0 kB"):
        imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("big.csv", content))


def test_file_level_problems_are_stored_for_the_page(licensor, corpus):
    content = manifest_csv([manifest_row("a")]).replace(b"sha256", b"checksum", 1)
    mi = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.csv", content))
    mi = imports.manifest_import_run(mi.pk)
    assert mi.status == ImportStatus.INVALID
    assert "missing required column(s): sha256" in mi.file_error
    assert "unknown column 'checksum'" in mi.file_error


def test_a_crash_while_applying_leaves_nothing_and_a_retry_succeeds(licensor, corpus, monkeypatch):
    mi = imports.manifest_upload(
        access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv([manifest_row(f"a{i}") for i in range(3)]))
    )
    real = imports.corpus_recount
    calls = {"n": 0}

    def crash_once(corpus_id):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker lost")
        return real(corpus_id)

    monkeypatch.setattr(imports, "corpus_recount", crash_once)
    with pytest.raises(RuntimeError):
        imports.manifest_import_run(mi.pk)
    mi.refresh_from_db()
    assert mi.status == ImportStatus.QUEUED
    assert Asset.objects.filter(corpus=corpus).count() == 0  # the assets inserted before the crash rolled back
    assert totals(corpus)[0] == 0
    done = imports.manifest_import_run(mi.pk)
    assert (done.status, done.added, done.attempts) == ("done", 3, 2)
    assert Asset.objects.filter(corpus=corpus).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lost_database_connection_is_recorded_and_the_retry_runs_at_once(licensor, corpus, monkeypatch):
    """The server ends the worker's session between two transactions (a restart, a failover, an idle timeout): the
    crash is recorded on a new connection, so that the task's retry runs the import again instead of finding it
    "running" with a recent heartbeat and leaving it for the sweeper ten minutes later."""
    from django.db import OperationalError, connection

    mi = imports.manifest_upload(
        access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv([manifest_row(f"c{i}") for i in range(3)]))
    )
    real, lost = imports._report, []

    def connection_lost(mi, progress, percent, phase, **fields):
        if phase == "reading" and not lost:
            lost.append(phase)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real(mi, progress, percent, phase, **fields)

    monkeypatch.setattr(imports, "_report", connection_lost)
    with pytest.raises(OperationalError):
        imports.manifest_import_run(mi.pk)
    connection.close_if_unusable_or_obsolete()  # as Celery does between tasks
    mi.refresh_from_db()
    assert (mi.status, mi.attempts) == (ImportStatus.QUEUED, 1)
    assert "it will be retried" in mi.file_error
    done = imports.manifest_import_run(mi.pk)  # the task's retry, ten seconds later
    assert (done.status, done.added, done.attempts) == (ImportStatus.DONE, 3, 2)
    assert totals(corpus)[0] == 3


def test_repeated_crashes_mark_the_import_failed(licensor, corpus, monkeypatch):
    mi = imports.manifest_upload(
        access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv([manifest_row("a")]))
    )

    def boom(corpus_id):
        raise RuntimeError("disk full at /srv/clearframe/media")

    monkeypatch.setattr(imports, "corpus_recount", boom)
    for _ in range(imports.MAX_ATTEMPTS):
        with pytest.raises(RuntimeError):
            imports.manifest_import_run(mi.pk)
    mi.refresh_from_db()
    assert mi.status == ImportStatus.FAILED
    assert mi.file_error == (
        f"The import failed 3 times (RuntimeError); nothing was changed. "
        f"Upload the file again, or ask support about import {mi.pk}."
    )  # the exception's own text (a server path here) stays in the log
    assert not ManifestRow.objects.filter(manifest_import=mi).exists()  # the last attempt staged them, and gave up
    assert imports.manifest_import_run(mi.pk).status == ImportStatus.FAILED  # finished imports are left alone
    assert not Asset.objects.exists()


def test_a_manifest_lost_from_storage_fails_at_once_without_naming_its_path(licensor, corpus):
    mi = imports.manifest_upload(
        access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv([manifest_row("a")])), enqueue=False
    )
    mi.file.storage.delete(mi.file.name)
    done = imports.manifest_import_run(mi.pk)
    assert (done.status, done.attempts, done.file_error) == (ImportStatus.FAILED, 1, imports.LOST_FILE_MESSAGE)
    assert mi.file.name not in done.file_error and not Asset.objects.exists()


def test_withdrawn_assets_stay_withdrawn_on_reimport(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("a"), manifest_row("b")])
    asset = Asset.objects.get(external_id="a")
    withdrawals.assets_withdraw(access=licensor, corpus=corpus, asset_ids=[asset.pk], reason="Music claim received")
    again = import_rows(licensor, corpus, [manifest_row("a", title="New title"), manifest_row("b")])
    assert (again.still_withdrawn, again.unchanged) == (1, 1)
    asset.refresh_from_db()
    # Still withdrawn, and its data follows the file (no active asset changed, so this is the only update).
    assert (asset.status, asset.title, asset.last_import_id) == (AssetStatus.WITHDRAWN, "New title", again.pk)


def test_withdrawal_is_recorded_with_an_event_and_exact_totals(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i}", size_bytes="100") for i in range(5)])
    ids = list(Asset.objects.filter(external_id__in=["a1", "a3"]).values_list("id", flat=True))
    withdrawal = withdrawals.assets_withdraw(access=licensor, corpus=corpus, asset_ids=ids, reason="Likeness complaint")
    assert (withdrawal.actor, withdrawal.reason, withdrawal.asset_count) == (licensor.user, "Likeness complaint", 2)
    assert totals(corpus)[0] == 3
    assert totals(corpus)[2] == 300
    event = DomainEvent.objects.get(type="asset.withdrawn")
    assert event.payload["asset_ids"] == ids
    assert event.payload["withdrawal"] == withdrawal.pk
    with pytest.raises(ValidationError, match="already withdrawn"):
        withdrawals.assets_withdraw(access=licensor, corpus=corpus, asset_ids=ids, reason="Again, twice")
    with pytest.raises(ValidationError, match="Say why"):
        withdrawals.assets_withdraw(access=licensor, corpus=corpus, asset_ids=[ids[0] + 100], reason="")


def test_whole_corpus_withdrawal(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(3)])
    withdrawal = withdrawals.corpus_withdraw(access=licensor, corpus=corpus, reason="Rights dispute with the estate")
    corpus.refresh_from_db()
    assert (corpus.status, corpus.asset_count, withdrawal.asset_count) == ("withdrawn", 0, 3)
    assert Withdrawal.objects.filter(corpus=corpus, scope="corpus").count() == 1
    with pytest.raises(ValidationError, match="withdrawn"):
        import_rows(licensor, corpus, [manifest_row("a9")])


def test_sweeper_finds_imports_whose_worker_stopped(licensor, corpus):
    from django.utils import timezone

    mi = imports.manifest_upload(
        access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv([manifest_row("a")]))
    )
    assert list(imports.imports_stalled()) == []
    ManifestImport.objects.filter(pk=mi.pk).update(created_at=timezone.now() - timezone.timedelta(hours=1))
    assert list(imports.imports_stalled()) == [mi]


def test_import_manifest_command(licensor, corpus, tmp_path):
    import io

    from django.core.management import CommandError, call_command

    good = tmp_path / "m.csv"
    good.write_bytes(manifest_csv([manifest_row("c1"), manifest_row("c2", rights_expiry="2020-01-31")]))
    out, err = io.StringIO(), io.StringIO()
    call_command("import_manifest", corpus.pk, str(good), "--as", licensor.user.username, stdout=out, stderr=err)
    assert "2 added, 0 changed, 0 unchanged" in out.getvalue()
    assert "1 listed asset with a rights expiry before today: still licensable until withdrawn" in out.getvalue()
    assert "importing m.csv" in err.getvalue() and err.getvalue().endswith("finished     100.0%\n")  # then a new line
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(
        manifest_csv([manifest_row("c1", title="Harbour, renamed"), manifest_row("c2", rights_expiry="2020-01-31")])
    )
    out = io.StringIO()
    call_command("import_manifest", corpus.pk, str(renamed), "--as", licensor.user.username, stdout=out, stderr=err)
    assert "  changed c1: title 'Clip c1' -> 'Harbour, renamed'" in out.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(manifest_csv([manifest_row("c3", width="0")]))
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command(
            "import_manifest", corpus.pk, str(bad), "--as", licensor.user.username, stdout=out, stderr=io.StringIO()
        )
    assert "line 2: width must be greater than zero (got 0)" in out.getvalue()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(manifest_csv([manifest_row("c4")]) + b'c5,"Unclosed')
    out = io.StringIO()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command(
            "import_manifest", corpus.pk, str(cut), "--as", licensor.user.username, stdout=out, stderr=io.StringIO()
        )
    assert "line 3" in out.getvalue() and "line 3: line 3" not in out.getvalue()  # the line named once
    # The corpus by its slug, the member's address in any case; progress is plain text, not error-styled.
    from marketplace.catalog.management.commands.import_manifest import Command

    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    command = Command(stdout=io.StringIO(), stderr=tty, force_color=True)  # as on a terminal: errors in red
    call_command(command, corpus.slug, str(good), "--as", licensor.user.username.upper())
    assert "importing m.csv" in tty.getvalue() and "\x1b[" not in tty.getvalue()
    with pytest.raises(CommandError, match="no corpus 'no-such-corpus'"):
        call_command("import_manifest", "no-such-corpus", str(good), "--as", licensor.user.username)
    with pytest.raises(CommandError, match="is not a member"):
        call_command("import_manifest", corpus.pk, str(good), "--as", "stranger@example.com")
    # A member without the catalogue role may not import, there as in the browser.
    viewer = add_member(licensor.organisation, "viewer@northlight.example", "viewer")
    with pytest.raises(CommandError, match="does not allow managing its catalogue"):
        call_command("import_manifest", corpus.pk, str(good), "--as", viewer.username)
    with pytest.raises(CommandError, match="invalid _count value: '-1'"):
        call_command("import_manifest", corpus.pk, str(good), "--as", licensor.user.username, "--show-errors", "-1")
    # A slug of digits that is another corpus' id: refused, naming both, rather than a guess.
    titled_1917 = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "title": "1917"})
    Corpus.objects.filter(pk=titled_1917.pk).update(slug=str(corpus.pk))
    with pytest.raises(CommandError, match=rf"is the slug of corpus {titled_1917.pk} \(1917\) and the id of another"):
        call_command("import_manifest", str(corpus.pk), str(good), "--as", licensor.user.username)
    call_command("import_manifest", str(titled_1917.pk), str(good), "--as", licensor.user.username, stdout=out)
    assert Asset.objects.filter(corpus=titled_1917).count() == 2
    withdrawals.corpus_withdraw(access=licensor, corpus=corpus, reason="Rights dispute with the estate")
    with pytest.raises(CommandError, match="has been withdrawn"):
        call_command("import_manifest", corpus.slug, str(good), "--as", licensor.user.username)


@pytest.mark.parametrize(
    ("stop", "said"), [(KeyboardInterrupt, "interrupted"), (RuntimeError, r"failed \(RuntimeError\)")]
)
def test_ctrl_c_or_a_crash_in_the_import_command_cancels_the_import_for_good(
    licensor, corpus, tmp_path, monkeypatch, stop, said
):
    """Left unfinished, the sweeper would take the import up again and apply the file minutes later."""
    import io

    from django.core.management import CommandError, call_command

    from marketplace.catalog.management.commands import import_manifest

    class Interrupted:
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, *args, **kwargs):
            raise stop

    monkeypatch.setattr(import_manifest, "Progress", Interrupted)
    path = tmp_path / "m.csv"
    path.write_bytes(manifest_csv([manifest_row(f"k{i}") for i in range(5)]))
    with pytest.raises(CommandError, match=rf"{said}: import \d+ is cancelled and nothing was changed"):
        call_command("import_manifest", corpus.pk, str(path), "--as", licensor.user.username, stdout=io.StringIO())
    mi = ManifestImport.objects.get(corpus=corpus)
    assert (mi.status, mi.file_error) == (ImportStatus.FAILED, imports.CANCELLED_MESSAGE)
    assert not Asset.objects.filter(corpus=corpus).exists()
    assert not ManifestRow.objects.filter(manifest_import=mi).exists()
    assert imports.manifest_import_run(mi.pk).status == ImportStatus.FAILED  # a late delivery does nothing
    assert not imports.manifest_import_cancel(mi.pk)


def stopped_at_the_apply(licensor, corpus, tmp_path, signum) -> tuple[int, str]:
    """Run import_manifest in a process of its own and send it ``signum`` while its apply waits for the corpus."""
    from marketplace.catalog.models import Corpus
    from tests.fixtures.celery import ROOT, database_url_for_subprocess, wait_until

    path = tmp_path / "m.csv"
    path.write_bytes(manifest_csv([manifest_row(f"t{i}") for i in range(50)]))
    # The corpus is locked elsewhere (as an edit locks it), so the command's apply waits: a moment that lasts.
    held = HeldTransaction(lambda: Corpus.objects.select_for_update(no_key=True).get(pk=corpus.pk), timeout=60)
    try:
        command = subprocess.Popen(
            [sys.executable, "manage.py", "import_manifest", str(corpus.pk), str(path), "--as", licensor.user.username],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
                 "DATABASE_URL": database_url_for_subprocess()},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        wait_until(
            lambda: ManifestImport.objects.filter(corpus=corpus, status=ImportStatus.APPLYING).exists(),
            timeout=60,
            message="the command to reach the apply",
        )
        command.send_signal(signum)
        _, stderr = command.communicate(timeout=30)
    finally:
        held.rollback()
        held.join()
    return command.returncode, stderr


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_import_command_cancels_the_import_as_ctrl_c_does(licensor, corpus, tmp_path, signum):
    """`kill`, a supervisor stopping the job or a closed terminal: the default action would end the process with
    the import unfinished, and the sweeper would apply the file minutes later."""
    returncode, stderr = stopped_at_the_apply(licensor, corpus, tmp_path, signum)
    mi = ManifestImport.objects.get(corpus=corpus)
    assert returncode == 1, stderr
    assert f"interrupted: import {mi.pk} is cancelled and nothing was changed" in stderr
    assert (mi.status, mi.file_error) == (ImportStatus.FAILED, imports.CANCELLED_MESSAGE)
    assert not Asset.objects.filter(corpus=corpus).exists()
    assert not ManifestRow.objects.filter(manifest_import=mi).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_command_killed_outright_is_failed_by_the_sweeper_not_applied(licensor, corpus, tmp_path):
    """kill -9, or the out-of-memory killer: nothing in the command runs, and the import is left applying. Whoever
    ran it saw it die; the sweeper must not apply the file ten minutes later."""
    from django.utils import timezone

    returncode, _ = stopped_at_the_apply(licensor, corpus, tmp_path, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    left = ManifestImport.objects.filter(corpus=corpus)
    assert left.get().status == ImportStatus.APPLYING
    left.update(heartbeat_at=timezone.now() - timedelta(seconds=imports.STALE_SECONDS + 1))
    assert list(imports.imports_stalled()) == [left.get()]
    mi = imports.manifest_import_run(left.get().pk)  # the job the sweeper queues for it
    assert mi.status == ImportStatus.FAILED
    assert mi.file_error == imports.FOREGROUND_STOPPED_MESSAGE
    assert not Asset.objects.filter(corpus=corpus).exists()
    assert not ManifestRow.objects.filter(manifest_import=mi).exists()
    assert list(imports.imports_stalled()) == []


# Two workers, one import or one corpus: each attempt owns its import until it ends.


def queued(licensor, corpus, rows, name="m.csv"):
    return imports.manifest_upload(access=licensor, corpus=corpus, upload=upload(name, manifest_csv(rows)))


def run_interrupted(mi, meanwhile) -> tuple:
    """Run an import; at its first progress report, ``meanwhile()`` runs (another worker's turn).

    Returns the import as the run left it and what ``meanwhile`` returned.
    """
    seen = []

    def on_progress(done, total):
        if not seen:
            seen.append(meanwhile())

    result = imports.manifest_import_run(mi.pk, progress=on_progress)
    assert len(seen) == 1
    return result, seen[0]


def test_an_import_finishing_meanwhile_leaves_a_running_import_of_the_same_corpus_whole(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("a0")])  # an earlier applied manifest
    running = queued(licensor, corpus, [manifest_row(f"a{i}") for i in range(6)])
    bad = imports.manifest_upload(
        access=licensor, corpus=corpus,
        upload=upload("bad.jsonl", b'{"external_id": "b1", "title": "no other fields"}\n'),
    )  # fmt: skip
    result, other = run_interrupted(running, lambda: imports.manifest_import_run(bad.pk).status)
    assert other == ImportStatus.INVALID
    assert (result.status, result.added, result.unchanged, result.missing) == ("done", 5, 1, 0)
    assert sorted(Asset.objects.filter(corpus=corpus).values_list("external_id", flat=True)) == [
        f"a{i}" for i in range(6)
    ]
    assert imports.missing_assets(result).count() == 0
    # Only the last applied manifest keeps its staged rows.
    assert set(ManifestRow.objects.values_list("manifest_import_id", flat=True)) == {running.pk}


def test_a_second_delivery_of_a_running_import_leaves_it_alone(licensor, corpus):
    mi = queued(licensor, corpus, [manifest_row(f"a{i}") for i in range(4)])
    result, again = run_interrupted(mi, lambda: imports.manifest_import_run(mi.pk).status)
    assert again == ImportStatus.VALIDATING
    assert (result.status, result.added, result.error_count, result.attempts) == ("done", 4, 0, 1)
    assert not ManifestRowError.objects.filter(manifest_import=mi).exists()


def test_an_attempt_presumed_dead_stops_when_it_wakes_up(licensor, corpus):
    from django.utils import timezone

    # JSON Lines: both attempts share this test's database session, and the CSV road's temporary table with it.
    lines = b"".join(json.dumps(manifest_row(f"a{i}")).encode() + b"\n" for i in range(4))
    mi = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.jsonl", lines))

    def take_over():  # this attempt goes silent; the sweeper's retry takes over and finishes
        stale = timezone.now() - timezone.timedelta(seconds=imports.STALE_SECONDS + 1)
        ManifestImport.objects.filter(pk=mi.pk).update(heartbeat_at=stale)
        return imports.manifest_import_run(mi.pk).status

    result, successor = run_interrupted(mi, take_over)
    assert successor == ImportStatus.DONE
    assert (result.status, result.added, result.error_count, result.attempts) == ("done", 4, 0, 2)
    assert Asset.objects.filter(corpus=corpus).count() == 4
    assert not ManifestRowError.objects.filter(manifest_import=mi).exists()


def test_an_import_queued_before_its_corpus_was_withdrawn_changes_nothing(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("a1")])
    mi = queued(licensor, corpus, [manifest_row("a1"), manifest_row("a2")])
    withdrawals.corpus_withdraw(access=licensor, corpus=corpus, reason="Rights dispute with the estate")
    result = imports.manifest_import_run(mi.pk)
    assert (result.status, result.file_error) == ("invalid", imports.WITHDRAWN_MESSAGE)
    assert not Asset.objects.filter(external_id="a2").exists()
    assert totals(corpus)[0] == 0


def test_a_crash_in_the_clean_up_after_applying_keeps_the_import_done(licensor, corpus, monkeypatch):
    mi = queued(licensor, corpus, [manifest_row("a1")])

    def boom(corpus_id):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(imports, "_drop_superseded_rows", boom)
    with pytest.raises(RuntimeError):
        imports.manifest_import_run(mi.pk)
    mi.refresh_from_db()
    assert (mi.status, mi.added, mi.file_error) == ("done", 1, "")
    assert imports.manifest_import_run(mi.pk).status == ImportStatus.DONE  # a retry leaves it be


def test_the_sweeper_drops_staged_rows_that_an_interrupted_clean_up_left(licensor, corpus, monkeypatch):
    """A worker killed between an apply's commit and its clean-up, or after refusing a file: the finished import
    never runs again, so the rows stayed staged until the corpus' next import, which may never come."""
    from marketplace.catalog.tasks import sweep_imports

    first = import_rows(licensor, corpus, [manifest_row("a1"), manifest_row("a2")])
    refused = import_rows(licensor, corpus, [manifest_row("a1", sha256="bad")])
    monkeypatch.setattr(imports, "_drop_superseded_rows", lambda corpus_id: None)  # killed before the clean-up
    second = import_rows(licensor, corpus, [manifest_row(f"a{i}") for i in range(1, 4)])
    monkeypatch.undo()
    assert (first.status, refused.status, second.status) == ("done", "invalid", "done")
    kept = ManifestRow.objects.get(manifest_import=second, external_id="a1")
    kept.pk, kept.manifest_import_id = None, refused.pk
    kept.save()  # what a kill after refusing the file, before its clean-up, leaves
    other = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "title": "Rivers at dusk"})
    refused_first = import_rows(licensor, other, [manifest_row("r1", sha256="bad")])  # nothing applied there
    kept.pk, kept.manifest_import_id = None, refused_first.pk
    kept.save()

    def staged():
        return sorted(ManifestRow.objects.values_list("manifest_import_id", flat=True))

    assert staged() == [first.pk, first.pk, refused.pk, second.pk, second.pk, second.pk, refused_first.pk]
    sweep_imports()
    assert staged() == [second.pk] * 3  # the current listing stays whole
    assert imports.missing_listing_kept(ManifestImport.objects.get(pk=second.pk))


def test_withdrawing_assets_refreshes_the_listed_price_per_hour(licensor, corpus):
    from marketplace.catalog.services import offers
    from tests.fixtures.market import OFFER_DATA

    # Two 30-second clips and two one-hour films; 1 EUR per asset.
    rows = [manifest_row(f"c{i}", duration_seconds="30") for i in range(2)]
    rows += [manifest_row(f"f{i}", duration_seconds="3600") for i in range(2)]
    import_rows(licensor, corpus, rows)
    plan = {"metric": "assets", "tiers": [{"up_to": None, "unit_price": 100}]}
    version = offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "price_plan": plan})
    offers.offer_publish(access=licensor, offer=version.offer)
    corpus.refresh_from_db()
    before = corpus.price_per_hour_from  # average 1,815 s per asset: about 2 assets per hour
    films = list(Asset.objects.filter(external_id__startswith="f").values_list("id", flat=True))
    withdrawals.assets_withdraw(access=licensor, corpus=corpus, asset_ids=films, reason="Music claim received")
    corpus.refresh_from_db()
    assert (before, corpus.price_per_hour_from) == (199, 12_000)  # rounded up; now 120 thirty-second clips per hour


def test_the_manifest_applied_last_is_current_whatever_the_clock_of_the_worker_that_applied_it(
    licensor, corpus, monkeypatch
):
    import datetime as dt

    from django.utils import timezone

    import_rows(licensor, corpus, [manifest_row("a"), manifest_row("b"), manifest_row("c")])
    slow = timezone.now() - dt.timedelta(hours=1)  # a worker whose clock is an hour behind applies next
    monkeypatch.setattr(imports.timezone, "now", lambda: slow)
    behind = import_rows(licensor, corpus, [manifest_row("a")])
    monkeypatch.undo()
    assert imports.latest_applied(corpus.pk).pk == behind.pk
    assert list(corpus.imports.filter(status="done").order_by("applied_seq").values_list("applied_seq", flat=True)) == [
        1,
        2,
    ]
    assert withdrawals.missing_withdraw(access=licensor, manifest_import=behind).asset_count == 2


def test_the_manifest_applied_last_is_the_current_listing_whatever_order_imports_were_queued(licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("a"), manifest_row("b"), manifest_row("c")])
    first = queued(licensor, corpus, [manifest_row("a")])
    second = queued(licensor, corpus, [manifest_row("a"), manifest_row("b")])
    assert imports.manifest_import_run(second.pk).missing == 1
    assert imports.manifest_import_run(first.pk).missing == 2  # queued first, applied last: the current listing
    with pytest.raises(ValidationError, match="A newer manifest has been imported since"):
        withdrawals.missing_withdraw(access=licensor, manifest_import=second)
    withdrawal = withdrawals.missing_withdraw(access=licensor, manifest_import=first)
    assert withdrawal.asset_count == 2
    assert list(Asset.objects.filter(status="active").values_list("external_id", flat=True)) == ["a"]


def test_an_import_given_up_after_its_last_attempt_leaves_no_staged_rows(licensor, corpus):
    from django.utils import timezone

    # JSON Lines: the row reader reports progress after staging, on every database.
    lines = b"".join(json.dumps(manifest_row(f"a{i}")).encode() + b"\n" for i in range(2))
    mi = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.jsonl", lines))
    stale = timezone.now() - timezone.timedelta(seconds=imports.STALE_SECONDS + 1)

    def die_after_staging():  # the last attempt stages its rows and its worker is killed
        ManifestImport.objects.filter(pk=mi.pk).update(attempts=imports.MAX_ATTEMPTS, heartbeat_at=stale)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_interrupted(mi, die_after_staging)
    assert ManifestRow.objects.filter(manifest_import=mi).count() == 2
    assert imports.manifest_import_run(mi.pk).status == ImportStatus.FAILED  # the sweeper's retry gives up
    assert not ManifestRow.objects.filter(manifest_import=mi).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_withdrawing_missing_assets_waits_for_an_apply_in_flight_and_then_refuses(licensor, corpus, monkeypatch):
    """Import B is applying (corpus locked, not committed) when A2's missing assets are withdrawn."""
    import_rows(licensor, corpus, [manifest_row(x) for x in "abc"])
    a2 = import_rows(licensor, corpus, [manifest_row(x) for x in "ab"])
    assert a2.missing == 1
    applying, release = threading.Event(), threading.Event()
    recount = imports.corpus_recount

    def held_recount(corpus_id):
        recount(corpus_id)
        applying.set()
        release.wait(10)

    monkeypatch.setattr(imports, "corpus_recount", held_recount)
    b = imports.manifest_upload(
        access=licensor, corpus=corpus, upload=upload("b.csv", manifest_csv([manifest_row(x) for x in "abcd"]))
    )

    def run_b():
        try:
            imports.manifest_import_run(b.pk)
        finally:
            connections.close_all()

    worker = threading.Thread(target=run_b)
    worker.start()
    assert applying.wait(10)
    threading.Timer(1.0, release.set).start()  # the withdrawal below must wait for B's commit
    with pytest.raises(ValidationError, match="A newer manifest has been imported since"):
        withdrawals.missing_withdraw(access=licensor, manifest_import=a2)
    worker.join(10)
    assert ManifestImport.objects.get(pk=b.pk).status == ImportStatus.DONE
    assert set(Asset.objects.filter(corpus=corpus).values_list("external_id", "status")) == {
        ("a", "active"), ("b", "active"), ("c", "active"), ("d", "active"),
    }  # fmt: skip


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_price_refresh_waits_for_a_withdrawal_changing_the_totals(licensor, corpus):
    """An offer edit refreshes the listing price after its commit; a withdrawal in flight must not be undone."""
    from marketplace.catalog.models import Corpus
    from marketplace.catalog.services import offers
    from marketplace.catalog.services.listing import corpus_refresh_price
    from tests.fixtures.market import OFFER_DATA

    import_rows(licensor, corpus, [manifest_row("big", size_bytes=str(10**11)), manifest_row("small")])
    plan = {"metric": "gb", "tiers": [{"up_to": None, "unit_price": 100}]}
    version = offers.offer_save(access=licensor, corpus=corpus, data={**OFFER_DATA, "price_plan": plan})
    offers.offer_publish(access=licensor, offer=version.offer)
    big = Asset.objects.get(corpus=corpus, external_id="big").pk
    withdrawal = HeldTransaction(
        lambda: withdrawals.assets_withdraw(access=licensor, corpus=corpus, asset_ids=[big], reason="Rights lapsed")
    )

    def refresh():
        try:
            corpus_refresh_price(corpus.pk)
        finally:
            connections.close_all()

    refresher = threading.Thread(target=refresh)
    refresher.start()
    refresher.join(1)  # it waits for the withdrawal's corpus lock (it used to read the old totals and go on)
    withdrawal.commit()
    withdrawal.join()
    refresher.join(10)
    stored = Corpus.objects.get(pk=corpus.pk).prices_per_hour
    corpus_refresh_price(corpus.pk)  # from the committed totals alone
    assert stored == Corpus.objects.get(pk=corpus.pk).prices_per_hour


def test_royalty_shares_in_a_manifest_need_an_owner_or_admin_as_on_the_corpus_page(licensor, corpus):
    from marketplace.orgs.models import Organisation, OrgKind
    from tests.fixtures.market import access_for

    Organisation.objects.create(name="Partner", slug="partner", kind=OrgKind.LICENSOR)
    shared = manifest_row("a", co_owners="partner:99;northlight:1")
    manager = access_for(
        licensor.organisation, add_member(licensor.organisation, "cm@northlight.example", "catalog_manager")
    )
    refused = import_rows(manager, corpus, [shared, manifest_row("b")])
    assert refused.status == ImportStatus.INVALID and not Asset.objects.exists()
    assert list(ManifestRowError.objects.filter(manifest_import=refused).values_list("line", "field")) == [
        (2, "co_owners")
    ]
    assert import_rows(licensor, corpus, [shared, manifest_row("b")]).status == ImportStatus.DONE  # the owner may
    shares = {s["org"]: s["bp"] for s in Asset.objects.get(external_id="a").co_owners}
    assert shares == {"partner": 9900, "northlight": 100}
    # The manager re-imports the same shares, and edits everything else: fine. Changing them is not.
    same = import_rows(manager, corpus, [{**shared, "title": "Retitled"}, manifest_row("b")])
    assert (same.status, same.changed) == (ImportStatus.DONE, 1)
    moved = import_rows(manager, corpus, [manifest_row("a", co_owners="partner:1;northlight:99"), manifest_row("b")])
    assert moved.status == ImportStatus.INVALID
    assert {s["org"]: s["bp"] for s in Asset.objects.get(external_id="a").co_owners}["partner"] == 9900


def test_problems_found_in_staged_rows_name_the_row_external_id(licensor, corpus):
    """The import page and its errors CSV show each problem's external id where the row's id could be read: the
    checks that run on the staged rows (co-owners, exclusions kept from the stored asset) read it too."""
    from marketplace.orgs.models import Organisation, OrgKind
    from tests.fixtures.market import access_for

    Organisation.objects.create(name="Partner", slug="partner", kind=OrgKind.LICENSOR)
    import_rows(licensor, corpus, [manifest_row("a", duration_seconds="100", clip_exclusions="50-90:music")])
    manager = access_for(
        licensor.organisation, add_member(licensor.organisation, "cm@northlight.example", "catalog_manager")
    )
    shares = import_rows(manager, corpus, [manifest_row("a", duration_seconds="100", clip_exclusions="50-90:music",
                                                        co_owners="partner:100")])  # fmt: skip
    shorter = {k: v for k, v in manifest_row("a", duration_seconds="10").items() if k in REQUIRED_COLUMNS}
    kept = imports.manifest_import_run(
        imports.manifest_upload(
            access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv([shorter], columns=REQUIRED_COLUMNS))
        ).pk
    )
    for mi, field in ((shares, "co_owners"), (kept, "clip_exclusions")):
        assert mi.status == ImportStatus.INVALID
        errors = ManifestRowError.objects.filter(manifest_import=mi)
        assert list(errors.values_list("line", "field", "external_id")) == [(2, field, "a")]


def test_a_column_the_file_leaves_out_keeps_what_each_asset_has(licensor, corpus):
    """A re-upload of the required columns only (a title fix from another system) must not wipe rights data."""
    from marketplace.catalog.manifest import REQUIRED
    from marketplace.orgs.models import Organisation, OrgKind
    from tests.fixtures.market import access_for

    Organisation.objects.create(name="Partner", slug="partner", kind=OrgKind.LICENSOR)
    rich = manifest_row("a", language="fr", rights_expiry="2031-12-31", territories="FR;DE",
                        clip_exclusions="1-5:likeness", co_owners="partner:50;northlight:50")  # fmt: skip
    import_rows(licensor, corpus, [rich])
    stored = Asset.objects.values("language", "rights_expiry", "territories", "clip_exclusions", "co_owners").get()
    manager = access_for(
        licensor.organisation, add_member(licensor.organisation, "cm@northlight.example", "catalog_manager")
    )
    # A catalogue manager may send it too: co-owners left out are co-owners unchanged.
    slim = imports.manifest_upload(
        access=manager, corpus=corpus,
        upload=upload("m.csv", manifest_csv([{**rich, "title": "Retitled"}, manifest_row("b")], columns=REQUIRED)),
    )  # fmt: skip
    slim = imports.manifest_import_run(slim.pk)
    assert (slim.status, slim.added, slim.changed) == (ImportStatus.DONE, 1, 1)
    assert slim.kept_columns == ["language", "rights_expiry", "territories", "clip_exclusions", "co_owners"]
    a = Asset.objects.get(external_id="a")
    assert a.title == "Retitled"
    assert {k: getattr(a, k) for k in stored} == stored
    assert Asset.objects.get(external_id="b").language == ""  # a new asset takes the empty value
    # The same in JSON Lines: a key in no record is kept; present and empty, it clears.
    lines = [{k: v for k, v in rich.items() if k in REQUIRED} | {"title": "Again", "language": ""}]
    jsonl = imports.manifest_upload(
        access=licensor, corpus=corpus, upload=upload("m.jsonl", "".join(json.dumps(r) + "\n" for r in lines).encode())
    )
    jsonl = imports.manifest_import_run(jsonl.pk)
    assert jsonl.kept_columns == ["rights_expiry", "territories", "clip_exclusions", "co_owners"]
    a.refresh_from_db()
    assert (a.title, a.language, a.territories, a.co_owners) == (
        "Again", "", stored["territories"], stored["co_owners"]
    )  # fmt: skip
    # Unchanged when the columns it has agree.
    again = imports.manifest_import_run(
        imports.manifest_upload(
            access=licensor, corpus=corpus,
            upload=upload("m2.jsonl", "".join(json.dumps(r) + "\n" for r in lines).encode()),
        ).pk
    )  # fmt: skip
    assert (again.changed, again.unchanged) == (0, 1)


def test_a_json_lines_record_without_a_key_keeps_what_its_asset_has(licensor, corpus):
    """Exporters leave out empty keys: a record without co_owners, beside one with them, must not clear them."""
    from marketplace.orgs.models import Organisation, OrgKind

    Organisation.objects.create(name="Partner", slug="partner", kind=OrgKind.LICENSOR)
    shared = {"co_owners": "partner:50;northlight:50", "clip_exclusions": "1-5:likeness", "territories": "FR"}
    import_rows(licensor, corpus, [manifest_row("a", **shared), manifest_row("b", **shared)])
    stored = Asset.objects.values("co_owners", "clip_exclusions", "territories").get(external_id="b")
    lines = [
        {**manifest_row("a", **shared), "title": "A again"},
        {k: v for k, v in manifest_row("b", title="B again").items() if k in REQUIRED_COLUMNS},
    ]
    mi = imports.manifest_import_run(
        imports.manifest_upload(
            access=licensor,
            corpus=corpus,
            upload=upload("m.jsonl", "".join(json.dumps(r) + "\n" for r in lines).encode()),
        ).pk
    )
    assert (mi.status, mi.changed, mi.kept_columns) == (ImportStatus.DONE, 2, [])  # record a has every key
    b = Asset.objects.get(external_id="b")
    assert b.title == "B again"
    assert {k: getattr(b, k) for k in stored} == stored


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_catalogue_manager_may_leave_co_owners_out_of_some_rows(licensor, corpus, fmt):
    from marketplace.orgs.models import Organisation, OrgKind
    from tests.fixtures.market import access_for

    Organisation.objects.create(name="Partner", slug="partner", kind=OrgKind.LICENSOR)
    import_rows(licensor, corpus, [manifest_row("a", co_owners="partner:50;northlight:50")])
    manager = access_for(
        licensor.organisation, add_member(licensor.organisation, "cm@northlight.example", "catalog_manager")
    )
    row = {k: v for k, v in manifest_row("a", title="Renamed").items() if k in REQUIRED_COLUMNS}
    content = manifest_csv([row], columns=REQUIRED_COLUMNS) if fmt == "csv" else (json.dumps(row) + "\n").encode()
    mi = imports.manifest_import_run(
        imports.manifest_upload(access=manager, corpus=corpus, upload=upload(f"m.{fmt}", content)).pk
    )
    assert (mi.status, mi.changed) == (ImportStatus.DONE, 1)
    assert Asset.objects.get(external_id="a").co_owners != []


def test_a_json_lines_key_given_twice_is_a_row_error(licensor, corpus):
    text = json.dumps(manifest_row("a"))[:-1] + ', "external_id": "b"}\n'
    mi = imports.manifest_import_run(
        imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.jsonl", text.encode())).pk
    )
    assert mi.status == ImportStatus.INVALID and not Asset.objects.exists()
    assert list(ManifestRowError.objects.filter(manifest_import=mi).values_list("line", "message")) == [
        (1, "line 1 is not valid JSON: the key 'external_id' appears twice")
    ]


def test_every_repeat_of_an_id_is_reported_in_chunks(licensor, corpus, monkeypatch):
    monkeypatch.setattr(imports, "ERROR_CHUNK", 500)  # errors are stored a chunk at a time, never all held at once
    monkeypatch.setattr(imports, "REPEATS_PAGE", 300)  # and read a page at a time
    rows = [manifest_row("dup") for _ in range(1_201)] + [manifest_row("x"), manifest_row("x")]
    mi = import_rows(licensor, corpus, rows)
    assert (mi.status, mi.error_count) == (ImportStatus.INVALID, 1_201)
    errors = ManifestRowError.objects.filter(manifest_import=mi).order_by("line")
    assert errors.first().message == "external_id 'dup' already appears on line 2"
    assert errors.last().message == "external_id 'x' already appears on line 1203"
    assert errors.last().line == 1_204
    assert not Asset.objects.exists()


def test_an_external_id_with_a_control_character_is_refused_and_blank_lines_are_skipped(licensor, corpus):
    # Quoted, a tab or a line break is valid CSV; in an id it would make two ids look one in every list.
    rows = [manifest_row(i, storage_uri="s3://media/x.mp4") for i in ("a\tb", "c\nd", "e\x85f", "fine")]
    content = manifest_csv(rows) + b"   \n"
    mi = imports.manifest_import_run(
        imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.csv", content)).pk
    )
    errors = list(ManifestRowError.objects.filter(manifest_import=mi).order_by("line").values_list("line", "message"))
    assert [line for line, _ in errors] == [2, 3, 6]  # the second row spans three lines (its id and its title)
    assert all("external_id contains a control character" in message for _, message in errors)
    assert not Asset.objects.exists()


COMPOSED, DECOMPOSED = "caf\u00e9-1", "cafe\u0301-1"  # "café-1" twice: é as one character, and as e + accent


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_external_id_names_one_asset_in_whichever_unicode_form_it_comes(licensor, corpus, fmt):
    """A file exported on one system and re-uploaded from another must not turn an asset into a missing one and a
    new one; two rows that spell one id two ways are the same id twice."""

    def run(rows):
        same = {"storage_uri": "s3://media/cafe.mp4", "sha256": sha("cafe")}  # the title stays as each row has it
        rows = [{**row, **same} for row in rows]
        content = manifest_csv(rows) if fmt == "csv" else "".join(json.dumps(r) + "\n" for r in rows).encode()
        return imports.manifest_import_run(
            imports.manifest_upload(access=licensor, corpus=corpus, upload=upload(f"m.{fmt}", content)).pk
        )

    first = run([manifest_row(DECOMPOSED, title="Café"), manifest_row("plain")])
    assert (first.status, first.added) == (ImportStatus.DONE, 2)
    assert set(Asset.objects.values_list("external_id", flat=True)) == {COMPOSED, "plain"}
    again = run([manifest_row(COMPOSED, title="Café"), manifest_row("plain")])
    assert (again.added, again.unchanged, again.missing) == (0, 2, 0)
    twice = run([manifest_row(COMPOSED), manifest_row(DECOMPOSED, title="Other")])
    assert twice.status == ImportStatus.INVALID
    line = 2 if fmt == "csv" else 1  # the first record's line: after the CSV's header
    assert list(ManifestRowError.objects.filter(manifest_import=twice).values_list("line", "message")) == [
        (line + 1, f"external_id '{COMPOSED}' already appears on line {line}")
    ]
    # Every other way in looks an id up in the same form.
    from marketplace.catalog.selectors import corpus_assets
    from marketplace.licensing.scope import clean_scope, scope_assets

    assert [a.external_id for a in corpus_assets(corpus, q="cafe\u0301")] == [COMPOSED]
    scope = clean_scope({"type": "filter", "filters": {"external_ids": [DECOMPOSED]}})
    assert scope["filters"]["external_ids"] == [COMPOSED]
    assert [
        a.external_id for a in scope_assets(corpus, {"type": "filter", "filters": {"external_ids": [DECOMPOSED]}})
    ] == [COMPOSED]
    withdrawals.assets_withdraw_listed(access=licensor, corpus=corpus, external_ids=[DECOMPOSED], reason="Takedown")
    assert Asset.objects.get(external_id=COMPOSED).status == AssetStatus.WITHDRAWN


def test_both_roads_refuse_invisible_ids_and_uris_without_a_file_alike(licensor, corpus):
    """On PostgreSQL a CSV is checked in SQL first: what it passes must be what Python passes."""
    rows = [
        manifest_row("zw\u200bsp", storage_uri="s3://media/a.mp4"),  # a zero-width space
        manifest_row("ls\u2028x", storage_uri="s3://media/b.mp4"),  # a line separator
        manifest_row("ok-\u00e9", storage_uri="s3://media/c.mp4"),
        manifest_row("nobucket", storage_uri="s3:///"),
        manifest_row("nokey", storage_uri="gs://bucket/"),
        manifest_row("local", storage_uri="file:///srv/media/d.mp4"),
    ]
    mi = import_rows(licensor, corpus, rows)
    assert mi.status == ImportStatus.INVALID
    assert list(ManifestRowError.objects.filter(manifest_import=mi).order_by("line").values_list("line", "field")) == [
        (2, "external_id"), (3, "external_id"), (5, "storage_uri"), (6, "storage_uri"),
    ]  # fmt: skip
    fixed = import_rows(licensor, corpus, [rows[2], rows[5]])
    assert (fixed.status, fixed.added) == (ImportStatus.DONE, 2)
    assert dict(Asset.objects.values_list("external_id", "storage_uri")) == {
        "ok-\u00e9": "s3://media/c.mp4", "local": "file:///srv/media/d.mp4",
    }  # fmt: skip


def test_ids_stored_in_another_unicode_form_are_converted_unless_taken(licensor, corpus):
    import importlib

    from django.apps import apps

    import_rows(licensor, corpus, [manifest_row(i, storage_uri="s3://media/x.mp4") for i in ("x-\u00e9", "y", "z")])
    # As an earlier version stored them: one id decomposed, one decomposed whose composed form is taken.
    Asset.objects.filter(external_id="y").update(external_id="x\u0301")  # NFC: "x" + accent stays as it is
    Asset.objects.filter(external_id="z").update(external_id="e\u0301-z")
    Asset.objects.create(**{**_asset_fields(corpus), "external_id": "\u00e9-z2"})
    Asset.objects.filter(external_id="\u00e9-z2").update(external_id="e\u0301-z2")
    Asset.objects.create(**{**_asset_fields(corpus), "external_id": "\u00e9-z2"})
    migration = importlib.import_module("marketplace.catalog.migrations.0024_external_ids_nfc")
    migration.ids_to_nfc(apps, None)
    assert sorted(Asset.objects.values_list("external_id", flat=True)) == sorted(
        ["x-\u00e9", "x\u0301", "\u00e9-z", "e\u0301-z2", "\u00e9-z2"]
    )


def _asset_fields(corpus) -> dict:
    return {
        "corpus": corpus, "title": "t", "duration_seconds": 1, "width": 1, "height": 1, "fps": 1, "codec": "h264",
        "size_bytes": 1, "sha256": "0" * 64, "storage_uri": "s3://media/x.mp4", "territories": [],
        "clip_exclusions": [], "co_owners": [],
    }  # fmt: skip


def test_row_errors_found_before_a_file_error_are_kept(licensor, corpus, monkeypatch):
    from marketplace.catalog import manifest

    monkeypatch.setattr(manifest, "LINE_LIMIT", 2_000)
    content = manifest_csv([manifest_row("a", duration_seconds="-1"), manifest_row("b")]) + b"x" * 200_000 + b"\n"
    mi = imports.manifest_import_run(
        imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.csv", content)).pk
    )
    assert mi.status == ImportStatus.INVALID and "longer than" in mi.file_error
    assert mi.error_count == 1
    assert list(ManifestRowError.objects.filter(manifest_import=mi).values_list("line", "field")) == [
        (2, "duration_seconds")
    ]


def test_a_repeated_id_is_reported_even_when_a_copy_has_other_errors(licensor, corpus):
    """Fixing the bad copy must not reveal a duplicate that one pass could have named."""
    rows = [manifest_row("a1", sha256="abc"), manifest_row("a1"), manifest_row("b"), manifest_row("b", width="0")]
    mi = import_rows(licensor, corpus, rows)
    errors = list(ManifestRowError.objects.filter(manifest_import=mi).order_by("line", "field").values_list(
        "line", "field"
    ))  # fmt: skip
    assert errors == [(2, "sha256"), (3, "external_id"), (5, "external_id"), (5, "width")]
    messages = dict(
        ManifestRowError.objects.filter(manifest_import=mi, field="external_id").values_list("line", "message")
    )
    assert messages[3] == "external_id 'a1' already appears on line 2"
    assert messages[5] == "external_id 'b' already appears on line 4"
    assert mi.error_count == 4 and not Asset.objects.exists()


def test_the_file_of_a_refused_import_is_deleted_after_a_week_and_an_applied_one_kept(licensor, corpus, client):
    from django.urls import reverse
    from django.utils import timezone

    applied = import_rows(licensor, corpus, [manifest_row("a")])
    refused = import_rows(licensor, corpus, [manifest_row("b", width="0")], name="bad.csv")
    assert refused.status == ImportStatus.INVALID
    path = refused.file.name
    assert refused.file.storage.exists(path)
    assert imports.manifest_files_prune() == 0  # not a week yet
    later = timezone.now() + timezone.timedelta(days=8)
    assert imports.manifest_files_prune(now=later) == 1
    refused.refresh_from_db()
    assert not refused.file and not refused.file.storage.exists(path)
    assert ManifestRowError.objects.filter(manifest_import=refused).count() == 1  # its problems stay
    applied.refresh_from_db()
    assert applied.file and applied.file.storage.exists(applied.file.name)
    client.force_login(licensor.user)
    page = client.get(reverse("catalog:import", args=[licensor.organisation.slug, refused.pk])).content.decode()
    assert "The uploaded file has been deleted, as refused uploads are after 7 days" in page
    assert imports.manifest_files_prune(now=later) == 0


def test_a_repeated_id_counts_a_row_that_is_bad_for_any_reason(licensor, corpus):
    # An unknown key is found outside the field checks; the row's id still counts.
    lines = [{**manifest_row("a"), "tittle": "typo"}, manifest_row("a")]
    content = "".join(json.dumps(r) + "\n" for r in lines).encode()
    mi = imports.manifest_import_run(
        imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.jsonl", content)).pk
    )
    errors = list(ManifestRowError.objects.filter(manifest_import=mi).order_by("line").values_list("line", "field"))
    assert errors == [(1, "tittle"), (2, "external_id")]


def test_stored_exclusions_are_brought_to_the_one_order(licensor, corpus):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("marketplace.catalog.migrations.0017_exclusions_in_one_order")
    import_rows(licensor, corpus, [manifest_row("a", clip_exclusions="1-2:music;1-5:likeness")])
    canonical = Asset.objects.get().clip_exclusions
    old_order = [canonical[1], canonical[0], canonical[0]]  # as stored before: by start only, repeats kept
    Asset.objects.update(clip_exclusions=old_order)
    migration.reorder(apps, None)
    assert Asset.objects.get().clip_exclusions == canonical
    again = import_rows(licensor, corpus, [manifest_row("a", clip_exclusions="1-5:likeness;1-2:music")])
    assert (again.changed, again.unchanged) == (0, 1)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_kept_clip_exclusions_must_fit_a_shorter_duration(licensor, corpus, fmt):
    """A file that leaves clip_exclusions out keeps the stored ones: a new duration they overrun is a row error."""
    stored = [
        manifest_row("a", duration_seconds="5000", clip_exclusions="3660-3720:music"),
        manifest_row("b", duration_seconds="30", clip_exclusions="10-20:music"),
    ]
    import_rows(licensor, corpus, stored)
    rows = [
        {k: v for k, v in manifest_row("a", duration_seconds="100").items() if k in REQUIRED_COLUMNS},
        {k: v for k, v in manifest_row("b", duration_seconds="25").items() if k in REQUIRED_COLUMNS},  # still fits
    ]
    content = (
        manifest_csv(rows, columns=REQUIRED_COLUMNS)
        if fmt == "csv"
        else "".join(json.dumps(r) + "\n" for r in rows).encode()
    )
    mi = imports.manifest_import_run(
        imports.manifest_upload(access=licensor, corpus=corpus, upload=upload(f"m.{fmt}", content)).pk
    )
    assert mi.status == ImportStatus.INVALID
    errors = list(ManifestRowError.objects.filter(manifest_import=mi).values_list("line", "field", "message"))
    assert errors == [
        (
            2 if fmt == "csv" else 1,  # the CSV's first line is its header
            "clip_exclusions",
            "clip_exclusions kept from the stored asset: exclusion 3660-3720 runs past the end of the video (100 s); "
            "send the clip_exclusions column with exclusions that fit the new duration",
        )
    ]
    assert Asset.objects.get(external_id="a").duration_seconds == 5000  # nothing changed


def test_a_whole_number_in_exponent_form_imports_on_every_road(licensor, corpus):
    mi = import_rows(licensor, corpus, [manifest_row("x1", size_bytes="4.5e7", width="1.92e3"), manifest_row("x2")])
    assert (mi.status, mi.added) == (ImportStatus.DONE, 2)
    assert Asset.objects.values_list("size_bytes", "width").get(external_id="x1") == (45_000_000, 1920)


def test_an_import_counts_the_listed_assets_whose_rights_have_expired(licensor, corpus):
    from django.utils import timezone

    today = timezone.localdate()
    rows = [
        manifest_row("lapsed", rights_expiry=(today - timedelta(days=1)).isoformat()),
        manifest_row("last-day", rights_expiry=today.isoformat()),  # the rights run through their last day
        manifest_row("open"),
        manifest_row("long", rights_expiry="2099-12-31"),
    ]
    mi = import_rows(licensor, corpus, rows)
    assert (mi.status, mi.added, mi.rights_expired) == ("done", 4, 1)
    # A file without the column keeps each asset's stored expiry, and so its warning.
    without = [{k: v for k, v in row.items() if k != "rights_expiry"} for row in rows]
    content = manifest_csv(without, list(without[0]))
    mi = imports.manifest_import_run(
        imports.manifest_upload(access=licensor, corpus=corpus, upload=upload("m.csv", content)).pk
    )
    assert (mi.status, mi.unchanged, mi.kept_columns, mi.rights_expired) == ("done", 4, ["rights_expiry"], 1)
    # Renewed in the next file: nothing left to warn of; a withdrawn asset is not counted.
    lapsed = Asset.objects.get(corpus=corpus, external_id="lapsed")
    mi = import_rows(licensor, corpus, [{**rows[0], "rights_expiry": "2030-01-01"}, *rows[1:]])
    assert (mi.changed, mi.rights_expired) == (1, 0)
    withdrawals.assets_withdraw(access=licensor, corpus=corpus, asset_ids=[lapsed.pk], reason="Claim received")
    assert import_rows(licensor, corpus, rows).rights_expired == 0


def test_assets_whose_rights_have_expired_are_withdrawn_together(licensor, corpus, other_licensor):
    rows = [manifest_row(f"old{i}", rights_expiry="2020-01-31") for i in range(3)] + [manifest_row("new")]
    import_rows(licensor, corpus, rows)
    with pytest.raises(Corpus.DoesNotExist):  # another organisation's corpus
        withdrawals.rights_expired_withdraw(access=other_licensor, corpus=corpus)
    withdrawal = withdrawals.rights_expired_withdraw(access=licensor, corpus=corpus)
    assert (withdrawal.scope, withdrawal.asset_count) == ("expired", 3)
    assert withdrawal.reason.startswith("Rights expired: they ran out before ")
    statuses = dict(Asset.objects.filter(corpus=corpus).values_list("external_id", "status"))
    assert statuses == {"old0": "withdrawn", "old1": "withdrawn", "old2": "withdrawn", "new": "active"}
    assert totals(corpus)[0] == 1
    event = DomainEvent.objects.filter(type="asset.withdrawn").latest("id")
    assert (event.payload["scope"], event.payload["asset_count"]) == ("expired", 3)
    with pytest.raises(ValidationError, match="No active asset of this corpus has rights that have expired"):
        withdrawals.rights_expired_withdraw(access=licensor, corpus=corpus)


def test_an_asset_cannot_name_territories_past_its_corpus_rights(licensor):
    corpus = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "territory": ["FR", "DE"]})
    rows = [
        manifest_row("fr", territories="FR"),
        manifest_row("us", territories="US;FR"),
        manifest_row("world", territories="WW"),
        manifest_row("open"),
    ]
    mi = import_rows(licensor, corpus, rows)
    assert mi.status == ImportStatus.INVALID
    found = list(ManifestRowError.objects.filter(manifest_import=mi).values_list("line", "field", "message"))
    assert [(line, field) for line, field, _ in found] == [(3, "territories"), (4, "territories")]
    assert found[0][2].startswith("territories US beyond the corpus' rights (DE, FR)")
    assert found[1][2].startswith("territories WW (worldwide) beyond the corpus' rights (DE, FR)")
    assert not Asset.objects.filter(corpus=corpus).exists()
    mi = import_rows(licensor, corpus, [rows[0], rows[3]])
    assert (mi.status, mi.added) == ("done", 2)
    # The corpus cannot then narrow below what its assets name.
    with pytest.raises(ValidationError) as refused:
        corpora.corpus_update(access=licensor, corpus=corpus, data={**CORPUS_DATA, "territory": ["DE"]})
    assert "Active assets name FR in their territories" in refused.value.message_dict["territory"][0]
    corpora.corpus_update(access=licensor, corpus=corpus, data={**CORPUS_DATA, "territory": ["FR"]})


@pytest.mark.parametrize("name", ["manifest.csv", "manifest.jsonl"])
def test_a_row_with_other_problems_is_told_of_its_territories_in_the_same_pass(licensor, name):
    corpus = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "territory": ["FR", "DE"]})
    rows = [manifest_row("us", territories="US", title="", sha256="xyz"), manifest_row("fr", territories="FR")]
    content = manifest_csv(rows) if name.endswith(".csv") else b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    mi = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload(name, content))
    mi = imports.manifest_import_run(mi.pk)
    assert mi.status == ImportStatus.INVALID
    found = list(ManifestRowError.objects.filter(manifest_import=mi).values_list("line", "field"))
    line = 2 if name.endswith(".csv") else 1  # a CSV's first record is on the line after its header
    assert sorted(found) == [(line, "sha256"), (line, "territories"), (line, "title")]


def test_a_territory_narrowed_while_the_rows_were_checked_stops_the_apply(licensor, corpus, monkeypatch):
    mi = imports.manifest_upload(
        access=licensor, corpus=corpus, upload=upload("m.csv", manifest_csv([manifest_row("de", territories="DE")]))
    )
    real_check = imports._check_territories_within_corpus

    def narrowed_meanwhile(manifest_import):
        found = real_check(manifest_import)  # the corpus is still worldwide here: nothing found
        Corpus.objects.filter(pk=corpus.pk).update(territory=["FR"])
        return found

    monkeypatch.setattr(imports, "_check_territories_within_corpus", narrowed_meanwhile)
    mi = imports.manifest_import_run(mi.pk)
    assert (mi.status, mi.file_error) == (ImportStatus.INVALID, imports.TERRITORY_NARROWED_MESSAGE)
    assert not Asset.objects.filter(corpus=corpus).exists()


@pytest.mark.parametrize("name", ["manifest-example.csv", "manifest-example.jsonl"])
def test_the_example_manifests_import_into_a_corpus_with_narrow_rights(licensor, name):
    """The examples offered for download import as they are into any corpus, one licensed for Germany alone too."""
    from pathlib import Path

    corpus = corpora.corpus_create(access=licensor, data={**CORPUS_DATA, "territory": ["DE"]})
    static = Path(__file__).resolve().parents[3] / "marketplace" / "catalog" / "static" / "catalog"
    mi = imports.manifest_upload(access=licensor, corpus=corpus, upload=upload(name, (static / name).read_bytes()))
    mi = imports.manifest_import_run(mi.pk)
    assert (mi.status, mi.added, mi.kept_columns) == (ImportStatus.DONE, 3, [])
    assert list(Asset.objects.filter(corpus=corpus).values_list("territories", flat=True)) == [[], [], []]


def test_the_import_page_shows_what_changed_field_by_field(client, licensor, corpus):
    import_rows(licensor, corpus, [manifest_row("a0"), manifest_row("a1", duration_seconds="30.5")])
    rows = [
        manifest_row("a0", territories="FR;DE", sha256="ab" * 32),
        manifest_row("a1", duration_seconds="31", language=""),
    ]
    second = import_rows(licensor, corpus, rows + [manifest_row(f"n{i}") for i in range(25)])
    assert [c["fields"] for c in second.changes_sample["changed"]] == [
        {"sha256": [sha("a0"), "ab" * 32], "territories": [[], ["DE", "FR"]]},
        {"duration_seconds": ["30.5", "31"], "language": ["en", ""]},
    ]
    assert second.changes_sample["added"] == sorted(f"n{i}" for i in range(25))[:20]  # by external id
    client.force_login(licensor.user)
    page = client.get(reverse("catalog:import", args=[licensor.organisation.slug, second.pk])).content.decode()
    assert "<td>territories</td><td>the corpus&#x27; territory</td><td>DE FR</td>" in page
    assert "<td>duration_seconds</td><td>30.5</td><td>31</td>" in page
    assert "<td>language</td><td>en</td><td>—</td>" in page
    assert f'<td title="{"ab" * 32}">{"ab" * 6}…</td>' in page  # a hash by its start, whole on hover
    assert 'Added, the first 20 of 25 by external id: <a class="nowrap" href=' in page and ">n4</a>." in page
    # All of them, past the twenty the page names: the latest import's added and changed assets as CSVs.
    added_csv = reverse("catalog:import_added_csv", args=[licensor.organisation.slug, second.pk])
    assert added_csv in page
    added = b"".join(client.get(added_csv).streaming_content).decode().splitlines()
    assert added == ["external_id,title", *sorted(f"n{i},Clip n{i}" for i in range(25))]
    changed_csv = reverse("catalog:import_changed_csv", args=[licensor.organisation.slug, second.pk])
    changed = b"".join(client.get(changed_csv).streaming_content).decode().splitlines()
    assert changed == ["external_id,title", "a0,Clip a0", "a1,Clip a1"]
    third = import_rows(licensor, corpus, rows)  # a newer import: the older one no longer lists what it did
    assert client.get(added_csv).status_code == 404
    assert b"".join(
        client.get(reverse("catalog:import_added_csv", args=[licensor.organisation.slug, third.pk])).streaming_content
    ).decode().splitlines() == ["external_id,title"]
