"""Production settings pass Django's deployment checks; the ledger's own check finds missing triggers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def check_deploy(tmp_path, **env_overrides) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-0123456789",
        "DJANGO_ALLOWED_HOSTS": "clearframe.example",
        "PUBLIC_BASE_URL": "https://clearframe.example",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CLEARFRAME_VAR_DIR": str(tmp_path),
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", CLEARFRAME_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


@pytest.mark.django_db
def test_ledger_check_names_a_missing_trigger():
    assert [e.id for e in run_checks(databases=["default"]) if e.id.startswith("ledger")] == []
    name = "ledger_posting_refs"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER {name} ON ledger_posting")
        else:
            cursor.execute(f"DROP TRIGGER {name}")
    errors = [e for e in run_checks(databases=["default"]) if e.id == "ledger.E001"]
    assert [e.msg for e in errors] == [f"ledger trigger {name} is missing from database 'default'"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the last-leg foreign key is SQLite's")
@pytest.mark.django_db
def test_ledger_check_names_a_missing_last_leg_foreign_key_on_sqlite():
    assert [e for e in run_checks(databases=["default"]) if e.id == "ledger.E003"] == []
    with connection.cursor() as cursor:  # as a rebuild of the table would leave it: no such key on last_leg
        cursor.execute("ALTER TABLE ledger_entry RENAME COLUMN last_leg TO last_leg_renamed")
    errors = [e.msg for e in run_checks(databases=["default"]) if e.id == "ledger.E003"]
    assert errors == ["ledger_entry's foreign key to its last leg is missing from database 'default'"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_ledger_check_expects_a_later_trigger_once_its_migration_ran():
    # migrate runs the system checks before migrating: a trigger that a pending migration adds must not stop it.
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER ledger_chain_block_no_truncate ON ledger_chain_block")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'ledger' AND name = '0013_no_truncate'")
        assert [e for e in run_checks(databases=["default"]) if e.id == "ledger.E001"] == []
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('ledger', '0013_no_truncate', now())"
        )
    errors = [e.msg for e in run_checks(databases=["default"]) if e.id == "ledger.E001"]
    assert errors == ["ledger trigger ledger_chain_block_no_truncate is missing from database 'default'"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_ledger_check_names_a_disabled_trigger():
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER ledger_entry_immutable")
    errors = [e.msg for e in run_checks(databases=["default"]) if e.id == "ledger.E002"]
    assert errors == ["ledger trigger ledger_entry_immutable is disabled in database 'default'"]


def test_production_settings_refuse_to_start_without_the_public_address(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production", CLEARFRAME_VAR_DIR=str(tmp_path),
        DJANGO_SECRET_KEY="x" * 20 + "a-long-random-production-secret-0123456789",
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "PUBLIC_BASE_URL is required" in result.stderr


def test_postgresql_connections_prepare_statements_unless_turned_off(monkeypatch):
    from config.settings.base import database_from_url

    url = "postgres://postgres@db.example:5432/clearframe?sslmode=require"
    options = database_from_url(url)["OPTIONS"]
    assert options["prepare_threshold"] == 5
    assert options["sslmode"] == "require"  # merged with what the URL sets, not in place of it
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", "off")  # a pooler in transaction mode
    assert "prepare_threshold" not in database_from_url(url).get("OPTIONS", {})
    assert "prepare_threshold" not in database_from_url("sqlite:////tmp/x.sqlite3")["OPTIONS"]


def test_ledger_check_warns_when_the_ledger_database_cannot_prepare_the_posting_call(monkeypatch):
    from types import SimpleNamespace

    from ledger import checks as ledger_checks

    assert [e for e in run_checks() if e.id == "ledger.W001"] == []  # the project's own settings

    class Databases:
        def __init__(self, vendor, options):
            self.settings = {"default": {"OPTIONS": options}, "reports": {"OPTIONS": {}}}
            self.vendor = vendor

        def __getitem__(self, alias):
            return SimpleNamespace(vendor=self.vendor)

    def warnings(vendor, options):
        monkeypatch.setattr(ledger_checks, "connections", Databases(vendor, options))
        return [e.msg for e in ledger_checks.ledger_posting_call_prepared()]

    assert warnings("postgresql", {}) == [
        "database 'default' has prepared statements off (Django's default): every ledger post plans its call again"
    ]
    assert warnings("postgresql", {"prepare_threshold": 5}) == []  # another alias without it is not the ledger's
    assert warnings("sqlite", {}) == []


@pytest.mark.parametrize("prepared", ["1", "0"])
def test_check_deploy_is_clean_on_postgresql_with_prepared_statements_on_or_turned_off(tmp_path, prepared):
    """Turned off on purpose (a pooler that cannot keep them), the ledger's warning about it is answered."""
    # Not connected to: the deployment checks run without --database.
    url = "postgres://clearframe@db.example:5432/clearframe"
    result = check_deploy(tmp_path, DATABASE_URL=url, DATABASE_PREPARED_STATEMENTS=prepared)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
