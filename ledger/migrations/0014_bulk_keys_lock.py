"""Keyed bulk calls share an advisory lock that a batch sent in several chunks takes alone, so chunks cannot
deadlock on each other's keys."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0013_no_truncate")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
