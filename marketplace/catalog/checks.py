"""System check: on PostgreSQL, the triggers that stand in for the asset's foreign keys are installed."""

from django.core.checks import register

from marketplace.catalog.sql import EXPECTED_TRIGGERS
from marketplace.triggers import missing_triggers


@register("database")
def catalog_triggers_installed(app_configs=None, databases=None, **kwargs):
    return [
        error
        for installed_by, expected in EXPECTED_TRIGGERS.items()
        for error in missing_triggers(
            databases, app="catalog", expected=expected, installed_by=installed_by, vendors=("postgresql",)
        )
    ]
