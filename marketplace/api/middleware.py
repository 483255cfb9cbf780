"""Requests refused before any view reads them: oversized API bodies (413) and NUL characters in the URL (400),
which no field accepts and PostgreSQL cannot store."""

from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpResponseBadRequest

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


class NulCharacterMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(query):
            detail = "The URL contains a NUL character (%00), which no parameter accepts."
            if request.path.startswith("/api/"):
                return problem_response(400, detail)
            return HttpResponseBadRequest(detail)
        return self.get_response(request)
