from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    name = "marketplace.invoicing"
    label = "invoicing"
    verbose_name = "Invoicing"
