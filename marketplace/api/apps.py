from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "marketplace.api"
    label = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from marketplace.api import schema  # noqa: F401 - registers the OpenAPI extension
