"""The PostgreSQL posting functions write a two-leg entry's legs on its own row (ADR 0012). The bulk function looks
idempotency keys up before it writes instead of inserting with ON CONFLICT, and returns its ids as arrays in one
row (a new return type, so the old function is dropped first)."""

from django.db import migrations

from ledger.sql import install_posting

_SIGNATURE = (
    "ledger_post_entries(text[], text[], text[], date[], text[], jsonb[], bigint[], smallint[], timestamptz,"
    " text[], text[], int[], smallint[], int[], bigint[])"
)


def drop_previous_return_type(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {_SIGNATURE}")


class Migration(migrations.Migration):
    """Not reversible, as 0019: ledger/sql holds only the current functions."""

    dependencies = [("ledger", "0022_two_leg_entries_on_their_row")]

    operations = [
        migrations.RunPython(drop_previous_return_type, elidable=False),
        migrations.RunPython(install_posting, elidable=False),
    ]
