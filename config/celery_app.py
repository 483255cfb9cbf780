"""The Celery application.

Settings come from Django (``CELERY_*``). Tasks are found in every installed
app's ``tasks`` module. The beat schedule lives in settings so that it can be
read and tested like any other configuration.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("clearframe")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
