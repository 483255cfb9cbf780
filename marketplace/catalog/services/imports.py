"""Manifest imports: upload, validate, stage and apply.

The job streams the file once, validating every row and staging the valid ones
(``COPY`` on PostgreSQL), with progress committed as it goes. Checks that need
the whole file (duplicate ids) run in SQL on the staged rows. If anything is
wrong, nothing changes: the errors are stored for the page and the CSV. If all
is well, one transaction upserts the assets by external id and recomputes the
corpus totals; a crash before that commit leaves the catalogue untouched, and a
retry starts over from the file.

Each run is an attempt that owns the import until it finishes: a second
delivery of the same job leaves a running attempt alone, and an attempt that
was presumed dead and replaced stops at its next write instead of mixing its
rows with its successor's.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from marketplace.catalog.manifest import (
    KEEP_BITS,
    AssetRow,
    ManifestFileError,
    RowError,
    clip_exclusions,
    kept_columns,
    read_manifest,
    territories_beyond,
)
from marketplace.catalog.models import (
    Asset,
    AssetStatus,
    Corpus,
    CorpusStatus,
    ImportStatus,
    ManifestImport,
    ManifestRow,
    ManifestRowError,
)
from marketplace.catalog.services import csv_copy
from marketplace.catalog.services.listing import corpus_refresh_price
from marketplace.catalog.services.totals import TotalsTooLarge, corpus_recount
from marketplace.catalog.vocab import WORLDWIDE, codes_beyond
from marketplace.orgs.access import OrgAccess, Perm
from marketplace.orgs.models import Membership, Organisation, OrgKind

log = logging.getLogger(__name__)

STAGE_CHUNK = 5_000
ERROR_CHUNK = 2_000
MAX_ATTEMPTS = 3
STALE_SECONDS = 600  # a running attempt silent this long is presumed dead
# The progress bar while rows are read and checked. Applying follows in one transaction, shown without a
# percentage. On the COPY road reading is quick and checking is the work: SQL first, then Python for the rest.
CHECKED = 95
COPY_READ, COPY_SQL_CHECKED = 20, 60
RUNNING = (ImportStatus.VALIDATING, ImportStatus.APPLYING)
FINISHED = (ImportStatus.DONE, ImportStatus.INVALID, ImportStatus.FAILED)
STAGE_COLUMNS = (
    "manifest_import_id", "line", "external_id", "title", "duration_seconds", "width", "height", "fps", "codec",
    "size_bytes", "sha256", "storage_uri", "language", "rights_expiry", "territories", "clip_exclusions",
    "co_owners", "kept",
)  # fmt: skip


WITHDRAWN_MESSAGE = "The corpus was withdrawn before this manifest was applied; nothing was changed."
FOREGROUND_STOPPED_MESSAGE = (
    "The import_manifest command running this import stopped before it finished; nothing was changed. Run it again "
    "to import the file."
)
LOST_FILE_MESSAGE = (
    "The uploaded file is no longer in storage, so it cannot be read; nothing was changed. Upload it again."
)


def max_manifest_bytes() -> int:
    return getattr(settings, "MANIFEST_MAX_BYTES", 10**9)


def manifest_format(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".xlsx", ".xls", ".ods", ".numbers"):
        raise ValidationError(
            {"file": f"{filename!r} is a spreadsheet, not a .csv or .jsonl manifest: export it as CSV (in Excel, "
             "'CSV UTF-8'), then upload that file."}
        )  # fmt: skip
    raise ValidationError({"file": f"{filename!r} is not a .csv or .jsonl manifest."})


def human_size(size: int) -> str:
    """Decimal units (1 GB = 10^9 bytes), the units that per-GB prices are charged in (pricing.py)."""
    scaled = float(size)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if unit == "bytes" and abs(scaled) < 1000:
            return f"{scaled:,.0f} bytes"
        if unit != "bytes" and (abs(scaled) < 999.95 or unit == "TB"):  # 999.95 would read "1,000.0"
            return f"{scaled:,.1f} {unit}"
        scaled /= 1000
    raise AssertionError("unreachable: the last unit returns")


def check_size(size: int) -> None:
    limit = max_manifest_bytes()
    if size > limit:
        raise ValidationError(
            {
                "file": f"The manifest is {human_size(size)}; the limit is {human_size(limit)}. "
                "Split it into smaller files."
            }
        )


def manifest_upload(
    *, access: OrgAccess, corpus: Corpus, upload: UploadedFile | File, enqueue: bool = True
) -> ManifestImport:
    """Store an uploaded manifest and queue its import (``enqueue=False``: the caller runs it itself, once: if it
    stops without a word, the import fails rather than being taken up by the sweeper)."""
    access.require(Perm.MANAGE_CATALOG)
    if corpus.organisation_id != access.organisation.pk:
        raise ValidationError("This corpus belongs to another organisation.")
    if corpus.status == CorpusStatus.WITHDRAWN:
        raise ValidationError("This corpus has been withdrawn; create a new corpus to list these assets again.")
    fmt = manifest_format(upload.name or "")
    check_size(upload.size or 0)
    if not upload.size:
        raise ValidationError({"file": "The file is empty."})
    with transaction.atomic():
        manifest_import = ManifestImport.objects.create(
            corpus=corpus,
            uploaded_by=access.user,
            file=upload,
            original_name=PurePath(upload.name or "manifest").name[:255],
            format=fmt,
            size_bytes=upload.size,
            run_in_foreground=not enqueue,
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(manifest_import.pk))
    return manifest_import


def _enqueue(import_id: int) -> None:
    from marketplace.catalog.tasks import run_manifest_import

    try:
        run_manifest_import.delay(import_id)
    except Exception:  # the sweeper picks up imports whose enqueue was lost
        log.exception("could not enqueue manifest import %s; the sweeper will retry", import_id)


def licensor_slugs() -> frozenset[str]:
    return frozenset(Organisation.objects.filter(kind=OrgKind.LICENSOR).values_list("slug", flat=True))


class Superseded(Exception):
    """Another attempt owns this import now: this one stops without writing anything more."""


def _progress(mi: ManifestImport, **fields) -> None:
    """Record progress and the heartbeat; stops an attempt that was replaced meanwhile."""
    owned = ManifestImport.objects.filter(pk=mi.pk, attempts=mi.attempts, status__in=RUNNING)
    if not owned.update(heartbeat_at=timezone.now(), **fields):
        raise Superseded(mi.pk)


def _share(done: int, total: int, start: int, end: int) -> int:
    return start + (end - start) * min(done, total) // max(total, 1)


def _report(mi: ManifestImport, progress, percent: int, phase: str, **fields) -> None:
    """Progress for the page (with the heartbeat) and for the command line's ``progress(percent, phase)``."""
    _progress(mi, progress=percent, **fields)
    if progress:
        progress(percent, phase)


def _hold(mi: ManifestImport) -> None:
    """Inside a transaction: lock the import if this attempt still owns it; a new claim then waits for us."""
    if not ManifestImport.objects.select_for_update().filter(pk=mi.pk, attempts=mi.attempts, status__in=RUNNING):
        raise Superseded(mi.pk)


def _json(items: list) -> str:
    return json.dumps(items) if items else "[]"


def _stage(import_id: int, rows: list[AssetRow]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        sql = f"COPY catalog_manifestrow ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for r in rows:
                copy.write_row(
                    (
                        import_id, r.line, r.external_id, r.title, r.duration_seconds, r.width, r.height, r.fps,
                        r.codec, r.size_bytes, r.sha256, r.storage_uri, r.language, r.rights_expiry,
                        _json(r.territories), _json(r.clip_exclusions), _json(r.co_owners), r.kept,
                    )
                )  # fmt: skip
    else:
        ManifestRow.objects.bulk_create(
            [
                ManifestRow(
                    manifest_import_id=import_id,
                    line=r.line,
                    external_id=r.external_id,
                    title=r.title,
                    duration_seconds=r.duration_seconds,
                    width=r.width,
                    height=r.height,
                    fps=r.fps,
                    codec=r.codec,
                    size_bytes=r.size_bytes,
                    sha256=r.sha256,
                    storage_uri=r.storage_uri,
                    language=r.language,
                    rights_expiry=r.rights_expiry,
                    territories=r.territories,
                    clip_exclusions=r.clip_exclusions,
                    co_owners=r.co_owners,
                    kept=r.kept,
                )
                for r in rows
            ],
            batch_size=500,
        )


def _store_errors(import_id: int, errors: Iterable[RowError]) -> int:
    objs = [
        ManifestRowError(
            manifest_import_id=import_id, line=e.line, field=e.field, message=e.message, external_id=e.external_id
        )
        for e in errors
    ]
    ManifestRowError.objects.bulk_create(objs, batch_size=1000)
    return len(objs)


class _Staging:
    """One import's valid rows and row errors, written in chunks."""

    def __init__(self, mi: ManifestImport) -> None:
        self.mi = mi
        self.rows: list[AssetRow] = []
        self.errors: list[RowError] = []
        self.error_count = 0

    def add(self, row: AssetRow | None, errors: list[RowError]) -> bool:
        """Keep one row's outcome; True when a chunk was written (a moment to report progress)."""
        if row is not None:
            self.rows.append(row)
        self.errors.extend(errors)
        if len(self.rows) < STAGE_CHUNK and len(self.errors) < ERROR_CHUNK:
            return False
        self.flush()
        return True

    def flush(self) -> int:
        """Write what is pending; returns the errors stored so far."""
        with transaction.atomic():
            _hold(self.mi)
            _stage(self.mi.pk, self.rows)
            self.error_count += _store_errors(self.mi.pk, self.errors)
        self.rows, self.errors = [], []
        return self.error_count


def _claim(import_id: int) -> ManifestImport | None:
    with transaction.atomic():
        mi = ManifestImport.objects.select_for_update().filter(pk=import_id).first()
        if mi is None or mi.finished:
            return None
        fresh = timezone.now() - timezone.timedelta(seconds=STALE_SECONDS)
        if mi.status in RUNNING and mi.heartbeat_at and mi.heartbeat_at > fresh:
            return None  # another worker is on it (a second delivery of the same job)
        if mi.run_in_foreground and mi.attempts:
            # Its process died without a word (kill -9, out of memory): whoever ran it saw it stop, and it is not
            # for the sweeper to apply the file now.
            given_up = FOREGROUND_STOPPED_MESSAGE
        elif mi.attempts >= MAX_ATTEMPTS:
            given_up = f"The import stopped {mi.attempts} times without finishing; upload the file again."
        else:
            given_up = ""
        if given_up:
            mi.status = ImportStatus.FAILED
            mi.file_error = given_up
            mi.finished_at = timezone.now()
            mi.save(update_fields=["status", "file_error", "finished_at"])
            ManifestRow.objects.filter(manifest_import_id=import_id).delete()  # what the last attempt staged
            return None
        mi.status = ImportStatus.VALIDATING
        mi.attempts += 1
        mi.started_at = mi.started_at or timezone.now()
        mi.heartbeat_at = timezone.now()
        mi.progress = mi.rows_seen = mi.error_count = 0
        mi.file_error = ""
        mi.save()
        # A retry starts over: drop whatever the last attempt staged.
        ManifestRow.objects.filter(manifest_import_id=import_id).delete()
        ManifestRowError.objects.filter(manifest_import_id=import_id).delete()
    return mi


def manifest_import_run(import_id: int, *, progress=None) -> ManifestImport | None:
    """Run an import to the end. Safe to call again after a crash: it starts over."""
    mi = _claim(import_id)
    if mi is None:
        return ManifestImport.objects.filter(pk=import_id).first()
    try:
        if Corpus.objects.filter(pk=mi.corpus_id, status=CorpusStatus.WITHDRAWN).exists():
            _finish(mi, ImportStatus.INVALID, file_error=WITHDRAWN_MESSAGE)
            return ManifestImport.objects.get(pk=import_id)
        if not mi.file.storage.exists(mi.file.name):  # no attempt will find it: fail now, not after retries
            log.error("manifest import %s: its file %s is missing from storage", import_id, mi.file.name)
            _finish(mi, ImportStatus.FAILED, file_error=LOST_FILE_MESSAGE)
            return ManifestImport.objects.get(pk=import_id)
        row_errors = _validate_and_stage(mi, progress)
        if row_errors is not None:
            # Duplicates are checked even when other rows failed, so one pass reports every bad row.
            row_errors += _check_duplicates(mi)
            row_errors += _check_share_changes(mi)
            row_errors += _check_kept_exclusions(mi)
            row_errors += _check_territories_within_corpus(mi)
            if row_errors:
                _finish(mi, ImportStatus.INVALID, error_count=row_errors)
            else:
                # Committed before the apply's transaction begins, so that the page can say what is happening.
                _report(mi, progress, CHECKED, "applying", status=ImportStatus.APPLYING)
                try:
                    _apply(mi)
                except TotalsTooLarge as exc:  # every row is fine, but together they are not; rolled back
                    _finish(mi, ImportStatus.INVALID, file_error=str(exc))
        ManifestRow.objects.filter(manifest_import_id=mi.pk).exclude(manifest_import__status=ImportStatus.DONE).delete()
        _drop_superseded_rows(mi.corpus_id)
    except Superseded:
        log.warning("manifest import %s: attempt %s was replaced by a newer one and stops", import_id, mi.attempts)
        return ManifestImport.objects.get(pk=import_id)
    except Exception as exc:
        log.exception("manifest import %s crashed", import_id)
        if not connection.in_atomic_block:
            # A connection the server ended (a restart, a failover) cannot record the crash: left unrecorded, the
            # retry would find the import running with a fresh heartbeat and leave it to the sweeper.
            connection.close_if_unusable_or_obsolete()
        # Only this attempt's outcome: not one that finished (a crash in the clean-up after
        # a committed apply) and not a newer attempt's.
        given_up = mi.attempts >= MAX_ATTEMPTS
        owned = (
            ManifestImport.objects.filter(pk=import_id, attempts=mi.attempts)
            .exclude(status__in=FINISHED)
            .update(
                status=ImportStatus.FAILED if given_up else ImportStatus.QUEUED,
                finished_at=timezone.now() if given_up else None,
                # The exception's text can name server paths or SQL: it stays in the log.
                file_error=f"The import failed {mi.attempts} times ({type(exc).__name__}); nothing was changed. "
                f"Upload the file again, or ask support about import {import_id}."
                if given_up
                else f"The import failed unexpectedly ({type(exc).__name__}); it will be retried.",
            )
        )
        if owned and given_up:
            ManifestRow.objects.filter(manifest_import_id=import_id).delete()  # no attempt will use them
        raise
    return ManifestImport.objects.get(pk=import_id)


def _validate_and_stage(mi: ManifestImport, progress) -> int | None:
    """Stage valid rows, store row errors. Returns the error count, or None on a file error."""
    if connection.vendor == "postgresql" and mi.format == "csv":
        try:
            return _copy_and_check(mi, progress)
        except csv_copy.NeedsRowReader:
            log.info("manifest import %s: read row by row (the file does not suit COPY)", mi.pk)
    return _read_and_stage(mi, progress)


def _copy_and_check(mi: ManifestImport, progress) -> int:
    """PostgreSQL, CSV: parse with COPY, stage the plain rows in SQL, validate the rest in Python (csv_copy)."""

    def on_block(bytes_done: int, rows: int) -> None:
        percent = _share(bytes_done, mi.size_bytes, 0, COPY_READ)
        _report(mi, progress, percent, "reading", rows_seen=rows)

    held = _held(mi)
    with mi.file.open("rb") as stream:
        header, rows = csv_copy.copy_file(stream, on_block, held)
    _keep(mi, header)
    staging = _Staging(mi)
    try:
        plain, pages = 0, csv_copy.raw_pages()
        for first in range(0, pages, csv_copy.STAGE_PAGES):
            end = first + csv_copy.STAGE_PAGES
            with transaction.atomic():
                _hold(mi)
                plain += csv_copy.stage_plain_rows(mi.pk, header, first, end if end < pages else None)
            _report(mi, progress, _share(end, pages, COPY_READ, COPY_SQL_CHECKED), "checking")
        others = csv_copy.other_rows(header, licensor_slugs(), held) if plain < rows else ()
        for checked, (row, errors) in enumerate(others, start=1):
            if staging.add(row, errors):  # a chunk was written: report, and beat the heart
                _report(mi, progress, _share(checked, rows - plain, COPY_SQL_CHECKED, CHECKED), "checking")
        error_count = staging.flush()
    finally:
        csv_copy.drop_raw()
    _report(mi, progress, CHECKED, "checking", rows_seen=rows, error_count=error_count)
    return error_count


def _read_and_stage(mi: ManifestImport, progress) -> int | None:
    """Stream the file through the row reader. Returns the error count, or None on a file error."""
    known = licensor_slugs()
    staging = _Staging(mi)
    rows = 0
    columns: set[str] = set()
    try:
        with mi.file.open("rb") as stream:
            for result in read_manifest(stream, mi.format, known, columns, _held(mi)):
                rows += 1
                if staging.add(result.row, result.errors):
                    percent = _share(result.bytes_read, mi.size_bytes, 0, CHECKED)
                    _report(mi, progress, percent, "checking", rows_seen=rows, error_count=staging.error_count)
    except ManifestFileError as exc:
        # The row errors found before it are kept too, however few: the page lists them with the file's problem.
        error_count = staging.flush()
        _finish(mi, ImportStatus.INVALID, file_error=str(exc), rows_seen=rows, error_count=error_count)
        return None
    error_count = staging.flush()
    _keep(mi, columns)
    _report(mi, progress, CHECKED, "checking", rows_seen=rows, error_count=error_count)
    return error_count


def _keep(mi: ManifestImport, columns: Iterable[str]) -> None:
    mi.kept_columns = kept_columns(columns)
    ManifestImport.objects.filter(pk=mi.pk).update(kept_columns=mi.kept_columns)


# Every later occurrence of a repeated id, with the line of its first: one sorted pass over the manifest's ids.
_REPEATS = """
    WITH ids AS (
        SELECT external_id, line FROM catalog_manifestrow WHERE manifest_import_id = %(mi)s
        UNION ALL
        SELECT external_id, line FROM catalog_manifestrowerror
         WHERE manifest_import_id = %(mi)s AND external_id IS NOT NULL
    ), ranked AS (
        SELECT external_id, line, min(line) OVER w AS first, count(*) OVER w AS n
          FROM ids WINDOW w AS (PARTITION BY external_id)
    )
    SELECT external_id, line, first FROM ranked WHERE n > 1 AND line <> first
"""
# SQLite (the embedded default) has no cursor that outlives the chunks' commits: it reads by keyset, a page a time.
REPEATS_PAGE = 20_000


def _repeats(mi: ManifestImport) -> Iterator[tuple[str, int, int]]:
    if connection.vendor == "postgresql":
        # WITH HOLD: the cursor outlives its transaction, so the errors can be stored while it reads.
        connection.ensure_connection()
        with connection.connection.cursor(name="catalog_manifest_repeats", withhold=True) as cursor:
            cursor.itersize = REPEATS_PAGE
            cursor.execute(_REPEATS + " ORDER BY external_id, line", {"mi": mi.pk})
            yield from cursor
        return
    after: tuple[str, int] = ("", 0)
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT * FROM ({_REPEATS}) r WHERE r.external_id > %(after_id)s"
                " OR (r.external_id = %(after_id)s AND r.line > %(after_line)s)"
                " ORDER BY r.external_id, r.line LIMIT %(limit)s",
                {"mi": mi.pk, "after_id": after[0], "after_line": after[1], "limit": REPEATS_PAGE},
            )
            page = cursor.fetchall()
        yield from page
        if len(page) < REPEATS_PAGE:
            return
        after = (page[-1][0], page[-1][1])


def _check_duplicates(mi: ManifestImport) -> int:
    """An external id may appear once per manifest; every later occurrence is an error, valid row or not (a bad
    row whose id could be read counts too, so fixing it does not reveal a new error). Read in one sorted pass
    and stored in chunks: a file whose every row repeats one id has as many errors as rows."""
    return _store_errors_chunked(
        mi,
        (
            RowError(line, "external_id", f"external_id {external_id!r} already appears on line {first}", external_id)
            for external_id, line, first in _repeats(mi)
        ),
    )


def _store_errors_chunked(mi: ManifestImport, errors: Iterable[RowError]) -> int:
    stored, errors = 0, iter(errors)
    while chunk := list(itertools.islice(errors, ERROR_CHUNK)):
        with transaction.atomic():
            _hold(mi)
            stored += _store_errors(mi.pk, chunk)
    return stored


SHARES_NEED_FINANCE = (
    "setting or changing an asset's royalty co-owners needs an owner or admin of the organisation; ask one to "
    "upload this manifest, or keep the co-owners the asset has (none for a new asset)"
)


def _check_share_changes(mi: ManifestImport) -> int:
    """Royalty shares decide who is paid: as on the corpus page, only a member who also holds the finance
    permission (an owner or admin) may set or change an asset's co-owners through a manifest."""
    corpus = Corpus.objects.select_related("organisation").get(pk=mi.corpus_id)
    membership = Membership.objects.filter(user_id=mi.uploaded_by_id, organisation=corpus.organisation).first()
    if membership is not None and OrgAccess(corpus.organisation, membership).can(Perm.FINANCE):
        return 0
    has_shares = "jsonb_array_length" if connection.vendor == "postgresql" else "json_array_length"
    refused = ManifestRow.objects.raw(
        f"""
        SELECT r.id, r.line, r.external_id FROM catalog_manifestrow r
          LEFT JOIN catalog_asset a ON a.corpus_id = %s AND a.external_id = r.external_id
         WHERE r.manifest_import_id = %s
           AND CASE WHEN a.id IS NULL THEN {has_shares}(r.co_owners) > 0
                    ELSE (r.kept & {KEEP_BITS["co_owners"]}) = 0 AND a.co_owners <> r.co_owners END
         ORDER BY r.line
        """,
        [mi.corpus_id, mi.pk],
    )
    # In chunks, as duplicates: every row of a large file may set shares.
    return _store_errors_chunked(
        mi, (RowError(row.line, "co_owners", SHARES_NEED_FINANCE, row.external_id) for row in refused.iterator())
    )


def _beyond(mi: ManifestImport, held: list[str]) -> bool:
    """Whether a staged row names a territory past ``held``: one grouped read of the distinct lists."""
    if WORLDWIDE in held:
        return False
    lists = ManifestRow.objects.filter(manifest_import_id=mi.pk).exclude(territories=[]).values_list("territories")
    return any(codes_beyond(codes, held) for (codes,) in lists.distinct())


def _held(mi: ManifestImport) -> tuple[str, ...]:
    """The corpus' rights territory, which rows validated in Python are held to as they are read (so a row with
    other problems gets this one too, in the same pass); staged rows are checked together afterwards."""
    return tuple(Corpus.objects.values_list("territory", flat=True).get(pk=mi.corpus_id))


def _check_territories_within_corpus(mi: ManifestImport) -> int:
    """An asset's rights cannot reach past its corpus' (the chain of title is the corpus'): a row naming a
    territory the corpus' rights do not cover is refused on its line. Checked per distinct list first, so that a
    clean file costs one grouped read."""
    held = _held(mi)
    if not _beyond(mi, held):
        return 0
    rows = ManifestRow.objects.filter(manifest_import_id=mi.pk).exclude(territories=[])

    def errors() -> Iterator[RowError]:
        for line, codes, external_id in (
            rows.order_by("line").values_list("line", "territories", "external_id").iterator()
        ):
            if beyond := territories_beyond(codes, held):
                yield RowError(line, "territories", beyond, external_id)

    return _store_errors_chunked(mi, errors())


def _check_kept_exclusions(mi: ManifestImport) -> int:
    """A row that leaves clip_exclusions out keeps the asset's; with a new, shorter duration they must still fit
    inside the video, as they must when the file sends them."""
    rows = ManifestRow.objects.raw(
        f"""
        SELECT r.id, r.line, r.external_id, r.duration_seconds, a.clip_exclusions AS stored_exclusions
          FROM catalog_manifestrow r
          JOIN catalog_asset a ON a.corpus_id = %s AND a.external_id = r.external_id
         WHERE r.manifest_import_id = %s AND (r.kept & {KEEP_BITS["clip_exclusions"]}) <> 0
           AND r.duration_seconds < a.duration_seconds
         ORDER BY r.line
        """,
        [mi.corpus_id, mi.pk],
    )

    def errors() -> Iterator[RowError]:
        for row in rows.iterator():
            stored = row.stored_exclusions
            try:  # the manifest's own rule, applied to the stored exclusions and the new duration
                clip_exclusions(json.loads(stored) if isinstance(stored, str) else stored, row.duration_seconds)
            except ValueError as exc:
                yield RowError(
                    row.line,
                    "clip_exclusions",
                    f"clip_exclusions kept from the stored asset: {exc}; send the clip_exclusions column with "
                    "exclusions that fit the new duration",
                    row.external_id,
                )

    return _store_errors_chunked(mi, errors())


TERRITORY_NARROWED_MESSAGE = (
    "The corpus' territory was narrowed while this manifest was checked, and some rows now name territories past "
    "it: nothing was changed. Upload the file again to see which."
)
CANCELLED_MESSAGE = "Cancelled before it was applied: nothing was changed. Upload the file again to import it."


@transaction.atomic
def manifest_import_cancel(import_id: int) -> bool:
    """Stop an unfinished import for good, so that the sweeper does not finish it later. False if it had
    finished (an apply that commits first wins: its status row is locked until then)."""
    cancelled = (
        ManifestImport.objects.filter(pk=import_id)
        .exclude(status__in=FINISHED)
        .update(status=ImportStatus.FAILED, file_error=CANCELLED_MESSAGE, finished_at=timezone.now())
    )
    if cancelled:
        ManifestRow.objects.filter(manifest_import_id=import_id).delete()
    return bool(cancelled)


def _finish(mi: ManifestImport, status: str, **fields) -> None:
    """End this attempt; an attempt that no longer owns the import stops here."""
    owned = ManifestImport.objects.filter(pk=mi.pk, attempts=mi.attempts).exclude(status__in=FINISHED)
    if not owned.update(status=status, finished_at=timezone.now(), **fields):
        raise Superseded(mi.pk)


_ASSET_FIELDS = (
    "title", "duration_seconds", "width", "height", "fps", "codec", "size_bytes", "sha256", "storage_uri",
    "language", "rights_expiry", "territories", "clip_exclusions", "co_owners",
)  # fmt: skip


def _unchanged(asset: str, row: str) -> str:
    """SQL: the asset holds exactly what the staged row says (only rights_expiry may be NULL); an optional column
    the row leaves out (its KEEP_BITS bit) counts as the same."""
    same_date = "IS NOT DISTINCT FROM" if connection.vendor == "postgresql" else "IS"
    parts = []
    for f in _ASSET_FIELDS:
        same = f"{asset}.{f} {same_date if f == 'rights_expiry' else '='} {row}.{f}"
        parts.append(f"(({row}.kept & {KEEP_BITS[f]}) <> 0 OR {same})" if f in KEEP_BITS else same)
    return " AND ".join(parts)


def _assignments(asset: str, row: str) -> str:
    """SQL: the asset's fields set from the staged row, keeping those the row leaves out."""
    return ", ".join(
        f"{f} = CASE WHEN ({row}.kept & {KEEP_BITS[f]}) <> 0 THEN {asset}.{f} ELSE {row}.{f} END"
        if f in KEEP_BITS
        else f"{f} = {row}.{f}"
        for f in _ASSET_FIELDS
    )


@dataclass(frozen=True)
class ImportDiff:
    added: int
    changed: int
    unchanged: int
    still_withdrawn: int
    missing: int
    rights_expired: int


def _diff(mi: ManifestImport) -> ImportDiff:
    """Compare the staged rows with the corpus' assets, in SQL."""
    same = _unchanged("a", "r")
    # A file without the column keeps the stored expiry, which may have passed as well.
    expiry = f"CASE WHEN (r.kept & {KEEP_BITS['rights_expiry']}) <> 0 THEN a.rights_expiry ELSE r.rights_expiry END"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT
              count(*) FILTER (WHERE a.id IS NULL),
              count(*) FILTER (WHERE a.status = 'active' AND NOT ({same})),
              count(*) FILTER (WHERE a.status = 'active' AND {same}),
              count(*) FILTER (WHERE a.status = 'withdrawn'),
              count(*) FILTER (WHERE (a.id IS NULL OR a.status = 'active') AND {expiry} < %s)
            FROM catalog_manifestrow r
            LEFT JOIN catalog_asset a ON a.corpus_id = %s AND a.external_id = r.external_id
            WHERE r.manifest_import_id = %s
            """,
            [connection.ops.adapt_datefield_value(timezone.localdate()), mi.corpus_id, mi.pk],
        )
        added, changed, unchanged, withdrawn, expired = (v or 0 for v in cursor.fetchone())
    missing = missing_assets(mi).count()
    return ImportDiff(added, changed, unchanged, withdrawn, missing, expired)


def missing_assets(mi: ManifestImport):
    """Active assets of the corpus that this manifest does not list.

    ``NOT EXISTS``, an anti-join, not ``NOT IN (subquery)``: once the listing no longer fits in ``work_mem`` as a
    hash, PostgreSQL runs ``NOT IN`` by scanning the whole listing for each asset, which for a re-upload of a few
    hundred thousand rows took minutes under the corpus lock.
    """
    listed = ManifestRow.objects.filter(manifest_import_id=mi.pk, external_id=OuterRef("external_id"))
    return Asset.objects.filter(corpus_id=mi.corpus_id, status=AssetStatus.ACTIVE).exclude(Exists(listed))


def assets_changed_by(mi: ManifestImport, kind: str):
    """The assets the corpus' latest applied import added (``kind="added"``) or changed (``"changed"``): each
    carries the import that last wrote it, and the apply stamps both times of the rows it inserts alike. An older
    import's assets may since have been written by a later one, so callers ask this of the latest only."""
    written = Asset.objects.filter(corpus_id=mi.corpus_id, last_import_id=mi.pk)
    if kind == "added":
        return written.filter(created_at=F("updated_at"))
    return written.exclude(created_at=F("updated_at")).filter(status=AssetStatus.ACTIVE)  # as the page counts them


def missing_listing_kept(mi: ManifestImport) -> bool:
    """Whether this import's copy of the manifest is whole. Staged rows live in an unlogged table on PostgreSQL:
    a crash empties it, and an empty listing would make every asset "missing"."""
    return ManifestRow.objects.filter(manifest_import_id=mi.pk).count() == (
        mi.added + mi.changed + mi.unchanged + mi.still_withdrawn
    )


def _apply(mi: ManifestImport) -> None:
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic():
        # One import applies at a time per corpus, and only while this attempt owns it.
        corpus = Corpus.objects.select_for_update().get(pk=mi.corpus_id)
        _hold(mi)
        if corpus.status == CorpusStatus.WITHDRAWN:
            _finish(mi, ImportStatus.INVALID, file_error=WITHDRAWN_MESSAGE)
            return
        if _beyond(mi, corpus.territory):  # narrowed since the rows were checked
            _finish(mi, ImportStatus.INVALID, file_error=TERRITORY_NARROWED_MESSAGE)
            return
        diff = _diff(mi)
        sample = _changes_sample(mi, diff)  # before the writes: the changed assets' old values
        columns = ", ".join(_ASSET_FIELDS)
        selected = ", ".join(f"r.{f}" for f in _ASSET_FIELDS)
        # The diff ran under the corpus lock: a statement with nothing to do would still join every row.
        with connection.cursor() as cursor:
            if diff.added:
                cursor.execute(
                    f"""
                    INSERT INTO catalog_asset (corpus_id, external_id, {columns}, status, last_import_id,
                                               created_at, updated_at)
                    SELECT %s, r.external_id, {selected}, 'active', %s, %s, %s
                      FROM catalog_manifestrow r
                     WHERE r.manifest_import_id = %s
                       AND NOT EXISTS (SELECT 1 FROM catalog_asset a
                                        WHERE a.corpus_id = %s AND a.external_id = r.external_id)
                    """,
                    [mi.corpus_id, mi.pk, adapt(now), adapt(now), mi.pk, mi.corpus_id],
                )
            if diff.changed or diff.still_withdrawn:  # a withdrawn asset's data follows the file too
                assignments = _assignments("catalog_asset", "r")
                cursor.execute(
                    f"""
                    UPDATE catalog_asset SET {assignments}, last_import_id = %s, updated_at = %s
                      FROM catalog_manifestrow r
                     WHERE r.manifest_import_id = %s
                       AND catalog_asset.corpus_id = %s AND catalog_asset.external_id = r.external_id
                       AND NOT ({_unchanged("catalog_asset", "r")})
                    """,
                    [mi.pk, adapt(now), mi.pk, mi.corpus_id],
                )
        corpus_recount(mi.corpus_id)
        corpus_refresh_price(mi.corpus_id)
        last = ManifestImport.objects.filter(corpus_id=mi.corpus_id).aggregate(seq=Max("applied_seq"))["seq"]
        ManifestImport.objects.filter(pk=mi.pk).update(
            status=ImportStatus.DONE,
            applied_seq=(last or 0) + 1,  # under the corpus lock taken above: applies are serial per corpus
            finished_at=timezone.now(),
            added=diff.added,
            changed=diff.changed,
            unchanged=diff.unchanged,
            still_withdrawn=diff.still_withdrawn,
            missing=diff.missing,
            rights_expired=diff.rights_expired,
            changes_sample=sample,
        )


CHANGES_SHOWN = 20  # added and changed assets the import page names, the first by external id


def _changes_sample(mi: ManifestImport, diff: ImportDiff) -> dict:
    """The first assets this import adds and changes, by external id, the changed ones with each field's value
    before and after: what a licensor checks before trusting a re-upload. Read under the apply's corpus lock,
    before it writes. In external-id order the staged rows' index hands them over in order, so a first import
    stops after twenty probes rather than sorting every row."""
    sample: dict = {"added": [], "changed": []}
    with connection.cursor() as cursor:
        if diff.added:
            cursor.execute(
                "SELECT r.external_id FROM catalog_manifestrow r WHERE r.manifest_import_id = %s AND NOT EXISTS"
                " (SELECT 1 FROM catalog_asset a WHERE a.corpus_id = %s AND a.external_id = r.external_id)"
                " ORDER BY r.external_id LIMIT %s",
                [mi.pk, mi.corpus_id, CHANGES_SHOWN],
            )
            sample["added"] = [external_id for (external_id,) in cursor.fetchall()]
        if diff.changed:
            pairs = ", ".join(f"a.{f}, r.{f}" for f in _ASSET_FIELDS)
            cursor.execute(
                f"SELECT r.external_id, r.kept, {pairs} FROM catalog_manifestrow r JOIN catalog_asset a"
                " ON a.corpus_id = %s AND a.external_id = r.external_id WHERE r.manifest_import_id = %s"
                f" AND a.status = 'active' AND NOT ({_unchanged('a', 'r')}) ORDER BY r.external_id LIMIT %s",
                [mi.corpus_id, mi.pk, CHANGES_SHOWN],
            )
            for external_id, kept, *values in cursor.fetchall():
                fields = {}
                for i, name in enumerate(_ASSET_FIELDS):
                    before, after = (_plain(name, v) for v in values[2 * i : 2 * i + 2])
                    if before != after and not (name in KEEP_BITS and kept & KEEP_BITS[name]):
                        fields[name] = [before, after]
                sample["changed"].append({"external_id": external_id, "fields": fields})
    return sample


def _plain(field: str, value):
    """A stored value as JSON holds it, read the same from either database (SQLite hands lists back as text)."""
    if field in ("territories", "clip_exclusions", "co_owners") and isinstance(value, str):
        return json.loads(value)
    if field in ("duration_seconds", "fps") and value is not None:  # Decimal on PostgreSQL, a float on SQLite
        return format(Decimal(str(value)).normalize(), "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _drop_superseded_rows(corpus_id: int) -> None:
    """Keep the staged rows of the corpus' last applied manifest only (its current content).

    Rows of imports still running are theirs and stay. Outside the apply
    transaction: it is housekeeping, and the sweeper (or the next run) repeats it if it is interrupted.
    """
    # One statement, so "finished" and "latest" come from one snapshot: an import applied
    # meanwhile is neither, and keeps its rows.
    finished = ManifestImport.objects.filter(corpus_id=corpus_id, status__in=FINISHED).exclude(
        pk__in=_applied(corpus_id).values("pk")[:1]
    )
    ManifestRow.objects.filter(manifest_import_id__in=finished.values("pk")).delete()


def leftover_rows_drop() -> int:
    """Drop the staged rows that an interrupted clean-up left behind: those of finished imports that are not their
    corpus' current listing (a worker killed between an apply's commit and its clean-up, or after refusing a file).
    The run that left them never comes back for them, and the corpus may get no other import. Returns how many
    corpora were tidied. One probe of the staged rows' index per finished import."""
    latest = _applied(OuterRef("corpus_id")).values("pk")[:1]
    leftovers = (
        ManifestImport.objects.filter(status__in=FINISHED)
        .annotate(current=Subquery(latest))
        .filter(Q(current__isnull=True) | ~Q(pk=F("current")))
        .filter(Exists(ManifestRow.objects.filter(manifest_import_id=OuterRef("pk"))))
    )
    corpus_ids = sorted(set(leftovers.values_list("corpus_id", flat=True)))
    for corpus_id in corpus_ids:
        _drop_superseded_rows(corpus_id)
    return len(corpus_ids)


def latest_applied(corpus_id: int) -> ManifestImport | None:
    """The manifest applied last: the corpus' current listing, whose missing assets may be withdrawn."""
    return _applied(corpus_id).first()


def _applied(corpus_id: int):
    return ManifestImport.objects.filter(corpus_id=corpus_id, status=ImportStatus.DONE).order_by(
        F("applied_seq").desc(nulls_last=True), "-pk"
    )


def imports_stalled(older_than_seconds: int | None = None):
    """Imports whose worker stopped reporting progress, or whose enqueue was lost."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds or STALE_SECONDS)
    return ManifestImport.objects.filter(
        Q(status=ImportStatus.QUEUED, created_at__lt=cutoff)
        | Q(status__in=[ImportStatus.VALIDATING, ImportStatus.APPLYING], heartbeat_at__lt=cutoff)
    )


def manifest_files_prune(now=None) -> int:
    """Delete the uploaded files of imports refused or failed long enough ago: a rejected gigabyte is not kept
    forever. Their row errors and file errors stay on the import page. Returns how many files were deleted."""
    cutoff = (now or timezone.now()) - timezone.timedelta(days=settings.MANIFEST_REFUSED_KEEP_DAYS)
    done = 0
    ended = ManifestImport.objects.filter(
        status__in=[ImportStatus.INVALID, ImportStatus.FAILED], finished_at__lt=cutoff
    ).exclude(file="")
    for mi in ended.only("pk", "file").iterator():
        mi.file.delete(save=False)  # storage first: a crash in between leaves a row naming a missing file, harmless
        ManifestImport.objects.filter(pk=mi.pk).update(file="")
        done += 1
    return done
