"""Load the demo data that `make run` shows (safe to run again)."""

from django.core.management.base import BaseCommand

from marketplace.web.demo import load_demo_data


class Command(BaseCommand):
    help = "Load demo users and books. Running it again changes nothing."

    def handle(self, *args, **options):
        result = load_demo_data()
        self.stdout.write(f"demo data ready: {result['entries']} new ledger entries, {result['sealed']} sealed")
