"""One-row inserts keep the direct balance check; only multi-row inserts join the batch range."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_bulk_posting_arrays")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
