"""The PostgreSQL posting functions write a two-leg entry's legs on its own row (ADR 0012), and the bulk function
looks idempotency keys up before it writes instead of inserting with ON CONFLICT."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    """Not reversible, as 0019: ledger/sql holds only the current functions."""

    dependencies = [("ledger", "0022_two_leg_entries_on_their_row")]

    operations = [migrations.RunPython(install_posting, elidable=False)]
