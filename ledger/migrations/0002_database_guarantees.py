"""Install the triggers and the posting function that back the ledger's rules."""

from django.db import migrations

from ledger.sql import install


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop, elidable=False)]
