"""Database triggers that check usage events' references per statement (docs/adr/0006-usage-references.md)."""

from pathlib import Path

_DIR = Path(__file__).parent
EXPECTED_TRIGGERS = {
    "usage_event_refs", "usage_event_refs_fixed", "usage_keep_licence", "usage_keep_asset", "usage_keep_organisation",
}  # fmt: skip
INSTALLED_BY = ("usage", "0002_references_checked_per_statement")


def install(apps, schema_editor, prefix: str = "") -> None:
    vendor = schema_editor.connection.vendor
    text = (_DIR / f"{prefix}{vendor}.sql").read_text()
    parts = [text] if vendor == "postgresql" else [p.strip() for p in text.split("\n--;;\n") if p.strip()]
    with schema_editor.connection.cursor() as cursor:
        for statement in parts:
            cursor.execute(statement)


def install_rated(apps, schema_editor) -> None:
    """Events become immutable except for being marked rated, once (needs the rating_run column)."""
    install(apps, schema_editor, prefix="rated_")
