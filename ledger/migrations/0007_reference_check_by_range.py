"""Posting references of a large statement checked against its range of entry ids, hash-joined."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_narrower_account_trigger")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
