from django.apps import AppConfig


class LicensingConfig(AppConfig):
    name = "marketplace.licensing"
    label = "licensing"
    verbose_name = "Licensing"
