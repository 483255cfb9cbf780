"""PostgreSQL triggers that check an asset's corpus once per statement.

See docs/adr/0011-asset-corpus-checked-per-statement.md.

SQLite keeps the foreign key: changing it there rebuilds the asset table.
"""

from pathlib import Path

_DIR = Path(__file__).parent
EXPECTED_TRIGGERS = {"catalog_asset_corpus_refs", "catalog_asset_corpus_fixed", "catalog_corpus_keep_assets"}
INSTALLED_BY = ("catalog", "0006_asset_corpus_checked_per_statement")


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute((_DIR / "postgresql.sql").read_text())
