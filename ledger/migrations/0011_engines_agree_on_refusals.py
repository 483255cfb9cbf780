"""The bulk function refuses as the single one and the ORM engine do: a second keyless reversal is
AlreadyReversed, a key conflict is named before a closed period or a reversal, and an overdraft names the
first breach in entry and leg order."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0010_period_refusal_readable")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
