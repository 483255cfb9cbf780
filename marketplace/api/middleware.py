"""Refuse oversized API bodies with 413 and a problem body, before anything reads them."""

from django.conf import settings

from marketplace.api.errors import problem_response


class ApiBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return problem_response(
                    413, f"The request body is {length:,} bytes; the limit is {limit:,}. Send smaller batches."
                )
        return self.get_response(request)
