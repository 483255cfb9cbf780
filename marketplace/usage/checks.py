"""System check: the triggers that stand in for usage events' foreign keys are installed (a migration that
rebuilds one of these tables on SQLite drops them)."""

from django.core.checks import register

from marketplace.triggers import missing_triggers
from marketplace.usage.sql import EXPECTED_TRIGGERS, INSTALLED_BY


@register("database")
def usage_triggers_installed(app_configs=None, databases=None, **kwargs):
    return missing_triggers(
        databases, app="usage", expected=EXPECTED_TRIGGERS, installed_by=INSTALLED_BY,
        vendors=("postgresql", "sqlite"),
    )  # fmt: skip
