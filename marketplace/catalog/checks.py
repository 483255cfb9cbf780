"""System check: on PostgreSQL, the triggers that stand in for the asset → corpus foreign key are installed."""

from django.core.checks import Error, register
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from marketplace.catalog.sql import EXPECTED_TRIGGERS, INSTALLED_BY


@register("database")
def catalog_triggers_installed(app_configs=None, databases=None, **kwargs):
    errors = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql" or INSTALLED_BY not in MigrationRecorder(connection).applied_migrations():
            continue
        with connection.cursor() as cursor:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'catalog%%'")
            present = {row[0] for row in cursor.fetchall()}
        errors += [
            Error(
                f"catalog trigger {name} is missing from database {alias!r}",
                hint="re-install them (marketplace.catalog.sql.install) in a migration",
                id="catalog.E001",
            )
            for name in sorted(EXPECTED_TRIGGERS - present)
        ]
    return errors
