"""A batch that reverses entries holds the keyed calls' advisory lock alone, and one entry with a key and a
reversal shares it: key and reversal claims live in two indexes that no single order can sort."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0014_bulk_keys_lock")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
