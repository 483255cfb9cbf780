from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "marketplace.catalog"
    label = "catalog"
    verbose_name = "Catalogue"

    def ready(self):
        from marketplace.catalog import checks  # noqa: F401 - registers the system check
