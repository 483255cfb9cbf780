"""On PostgreSQL, a single post of two legs on two accounts locks them and moves their balances with statements
written for two rows (the general statements cost a post about a fifth of its database time even for two), and the
entries' statement trigger first asks in one cheap pass whether any entry could break a rule, looking for the first
problem only then."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    """Not reversible, as 0019: ledger/sql holds only the current functions."""

    dependencies = [("ledger", "0025_sqlite_entries_need_their_last_leg")]

    operations = [migrations.RunPython(install_posting, elidable=False)]
