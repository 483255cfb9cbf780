"""System checks: the database objects that enforce the ledger's rules are installed, and the posting call can
be prepared.

Run with ``manage.py check --database default``. A migration that rebuilds a
ledger table on SQLite drops its triggers; this catches that.
"""

from django.core import checks
from django.core.checks import Error, register
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.recorder import MigrationRecorder

from ledger.sql import ADDED_TRIGGERS, EXPECTED_TRIGGERS


@register()
def ledger_posting_call_prepared(app_configs=None, **kwargs):
    """Django sets psycopg's ``prepare_threshold`` to None unless OPTIONS name it, and psycopg then runs even a
    statement executed with ``prepare=True`` unprepared: each single post plans its call again (about 0.1 ms)."""
    alias = DEFAULT_DB_ALIAS  # the database the ledger posts to
    if alias not in connections.settings or connections[alias].vendor != "postgresql":  # PostGIS counts too
        return []
    if connections.settings[alias].get("OPTIONS", {}).get("prepare_threshold") is not None:
        return []
    return [
        checks.Warning(
            f"database {alias!r} has prepared statements off (Django's default): every ledger post plans its call "
            "again",
            hint="set DATABASES[...]['OPTIONS']['prepare_threshold'] (psycopg's default is 5), unless a pooler in "
            "transaction mode cannot keep prepared statements",
            id="ledger.W001",
        )
    ]


@register("database")
def ledger_triggers_installed(app_configs=None, databases=None, **kwargs):
    errors = []
    for alias in databases or []:
        connection = connections[alias]
        expected = EXPECTED_TRIGGERS.get(connection.vendor)
        if not expected:
            continue
        # Before the ledger's migrations run (a fresh database), there is nothing to check yet.
        applied = {name for app, name in MigrationRecorder(connection).applied_migrations() if app == "ledger"}
        if "0002_database_guarantees" not in applied:
            continue
        for migration, names in ADDED_TRIGGERS.get(connection.vendor, {}).items():
            if migration in applied:
                expected = expected | names
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # tgenabled 'O' (origin, the default) or 'A' (always) fire in an ordinary session; 'D' (DISABLE
                # TRIGGER) and 'R' (ENABLE REPLICA TRIGGER) do not: present but not enforcing.
                cursor.execute(
                    "SELECT tgname, tgenabled IN ('O', 'A') FROM pg_trigger"
                    " WHERE NOT tgisinternal AND tgname LIKE 'ledger%%'"
                )
            else:
                cursor.execute("SELECT name, 1 FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ledger%'")
            present = dict(cursor.fetchall())
            if connection.vendor == "sqlite" and "0025_sqlite_entries_need_their_last_leg" in applied:
                cursor.execute("SELECT 1 FROM pragma_foreign_key_list('ledger_entry') WHERE \"from\" = 'last_leg'")
                if cursor.fetchone() is None:
                    errors.append(
                        Error(
                            f"ledger_entry's foreign key to its last leg is missing from database {alias!r}",
                            hint="re-run the SQL of ledger migration 0025 (a rebuild of the table dropped it)",
                            id="ledger.E003",
                        )
                    )
        for name in sorted(expected - present.keys()):
            errors.append(
                Error(
                    f"ledger trigger {name} is missing from database {alias!r}",
                    hint="re-install the ledger's guarantees (ledger.sql.install) in a migration",
                    id="ledger.E001",
                )
            )
        for name in sorted(name for name in expected & present.keys() if not present[name]):
            errors.append(
                Error(
                    f"ledger trigger {name} is disabled in database {alias!r}",
                    hint=f"ALTER TABLE … ENABLE TRIGGER {name}",
                    id="ledger.E002",
                )
            )
    return errors
