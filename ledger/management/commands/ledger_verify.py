"""Verify the hash chain and the books; exit non-zero and name the first bad entry on failure."""

from django.core.management.base import BaseCommand, CommandError

from ledger import services as ledger
from ledger.management.progress import Progress


class Command(BaseCommand):
    help = "Recompute the ledger's hash chain and balances from the rows and report any tampering."

    def add_arguments(self, parser):
        parser.add_argument("--seal", action="store_true", help="seal pending entries before verifying")
        parser.add_argument("--quiet", action="store_true", help="no progress line")

    def handle(self, *args, seal=False, quiet=False, **options):
        if seal:
            result = ledger.chain_seal()
            self.stdout.write(f"sealed {result.sealed} pending entries")
        progress = None if quiet else Progress("verifying entries", self.stderr)
        report = ledger.chain_verify(progress=progress)
        if progress:
            progress.done()
        self.stdout.write(
            f"checked {report.entries_checked} entries: {report.sealed} sealed, {report.unsealed} not yet sealed"
        )
        self.stdout.write(f"chain head: {report.head_hash}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("ledger verified: no problems found"))
            return
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(f"[{problem.kind}] {problem.message}"))
        first = report.first_bad_entry
        raise CommandError(
            f"ledger verification failed: {len(report.problems)} problem(s)"
            + (f"; first bad entry: {first}" if first is not None else "")
        )
