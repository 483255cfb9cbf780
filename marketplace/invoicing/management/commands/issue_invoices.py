"""Issue the monthly invoices for a month now (the hourly beat task does this early in the next month)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ledger.management.progress import Progress
from marketplace.invoicing.services import invoices_issue
from marketplace.periods import previous_month


class Command(BaseCommand):
    help = "Issue every licensee's invoice for a month (YYYY-MM; last month by default). Safe to repeat."

    def add_arguments(self, parser):
        parser.add_argument("--period", help="The month, as YYYY-MM. Default: last month.")

    def handle(self, *args, period=None, **options):
        if period:
            try:
                month = dt.date.fromisoformat(f"{period}-01")
            except ValueError:
                raise CommandError(f"--period: give a month as YYYY-MM (got {period!r})") from None
        else:
            month = previous_month(timezone.now())
        progress = Progress(f"invoicing {month:%Y-%m}", self.stderr)
        invoices = invoices_issue(period=month, progress=progress)
        progress.done()
        for invoice in invoices:
            self.stdout.write(
                f"{invoice.number}  {invoice.licensee.name}  {invoice.total / 100:,.2f} {invoice.currency}"
            )
        self.stdout.write(f"{len(invoices)} invoice(s) for {month:%Y-%m}")
