"""Small statements keep the reference check's single query (entry and account in one join)."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0007_reference_check_by_range")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
