from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "marketplace.finance"
    label = "finance"
    verbose_name = "Finance"
