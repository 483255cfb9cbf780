"""A poster at REPEATABLE READ or SERIALIZABLE learns of a close made after its snapshot from a row, not a sequence.

The closer used to leave its transaction id in the sequence ``ledger_period_closer``, which any session may
``setval``: a transaction could write its own id there and then post into a period closed after its snapshot.
Every close now updates the one row of ``ledger_period_state``, and at those levels the closed-period trigger
locks that row FOR SHARE, which PostgreSQL refuses when the row changed after the snapshot
(postgresql_posting.sql). The row cannot be deleted, and a close written by raw SQL takes the same lock and moves the
row too, by a trigger. The trigger functions name their tables in their schema, so that no temporary table of the
same name stands in for them.
"""

from django.db import migrations

from ledger.sql import install_posting

_STATE = """
CREATE TABLE ledger_period_state (
    id smallint PRIMARY KEY CHECK (id = 1),
    closes bigint NOT NULL DEFAULT 0
);
INSERT INTO ledger_period_state (id, closes) VALUES (1, (SELECT count(*) FROM ledger_period_close));
CREATE TRIGGER ledger_period_state_no_delete BEFORE DELETE ON ledger_period_state
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
-- Unconditionally: the test suite's flush never empties this table (no model names it), so no setting may.
CREATE TRIGGER ledger_period_state_no_truncate BEFORE TRUNCATE ON ledger_period_state
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
-- A close written by raw SQL orders posters and moves the state row as period_close does.
CREATE TRIGGER ledger_period_close_orders_posters BEFORE INSERT ON ledger_period_close
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_period_close_order_posters();
DROP SEQUENCE IF EXISTS ledger_period_closer;
"""


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        install_posting(apps, schema_editor)  # the trigger function reads the row instead of the sequence
        schema_editor.execute(_STATE, params=None)


class Migration(migrations.Migration):
    """Not reversible, as 0019: ledger/sql holds only the current functions."""

    dependencies = [("ledger", "0020_balance_checked_by_batch_row")]

    operations = [migrations.RunPython(install, elidable=False)]
