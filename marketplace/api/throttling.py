"""Per-key request rates. DRF throttles are soft limits (their counters can race); hard quotas live in
the database where they matter (for example, usage batches are limited in size)."""

import logging

from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from marketplace.api.models import ApiKey

log = logging.getLogger(__name__)


class PerKeyThrottle(SimpleRateThrottle):
    scope = "api_key"

    def allow_request(self, request, view):
        """Fail open when the counters' cache (Redis) is down: an outage must not stop usage being accepted."""
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            log.warning("throttle cache unavailable; allowing the request", exc_info=True)
            return True

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = request.auth.public_id
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
