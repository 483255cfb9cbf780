from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "marketplace.orgs"
    label = "orgs"
    verbose_name = "Organisations"
