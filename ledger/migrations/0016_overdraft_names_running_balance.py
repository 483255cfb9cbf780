"""A batch refused for an overdraft names the balance just before the breaching entry (after the batch's earlier
entries), as one post does, not the balance before the batch."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0015_reversing_batches_lock")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
