from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "marketplace.usage"
    label = "usage"
    verbose_name = "Usage"

    def ready(self) -> None:
        from marketplace.usage import checks  # noqa: F401 - registers the system check
