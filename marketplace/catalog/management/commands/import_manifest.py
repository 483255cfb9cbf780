"""Import a manifest from the command line, with progress on the terminal."""

import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.template.defaultfilters import pluralize

from ledger.management.progress import Progress
from marketplace.catalog.models import Corpus, ManifestRowError
from marketplace.catalog.services.imports import manifest_import_cancel, manifest_import_run, manifest_upload
from marketplace.orgs.access import OrgAccess
from marketplace.orgs.models import Membership


class Command(BaseCommand):
    help = "Validate and import a CSV or JSON Lines manifest into a corpus (the same job the web upload runs)."

    def add_arguments(self, parser):
        parser.add_argument("corpus", help="the corpus: its id, or its slug as in its public address")
        parser.add_argument("file", type=Path, help="the manifest: .csv, or .jsonl or .ndjson (docs/manifest.md)")
        parser.add_argument("--as", dest="user", required=True, help="email of the member importing it, any case")
        parser.add_argument("--show-errors", type=_count, default=20, help="how many row errors to print")

    def handle(self, *args, corpus, file, user, show_errors, **options):
        corpus_obj = _corpus(corpus)
        members = Membership.objects.filter(organisation=corpus_obj.organisation)
        membership = members.filter(user__username=user).first()
        if membership is None:  # as sign-in does: any case, when one member has that address
            matches = list(members.filter(user__username__iexact=user.strip())[:2])
            membership = matches[0] if len(matches) == 1 else None
        if membership is None:
            raise CommandError(f"{user} is not a member of {corpus_obj.organisation.name}")
        if not file.is_file():
            raise CommandError(f"{file} is not a file")
        # The same checks as an upload in the browser: role, corpus status, format and size.
        access = OrgAccess(corpus_obj.organisation, membership)
        try:
            with file.open("rb") as fh:
                mi = manifest_upload(access=access, corpus=corpus_obj, upload=File(fh, name=file.name), enqueue=False)
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", None) or [str(exc)])) from None
        progress = Progress(f"importing {file.name}", self.stderr)
        try:
            with _stopped_as_interrupt():
                mi = manifest_import_run(mi.pk, progress=lambda percent, phase: progress(percent, 100, phase=phase))
        except (KeyboardInterrupt, Exception) as exc:
            # Ctrl-C means stop, and so does a crash here: left unfinished, the sweeper would take the import up
            # and apply it minutes later, behind the back of whoever ran this. The crash itself is in the log.
            if not connection.in_atomic_block:  # the interrupted statement may have left it mid-query
                connection.close()
            what = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed ({type(exc).__name__})"
            if manifest_import_cancel(mi.pk):
                raise CommandError(f"{what}: import {mi.pk} is cancelled and nothing was changed") from None
            raise CommandError(f"{what} after import {mi.pk} had finished; see its page") from None
        progress(100, 100, phase="finished")  # the last phase reported stops short of 100%
        progress.done()
        if mi.status == "done":
            withdrawn = f", {mi.still_withdrawn:,} still withdrawn" if mi.still_withdrawn else ""
            self.stdout.write(
                self.style.SUCCESS(
                    f"import {mi.pk} done: {mi.added:,} added, {mi.changed:,} changed, {mi.unchanged:,} unchanged"
                    f"{withdrawn}, {mi.missing:,} missing from this manifest"
                )
            )
            for change in mi.changes_sample.get("changed", [])[:5]:
                fields = "; ".join(
                    f"{name} {before!r} -> {after!r}" for name, (before, after) in change["fields"].items()
                )
                self.stdout.write(f"  changed {change['external_id']}: {fields}")
            if mi.changed > 5:
                self.stdout.write(f"  … and {mi.changed - 5:,} more changed (the first 20 on the import's page)")
            if mi.kept_columns:
                self.stdout.write(f"columns not in the file, kept as each asset had them: {', '.join(mi.kept_columns)}")
            if mi.rights_expired:
                self.stdout.write(
                    self.style.WARNING(
                        f"{mi.rights_expired:,} listed asset{pluralize(mi.rights_expired)} with a rights expiry before "
                        "today: still licensable until withdrawn (the corpus' asset list, 'Active, rights expired')"
                    )
                )
            return
        if mi.file_error:
            self.stdout.write(self.style.ERROR(mi.file_error))
        for error in ManifestRowError.objects.filter(manifest_import=mi).order_by("line")[:show_errors]:
            # Some messages (a file cut short, bad bytes) name their line already.
            named = error.message.startswith(f"line {error.line} ") or error.message.startswith(f"line {error.line}:")
            self.stdout.write(error.message if named else f"line {error.line}: {error.message}")
        if mi.error_count > show_errors:
            self.stdout.write(f"… and {mi.error_count - show_errors:,} more")
        raise CommandError(f"import {mi.pk} {mi.status}: nothing was changed")


# A supervisor's or `kill`'s SIGTERM, and a closed terminal's SIGHUP, stop the command as Ctrl-C does. Left to
# their default they end the process at once, the import unfinished, and the sweeper applies it minutes later.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@contextmanager
def _stopped_as_interrupt():
    """While the import runs, SIGTERM and SIGHUP raise KeyboardInterrupt (a query in progress is cancelled)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread handles signals
        yield
        return
    previous = {signum: signal.signal(signum, _interrupt) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _corpus(given: str) -> Corpus:
    """By slug or by id. A slug can be all digits (a corpus titled "1917"): when it names one corpus and the
    same digits another's id, refuse rather than guess."""
    corpora = Corpus.objects.select_related("organisation")
    by_slug = corpora.filter(slug=given).first()
    by_id = corpora.filter(pk=int(given)).first() if given.isascii() and given.isdigit() and len(given) < 19 else None
    if by_slug and by_id and by_slug.pk != by_id.pk:
        raise CommandError(
            f"{given!r} is the slug of corpus {by_slug.pk} ({by_slug.title}) and the id of another corpus "
            f"({by_id.title}, slug {by_id.slug!r}): give {by_slug.pk} for the first or {by_id.slug!r} for the second"
        )
    found = by_slug or by_id
    if found is None:
        raise CommandError(f"no corpus {given!r} (give its id or its slug)")
    return found
