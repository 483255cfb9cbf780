"""Export the journal (one row per posting) or the trial balance as CSV."""

import argparse
import contextlib
import datetime as dt
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from ledger import services as ledger
from ledger.dates import parse_iso_date
from ledger.management.progress import Progress


def _date(value: str) -> dt.date:
    try:
        return parse_iso_date(value)
    except ValueError as exc:  # argparse turns this into a usage error naming the option
        raise argparse.ArgumentTypeError(str(exc)) from None


class Command(BaseCommand):
    help = "Write the journal or the trial balance as CSV (format: docs/ledger.md)."

    def add_arguments(self, parser):
        parser.add_argument(
            "report",
            choices=["journal", "trial-balance"],
            help="journal: one row per posting (docs/ledger.md); trial-balance: one row per account",
        )
        parser.add_argument("--output", "-o", help="file to write; standard output if omitted")
        parser.add_argument(
            "--from", dest="date_from", type=_date, metavar="YYYY-MM-DD", help="journal: first effective date"
        )
        parser.add_argument(
            "--to", dest="date_to", type=_date, metavar="YYYY-MM-DD", help="journal: last effective date"
        )
        parser.add_argument(
            "--as-of", dest="as_of", type=_date, metavar="YYYY-MM-DD", help="trial balance at the end of this date"
        )

    def handle(self, *args, report, output=None, date_from=None, date_to=None, as_of=None, **options):
        # An option that the report does not take is an error, not a different report than the one asked for.
        if report == "journal" and as_of is not None:
            raise CommandError("--as-of applies to the trial balance; the journal takes --from and --to")
        if report == "trial-balance" and (date_from or date_to):
            raise CommandError("--from and --to apply to the journal; the trial balance takes --as-of")
        if date_from and date_to and date_from > date_to:
            raise CommandError(f"--from {date_from} is after --to {date_to}")
        try:
            out = open(output, "w", newline="", encoding="utf-8") if output else self.stdout  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        try:
            written = self._write(report, out, output, date_from, date_to, as_of)
            if output:
                out.close()  # the last rows reach the file here, and may fail to
        except BrokenPipeError:
            # Read by a pipe that stopped early (`| head`): nothing more to say, and nowhere to say it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
        except BaseException as exc:
            if output:
                self._discard(out, output)
            if isinstance(exc, OSError) and output:  # a full disk, a quota: say so, as for a file that cannot open
                raise CommandError(f"cannot write {output}: {exc.strerror or exc}; nothing was kept") from None
            raise
        if output:
            self.stdout.write(f"wrote {written} rows to {output}")

    @staticmethod
    def _discard(out, output: str) -> None:
        """A file the export could not finish is removed: a journal cut short reads like a whole one."""
        with contextlib.suppress(OSError):  # the rows that did not fit: the file goes anyway
            out.close()
        if os.path.isfile(output):
            os.remove(output)

    def _write(self, report, out, output, date_from, date_to, as_of) -> int:
        """The report's rows into ``out``; how many. A file gets a progress line, standard output none."""
        if report == "trial-balance":
            return ledger.write_csv(ledger.trial_balance_rows(as_of_date=as_of), ledger.TRIAL_BALANCE_COLUMNS, out)
        progress = Progress("exporting postings", self.stderr) if output else None
        total = ledger.journal_count(date_from=date_from, date_to=date_to) if progress else None

        def rows():
            for count, row in enumerate(ledger.journal_rows(date_from=date_from, date_to=date_to), start=1):
                if progress and count % 1000 == 0:
                    progress(count, total)
                yield row

        written = ledger.write_csv(rows(), ledger.JOURNAL_COLUMNS, out)
        if progress:
            progress(written, written)
            progress.done()
        return written
