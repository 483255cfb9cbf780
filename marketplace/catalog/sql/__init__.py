"""PostgreSQL triggers that check an asset's corpus and withdrawal once per statement.

See docs/adr/0011-asset-corpus-checked-per-statement.md.

SQLite keeps the foreign keys: changing them there rebuilds the asset table.
"""

from pathlib import Path

_DIR = Path(__file__).parent
# Each set of triggers, with the migration that installs it (a database is checked for a set once it has run).
EXPECTED_TRIGGERS = {
    ("catalog", "0006_asset_corpus_checked_per_statement"): {
        "catalog_asset_corpus_refs", "catalog_asset_corpus_fixed", "catalog_corpus_keep_assets",
    },
    ("catalog", "0026_asset_withdrawal_checked_per_statement"): {
        "catalog_asset_withdrawal_ref", "catalog_withdrawal_keep_assets",
    },
}  # fmt: skip


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute((_DIR / "postgresql.sql").read_text())
