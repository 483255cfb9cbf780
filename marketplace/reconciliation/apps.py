from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "marketplace.reconciliation"
    label = "reconciliation"
    verbose_name = "Reconciliation"
