"""Bulk posting takes its arrays as text literals (the JSON entry point goes), and balance
is checked once per batch at COMMIT rather than once per entry."""

from django.db import migrations

from ledger.sql import install_posting


def drop_json_entry_point(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS ledger_post_entries_json(json, json, timestamptz)")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_account_day_bucket")]

    operations = [
        migrations.RunPython(install_posting, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(drop_json_entry_point, migrations.RunPython.noop, elidable=False),
    ]
