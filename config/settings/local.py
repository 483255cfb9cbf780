"""Development on a laptop: the embedded default (SQLite + filesystem broker)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import VAR_DIR
from config.settings.env import env_bool

DEBUG = env_bool("DJANGO_DEBUG", True)

for _sub in ("broker/queue", "broker/processed", "broker/control", "mail", "media"):
    (VAR_DIR / _sub).mkdir(parents=True, exist_ok=True)
WEBHOOKS_ALLOW_PRIVATE_URLS = True
