"""The closed-period trigger refuses a REPEATABLE READ or SERIALIZABLE insert after any close that ended after its
snapshot, committed or not (a rolled-back closer overwrote the marker of the close before it), and ignores a marker
the cluster never issued (a sequence restored from another cluster's dump)."""

from django.db import migrations

from ledger.sql import install_posting


class Migration(migrations.Migration):
    dependencies = [("ledger", "0017_no_replace_and_snapshot_close")]

    operations = [migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False)]
