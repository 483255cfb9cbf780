"""The bulk posting function takes each account once and legs name it by ordinal: matching every leg's code and
currency against the locked accounts cost about a tenth of a bulk post."""

from django.db import migrations

from ledger.sql import install_posting

_PREVIOUS = (
    "ledger_post_entries(text[], text[], text[], date[], text[], jsonb[], bigint[], smallint[], timestamptz,"
    " int[], smallint[], text[], text[], bigint[])"
)


def drop_previous_signature(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {_PREVIOUS}")


class Migration(migrations.Migration):
    """Not reversible: the code before it calls the signature dropped here, and ledger/sql holds only the current
    functions, so a no-op reverse would leave a database that the older code cannot post to."""

    dependencies = [("ledger", "0018_closer_marker_any_outcome")]

    operations = [
        migrations.RunPython(drop_previous_signature, elidable=False),
        migrations.RunPython(install_posting, elidable=False),
    ]
