from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "marketplace.usage"
    label = "usage"
    verbose_name = "Usage"
