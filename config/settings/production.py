"""Production: every secret from the environment, HTTPS everywhere."""

from config.settings.base import *  # noqa: F403
from config.settings.env import env_bool, env_int, env_str

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DEBUG = False
# Links in emails sent outside a request: a default would send people to a developer's machine.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL").rstrip("/")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
CERTIFICATE_KEYS_AUTOCREATE = env_bool("CERTIFICATE_KEYS_AUTOCREATE", False)
