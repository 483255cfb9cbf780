"""System-check support: triggers that stand in for foreign keys must be installed in every database."""

from django.core.checks import Error
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder


def missing_triggers(
    databases, *, app: str, expected: set[str], installed_by: tuple[str, str], vendors: tuple[str, ...]
) -> list[Error]:
    """An ``<app>.E001`` error per expected trigger (named ``<app>…``) missing once its migration has run."""
    errors = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor not in vendors or installed_by not in MigrationRecorder(connection).applied_migrations():
            continue
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE %s", [f"{app}%"])
            else:
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", [f"{app}%"])
            present = {row[0] for row in cursor.fetchall()}
        errors += [
            Error(
                f"{app} trigger {name} is missing from database {alias!r}",
                hint=f"re-install them (marketplace.{app}.sql.install) in a migration",
                id=f"{app}.E001",
            )
            for name in sorted(expected - present)
        ]
    return errors
