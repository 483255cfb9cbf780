"""Settings for the test suite.

The suite runs on PostgreSQL and Redis when ``DATABASE_URL`` and
``CELERY_BROKER_URL`` are set (CI sets both), otherwise on SQLite; tests that
need PostgreSQL are skipped with a reason in that case.
"""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = VAR_DIR / "test-media"
DEBUG = False

if "CELERY_BROKER_URL" not in os.environ:
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
WEBHOOKS_ALLOW_PRIVATE_URLS = True
CERTIFICATE_SIGNING_KEY_FILES = [str(VAR_DIR / "test-keys" / "certificate-ed25519.pem")]
DELIVERY_STORAGE_ROOT = str(VAR_DIR / "test-assets")
STORAGES = {
    **STORAGES,
    "delivery": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DELIVERY_STORAGE_ROOT},
    },
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "100000/min"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Between transactional tests the suite empties every table with TRUNCATE, which the ledger refuses otherwise.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c ledger.allow_truncate=on"
