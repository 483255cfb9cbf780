"""An account's no-overdraft rule joins its fixed identity; on SQLite, day totals cannot be deleted either."""

from django.db import migrations

_POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION ledger_account_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.code IS DISTINCT FROM OLD.code OR NEW.currency IS DISTINCT FROM OLD.currency
           OR NEW.type IS DISTINCT FROM OLD.type OR NEW.id IS DISTINCT FROM OLD.id
           OR NEW.forbid_negative IS DISTINCT FROM OLD.forbid_negative THEN
            RAISE EXCEPTION 'ledger: account % (%) cannot change its code, currency, type or no-overdraft rule',
                OLD.code, OLD.currency USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    "DROP TRIGGER IF EXISTS ledger_account_fixed ON ledger_account",
    "CREATE TRIGGER ledger_account_fixed BEFORE UPDATE OF code, currency, type, id, forbid_negative"
    " ON ledger_account FOR EACH ROW EXECUTE FUNCTION ledger_account_fixed()",
]

_SQLITE = [
    "DROP TRIGGER IF EXISTS ledger_account_fixed",
    """
    CREATE TRIGGER ledger_account_fixed BEFORE UPDATE OF id, code, currency, type, forbid_negative ON ledger_account
    WHEN NEW.id IS NOT OLD.id OR NEW.code IS NOT OLD.code OR NEW.currency IS NOT OLD.currency
      OR NEW.type IS NOT OLD.type OR NEW.forbid_negative IS NOT OLD.forbid_negative BEGIN
        SELECT RAISE(ABORT, 'ledger: an account cannot change its code, currency, type or no-overdraft rule');
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS ledger_account_day_no_delete BEFORE DELETE ON ledger_account_day BEGIN
        SELECT RAISE(ABORT, 'ledger: day totals cannot be deleted');
    END
    """,
]


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in _POSTGRESQL if vendor == "postgresql" else _SQLITE if vendor == "sqlite" else []:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_reference_check_single_query_for_small_statements")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop, elidable=False)]
