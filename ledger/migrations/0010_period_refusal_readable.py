"""The closed-period trigger refuses with the same machine-readable code as the posting functions."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0009_account_rule_fixed")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
