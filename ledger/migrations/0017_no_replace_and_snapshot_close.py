"""Two holes in the database's own guarantees.

SQLite: ``INSERT OR REPLACE`` (``REPLACE INTO``) deletes a conflicting row without
firing DELETE triggers, so it could rewrite entries, postings, accounts and closed
periods. A BEFORE INSERT trigger on every ledger table refuses an insert that
conflicts with a stored row (a plain INSERT would fail on the unique index anyway).
Raw inserts must also spell dates as ``YYYY-MM-DD`` (the closed-period trigger
compares text) and amounts as integers.

PostgreSQL: a poster at REPEATABLE READ or SERIALIZABLE could commit an entry into
a period closed after its snapshot was taken. The closer now leaves its
transaction id in the sequence ``ledger_period_closer``, which the closed-period
trigger reads (postgresql_posting.sql).
"""

from django.db import migrations

from ledger.sql import install_posting

# table -> the stored row an insert may not collide with, as one SQL condition
_UNIQUE = {
    "ledger_entry": "id = NEW.id OR idempotency_key = NEW.idempotency_key OR reverses_id = NEW.reverses_id",
    "ledger_posting": "id = NEW.id OR (entry_id = NEW.entry_id AND leg_index = NEW.leg_index)",
    "ledger_account": "id = NEW.id OR (code = NEW.code AND currency = NEW.currency)",
    "ledger_account_day": "id = NEW.id OR (account_id = NEW.account_id AND day = NEW.day)",
    "ledger_period_close": "id = NEW.id OR through_date = NEW.through_date",
    "ledger_chain_seal": "seq = NEW.seq OR entry_id = NEW.entry_id",
    "ledger_chain_block": "id = NEW.id",
}

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
WHEN EXISTS (SELECT 1 FROM {table} WHERE {condition}) BEGIN
    SELECT RAISE(ABORT, 'ledger: this insert collides with a stored row of {table}; the ledger is append-only');
END"""
    for table, condition in _UNIQUE.items()
] + [
    """CREATE TRIGGER ledger_entry_date_canonical BEFORE INSERT ON ledger_entry
WHEN NEW.effective_date IS NOT date(NEW.effective_date) BEGIN
    SELECT RAISE(ABORT, 'ledger: effective_date must be a date written YYYY-MM-DD');
END""",
    """CREATE TRIGGER ledger_posting_amount_integer BEFORE INSERT ON ledger_posting
WHEN typeof(NEW.amount) <> 'integer' OR typeof(NEW.balance_after) <> 'integer' BEGIN
    SELECT RAISE(ABORT, 'ledger: posting amounts and balances are integers of minor units');
END""",
]


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for sql in SQLITE_TRIGGERS:
            schema_editor.execute(sql, params=None)
    elif vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS ledger_period_closer", params=None)
        install_posting(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0016_overdraft_names_running_balance")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop, elidable=False)]
