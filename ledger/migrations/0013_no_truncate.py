"""TRUNCATE empties a table without firing DELETE triggers: refuse it on every ledger table too.

A connection that must empty the tables (the test suite between transactional
tests) says so with the session setting ``ledger.allow_truncate = on``; like
disabling a trigger, that is a deliberate act by whoever owns the database.
"""

from django.db import migrations

TABLES = (
    "ledger_entry", "ledger_posting", "ledger_account", "ledger_account_day", "ledger_period_close",
    "ledger_chain_seal", "ledger_chain_block",
)  # fmt: skip

_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('ledger.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'ledger: TRUNCATE on % is not allowed; the ledger is append-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$
"""


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite has no TRUNCATE; its DELETE triggers already refuse an unqualified DELETE
    schema_editor.execute(_FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}", params=None)
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate()",
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0012_bulk_keys_in_order")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop, elidable=False)]
