"""The bulk function inserts entries in key order, so batches sharing keys queue instead of deadlocking."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0011_engines_agree_on_refusals")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
