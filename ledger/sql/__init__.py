"""Vendor SQL that backs the ledger's guarantees (triggers) and, on PostgreSQL, the posting functions.

Migrations install the guarantees with :func:`install`. On SQLite a migration
that rebuilds a ledger table drops its triggers, so ledger migrations add
columns with plain ``ALTER TABLE`` instead; ``manage.py check`` warns when a
trigger is missing. On PostgreSQL the functions (posting, and the balance
and period checks) are replaced in place by :func:`install_posting`, from the
migration that last changed ``postgresql_posting.sql``.
"""

from pathlib import Path

_DIR = Path(__file__).parent

# Trigger names per vendor, for the system check.
EXPECTED_TRIGGERS = {
    "postgresql": {
        "ledger_entry_immutable", "ledger_posting_immutable", "ledger_period_close_immutable",
        "ledger_chain_seal_immutable", "ledger_chain_block_immutable", "ledger_account_no_delete",
        "ledger_account_day_no_delete", "ledger_account_fixed", "ledger_entry_balanced",
        "ledger_entry_open_period", "ledger_posting_refs",
    },
    "sqlite": {
        "ledger_posting_refs", "ledger_posting_balanced", "ledger_entry_open_period",
        "ledger_entry_no_update", "ledger_entry_no_delete", "ledger_posting_no_update",
        "ledger_posting_no_delete", "ledger_period_close_no_update", "ledger_period_close_no_delete",
        "ledger_account_day_no_delete",
        "ledger_chain_seal_no_update", "ledger_chain_seal_no_delete", "ledger_chain_block_no_update",
        "ledger_chain_block_no_delete", "ledger_account_no_delete", "ledger_account_fixed",
    },
}  # fmt: skip

# Triggers that a later migration adds, expected once that migration has run
# (so that ``migrate``'s own system check does not stop the migration that adds them).
ADDED_TRIGGERS = {
    "postgresql": {
        "0013_no_truncate": {
            "ledger_entry_no_truncate", "ledger_posting_no_truncate", "ledger_account_no_truncate",
            "ledger_account_day_no_truncate", "ledger_period_close_no_truncate", "ledger_chain_seal_no_truncate",
            "ledger_chain_block_no_truncate",
        },
        "0020_balance_checked_by_batch_row": {"ledger_entry_batch_balanced"},
        "0021_period_state_row": {
            "ledger_period_state_no_delete", "ledger_period_state_no_truncate", "ledger_period_close_orders_posters",
        },
    },
    "sqlite": {
        "0017_no_replace_and_snapshot_close": {
            "ledger_entry_no_replace", "ledger_posting_no_replace", "ledger_account_no_replace",
            "ledger_account_day_no_replace", "ledger_period_close_no_replace", "ledger_chain_seal_no_replace",
            "ledger_chain_block_no_replace", "ledger_entry_date_canonical", "ledger_posting_amount_integer",
        },
        "0022_two_leg_entries_on_their_row": {"ledger_entry_legs_as_rows"},
    },
}  # fmt: skip


def _posting_sql(connection) -> str:
    """postgresql_posting.sql with its tables named in the schema they live in: the triggers that guard the books
    must not read a session's own temporary table of the same name (pg_temp comes first on the search path)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(current_schema())")
        schema = cursor.fetchone()[0]
    return (_DIR / "postgresql_posting.sql").read_text().replace("@ledger_schema@", schema)


def statements(vendor: str, connection=None) -> list[str]:
    text = (_DIR / f"{vendor}.sql").read_text()
    if vendor == "postgresql":
        # The functions first: the triggers of postgresql.sql call some of them.
        return [_posting_sql(connection), text]
    return [part.strip() for part in text.split("\n--;;\n") if part.strip()]


def install_posting(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_posting_sql(schema_editor.connection), params=None)


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in EXPECTED_TRIGGERS:
        raise RuntimeError(f"the ledger supports PostgreSQL and SQLite, not {vendor}")
    for sql in statements(vendor, schema_editor.connection):
        schema_editor.execute(sql, params=None)
