"""System check: the triggers that stand in for usage events' foreign keys are installed (a migration that
rebuilds one of these tables on SQLite drops them)."""

from django.core.checks import Error, register
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from marketplace.usage.sql import EXPECTED_TRIGGERS, INSTALLED_BY


@register("database")
def usage_triggers_installed(app_configs=None, databases=None, **kwargs):
    errors = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor not in ("postgresql", "sqlite"):
            continue
        if INSTALLED_BY not in MigrationRecorder(connection).applied_migrations():
            continue
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'usage%%'")
            else:
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'usage%'")
            present = {row[0] for row in cursor.fetchall()}
        errors += [
            Error(
                f"usage trigger {name} is missing from database {alias!r}",
                hint="re-install them (marketplace.usage.sql.install) in a migration",
                id="usage.E001",
            )
            for name in sorted(EXPECTED_TRIGGERS - present)
        ]
    return errors
