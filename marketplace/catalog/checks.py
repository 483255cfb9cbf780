"""System check: on PostgreSQL, the triggers that stand in for the asset → corpus foreign key are installed."""

from django.core.checks import register

from marketplace.catalog.sql import EXPECTED_TRIGGERS, INSTALLED_BY
from marketplace.triggers import missing_triggers


@register("database")
def catalog_triggers_installed(app_configs=None, databases=None, **kwargs):
    return missing_triggers(
        databases, app="catalog", expected=EXPECTED_TRIGGERS, installed_by=INSTALLED_BY, vendors=("postgresql",)
    )
