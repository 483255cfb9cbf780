"""Rate all unrated usage now, in this process, with progress on the terminal (the beat task does this every
minute; this is for operators after an outage, and for scripts)."""

from django.core.management.base import BaseCommand

from ledger.management.progress import Progress
from marketplace.rating.models import RatingRun
from marketplace.rating.services import rating_rate_all


class Command(BaseCommand):
    help = "Rate every unrated usage event into the royalty ledger, and settle licences whose term is over."

    def handle(self, *args, **options):
        progress = Progress("rating licences (chunks)", self.stderr)
        runs = rating_rate_all(trigger=RatingRun.Trigger.MANUAL, progress=progress)
        progress.done()
        events = sum(run.event_count for run in runs)
        entries = sum(run.entry_count for run in runs)
        self.stdout.write(f"{len(runs)} run(s): {events:,} events rated, {entries:,} journal entries posted")
