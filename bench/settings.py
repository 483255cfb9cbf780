"""Settings for benchmarks: the test settings plus django-hordak, the peer we compare with."""

from config.settings.test import *  # noqa: F403
from config.settings.test import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "mptt", "django_extensions", "hordak"]
HORDAK_CURRENCIES = ["EUR"]
HORDAK_DEFAULT_CURRENCY = "EUR"
DEFAULT_CURRENCY = "EUR"
CURRENCIES = ["EUR"]
LOGGING = {"version": 1, "disable_existing_loggers": False}
