"""Per-key request rates. DRF throttles are soft limits (their counters can race); hard quotas live in
the database where they matter (for example, usage batches are limited in size)."""

from rest_framework.throttling import SimpleRateThrottle

from marketplace.api.models import ApiKey


class PerKeyThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = request.auth.public_id
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
