"""Settings shared by every environment, read from environment variables.

With no environment at all the product runs embedded: SQLite for data and
Celery's filesystem broker, so that nothing needs a server. ``DATABASE_URL``
and ``CELERY_BROKER_URL`` switch to PostgreSQL and Redis.
"""

from pathlib import Path
from typing import Any

import dj_database_url

from config.settings.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("CLEARFRAME_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-development-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ledger",
    "marketplace.web",
    "marketplace.orgs",
    "marketplace.events",
    "marketplace.catalog",
    "marketplace.licensing",
    "marketplace.usage",
    "marketplace.rating",
    "marketplace.invoicing",
    "marketplace.payouts",
    "marketplace.statements",
    "marketplace.reconciliation",
    "marketplace.webhooks",
    "marketplace.payments",
    "marketplace.api",
    "marketplace.finance",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "marketplace.api.middleware.ApiBodyLimitMiddleware",
    "marketplace.api.middleware.NulCharacterMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "marketplace.web.context.navigation",
            ],
        },
    },
]


def database_from_url(url: str) -> dict[str, Any]:
    """Build Django's DATABASES entry from a URL, with per-engine tuning.

    SQLite gets WAL, a busy timeout and IMMEDIATE transactions, because the
    web server, the Celery worker and beat all write to the same file: a
    deferred transaction that later upgrades to a write lock can fail with
    "database is locked" instead of waiting its turn.
    """
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60)))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        config["CONN_HEALTH_CHECKS"] = True
        # Django turns psycopg's prepared statements off unless asked, and then psycopg ignores even an explicit
        # prepare=True: the ledger's posting call was planned again on every post (about 0.1 ms of a 0.75 ms
        # post). Django's own queries bind client-side and are never prepared either way. Off for a pooler in
        # transaction mode without prepared-statement support (PgBouncer before 1.21).
        if env_bool("DATABASE_PREPARED_STATEMENTS", True):
            config.setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
    return config


DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'clearframe.sqlite3'}")
DATABASES = {"default": database_from_url(DATABASE_URL)}
# Prepared statements turned off on purpose (a pooler that cannot keep them): the ledger's warning is answered.
SILENCED_SYSTEM_CHECKS = [] if env_bool("DATABASE_PREPARED_STATEMENTS", True) else ["ledger.W001"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = ["marketplace.orgs.auth.EmailBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(VAR_DIR / "media")))

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "ClearFrame <no-reply@clearframe.example>")
# Where people reach the product: links in emails sent outside a request (review decisions, say) start with it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # kombu's default, "control", lands in the working directory
        "store_processed": False,
    }
else:
    # Longer than any task's countdown, so that Redis never redelivers a
    # reserved task that is still legitimately waiting.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

LEDGER_SEAL_INTERVAL_SECONDS = env_int("LEDGER_SEAL_INTERVAL_SECONDS", 10)
# "auto": the PL/pgSQL functions on PostgreSQL, the ORM elsewhere. Set here, not left to getattr()'s default:
# Django caches a setting it finds, while a missing one costs every post a raised and caught AttributeError.
LEDGER_ENGINE = "auto"

# --- The market ------------------------------------------------------------------
# Whether the operator approves listings before they go public.
MARKET_REVIEW_REQUIRED = env_bool("MARKET_REVIEW_REQUIRED", True)
# The marketplace's commission on offers, in basis points (1500 = 15%).
MARKET_MIN_COMMISSION_BP = env_int("MARKET_MIN_COMMISSION_BP", 1500)
MARKET_DEFAULT_COMMISSION_BP = env_int("MARKET_DEFAULT_COMMISSION_BP", 2000)
MARKET_MAX_COMMISSION_BP = env_int("MARKET_MAX_COMMISSION_BP", 5000)
# Ed25519 keys that sign licence certificates, newest first (PEM files). Development generates one.
CERTIFICATE_SIGNING_KEY_FILES = env_list(
    "CERTIFICATE_SIGNING_KEY_FILES", str(VAR_DIR / "keys" / "certificate-ed25519.pem")
)
CERTIFICATE_KEYS_AUTOCREATE = env_bool("CERTIFICATE_KEYS_AUTOCREATE", True)
# How long a quote can be ordered, and a download link used.
QUOTE_TTL_HOURS = env_int("QUOTE_TTL_HOURS", 48)
DOWNLOAD_LINK_TTL_SECONDS = env_int("DOWNLOAD_LINK_TTL_SECONDS", 3600)
# Where delivered files are read from: the local filesystem by default; an S3-compatible bucket (through
# django-storages) when DELIVERY_S3_BUCKET is set. A file whose manifest says s3://media/a/b.mp4 is stored under
# the key media/a/b.mp4 in either. S3 credentials come from the usual AWS_* variables or the instance role.
DELIVERY_STORAGE_ROOT = env_str("DELIVERY_STORAGE_ROOT", str(VAR_DIR / "assets"))
DELIVERY_S3_BUCKET = env_str("DELIVERY_S3_BUCKET", "")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "delivery": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": DELIVERY_S3_BUCKET,
            "endpoint_url": env_str("DELIVERY_S3_ENDPOINT_URL", "") or None,  # MinIO, R2, Wasabi…
            "region_name": env_str("DELIVERY_S3_REGION", "") or None,
            "default_acl": None,
            "file_overwrite": False,
        },
    }
    if DELIVERY_S3_BUCKET
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DELIVERY_STORAGE_ROOT},
    },
}
# Webhooks to private or loopback addresses are refused unless this is on (development and tests).
WEBHOOKS_ALLOW_PRIVATE_URLS = env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS", False)

# --- Stripe -----------------------------------------------------------------------------
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "sk_test_clearframe_local")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "whsec_clearframe_local")
STRIPE_WEBHOOK_TOLERANCE = env_int("STRIPE_WEBHOOK_TOLERANCE", 300)
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")  # e.g. a localstripe server in development and tests
# Connect calls (accounts, transfers, payouts); the tests point this at their own Connect fake.
STRIPE_CONNECT_API_BASE = env_str("STRIPE_CONNECT_API_BASE", "")
STRIPE_CONNECT_COUNTRY = env_str("STRIPE_CONNECT_COUNTRY", "FR")

# --- The API ---------------------------------------------------------------------------
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
API_IDEMPOTENCY_TTL_HOURS = env_int("API_IDEMPOTENCY_TTL_HOURS", 24)
USAGE_BATCH_LIMIT = 10_000

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": ["marketplace.api.parsers.StrictJSONParser"],  # a JSON API; other bodies get 415
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "marketplace.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["marketplace.api.auth.IsMember"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.pagination.Cursor",
    "DEFAULT_THROTTLE_CLASSES": ["marketplace.api.throttling.PerKeyThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env_str("API_RATE_PER_KEY", "6000/min")},
    "EXCEPTION_HANDLER": "marketplace.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "marketplace.api.schema.ProblemAutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ClearFrame API",
    "DESCRIPTION": "License video for AI training: search the catalogue, buy licences with certificates of "
    "lawful sourcing, take delivery, report usage and receive webhooks. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatus": "marketplace.licensing.models.OrderStatus",
        "LicenceStatus": "marketplace.licensing.models.LicenceStatus",
        "DeliveryStatus": "marketplace.webhooks.models.DeliveryStatus",
        "PaymentMethod": "marketplace.licensing.models.PaymentMethod",
    },
}

# Throttle counters and other shared short-lived state: Redis when there is one.
if CELERY_BROKER_URL.startswith("redis://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CELERY_BROKER_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Largest manifest file accepted (bytes).
MANIFEST_MAX_BYTES = env_int("MANIFEST_MAX_BYTES", 10**9)
PREVIEW_MAX_BYTES = env_int("PREVIEW_MAX_BYTES", 50 * 10**6)
# The uploaded file of a refused or failed manifest import is deleted this long after it ended (its row errors
# stay); an applied manifest's file is kept, as the record of what was imported.
MANIFEST_REFUSED_KEEP_DAYS = env_int("MANIFEST_REFUSED_KEEP_DAYS", 7)
# Uploads above this size stream to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

CELERY_BEAT_SCHEDULE = {
    "ledger-seal-chain": {
        "task": "ledger.seal_chain",
        "schedule": float(LEDGER_SEAL_INTERVAL_SECONDS),
    },
    "catalog-sweep-imports": {"task": "catalog.sweep_imports", "schedule": 60.0},
    "catalog-prune-manifest-files": {"task": "catalog.prune_manifest_files", "schedule": 86400.0},
    "webhooks-dispatch": {"task": "webhooks.dispatch", "schedule": 5.0},
    "licensing-expire": {"task": "licensing.expire_licences", "schedule": 3600.0},
    "payments-sweep-stripe-events": {"task": "payments.sweep_stripe_events", "schedule": 120.0},
    "api-sweep-idempotency": {"task": "api.sweep_idempotency", "schedule": 3600.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's own default sends its records to a console handler of its own as well as to the root's: once.
    "loggers": {"django": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO"), "propagate": False}},
}

# Rating: how often unrated usage is rated, how many licences one run (one transaction) takes, how long after
# a licence ends its minimum guarantee or commitment is settled, and when the sweeper rates stragglers.
RATING_INTERVAL_SECONDS = env_int("RATING_INTERVAL_SECONDS", 60)
RATING_CHUNK_LICENCES = env_int("RATING_CHUNK_LICENCES", 100)
RATING_SETTLEMENT_GRACE_HOURS = env_int("RATING_SETTLEMENT_GRACE_HOURS", 72)
RATING_SWEEP_AFTER_SECONDS = env_int("RATING_SWEEP_AFTER_SECONDS", 300)
CELERY_BEAT_SCHEDULE["usage-rate"] = {"task": "usage.rate", "schedule": float(RATING_INTERVAL_SECONDS)}
CELERY_BEAT_SCHEDULE["usage-sweep-unrated"] = {"task": "usage.sweep_unrated", "schedule": 600.0}

# Invoicing: monthly invoices for licensees on account, issued this many hours into the next month (after a
# last rating run), due this many days later.
INVOICE_ISSUE_AFTER_HOURS = env_int("INVOICE_ISSUE_AFTER_HOURS", 2)
INVOICE_DUE_DAYS = env_int("INVOICE_DUE_DAYS", 30)
CELERY_BEAT_SCHEDULE["invoicing-issue-monthly"] = {"task": "invoicing.issue_monthly", "schedule": 3600.0}

# Payouts: the smallest royalty balance paid out by default, and the creditor on the bank file (SEPA).
PAYOUT_DEFAULT_THRESHOLD = env_int("PAYOUT_DEFAULT_THRESHOLD", 5_000)
PAYOUT_DEBTOR_NAME = env_str("PAYOUT_DEBTOR_NAME", "ClearFrame Marketplace SAS")
PAYOUT_DEBTOR_IBAN = env_str("PAYOUT_DEBTOR_IBAN", "FR7630006000011234567890189")
PAYOUT_DEBTOR_BIC = env_str("PAYOUT_DEBTOR_BIC", "AGRIFRPP")
CELERY_BEAT_SCHEDULE["payouts-propose-daily"] = {"task": "payouts.propose_runs", "schedule": 86400.0}
CELERY_BEAT_SCHEDULE["payouts-sweep-executing"] = {"task": "payouts.sweep_executing", "schedule": 600.0}
STATEMENT_ISSUE_AFTER_HOURS = env_int("STATEMENT_ISSUE_AFTER_HOURS", 6)
CELERY_BEAT_SCHEDULE["statements-issue-monthly"] = {"task": "statements.issue_monthly", "schedule": 3600.0}
CELERY_BEAT_SCHEDULE["reconciliation-sync-stripe"] = {"task": "reconciliation.sync_stripe", "schedule": 86400.0}
CELERY_BEAT_SCHEDULE["reconciliation-daily-report"] = {"task": "reconciliation.daily_report", "schedule": 86400.0}
