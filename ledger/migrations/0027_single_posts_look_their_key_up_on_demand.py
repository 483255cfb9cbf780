"""On PostgreSQL, a single post leaves a fresh idempotency key to the unique index instead of looking it up first;
the caller calls again with the lookup when the key turns out taken, or when the post is refused (a replay of an
entry posted before is never refused). The function gains a parameter, so the old one is dropped first."""

from django.db import migrations

from ledger.sql import install_posting

_SIGNATURE = "ledger_post_entry(text, text, text, date, text, jsonb, bigint, timestamptz, text[], text[], bigint[])"


def drop_previous_signature(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {_SIGNATURE}")


class Migration(migrations.Migration):
    """Not reversible, as 0019: ledger/sql holds only the current functions."""

    dependencies = [("ledger", "0026_two_leg_single_posts_lock_and_move_two_rows")]

    operations = [
        migrations.RunPython(drop_previous_signature, elidable=False),
        migrations.RunPython(install_posting, elidable=False),
    ]
