"""One error shape for the whole API (RFC 9457 problem details):

{"type": "https://clearframe.example/errors/validation", "title": "…", "status": 400,
 "detail": "…", "errors": {"field": ["message"]} or [{"index": 3, "field": "…", "message": "…"}]}
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ledger.errors import LedgerError

ERROR_BASE = "https://docs.clearframe.example/errors/"
TITLES = {
    400: ("validation", "The request is not valid"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable", "The request cannot be processed"),
    429: ("rate-limited", "Too many requests"),
    500: ("server-error", "Server error"),
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


def problem(status_code: int, detail: str, errors=None, kind: str | None = None, title: str | None = None) -> dict:
    slug, default_title = TITLES.get(status_code, ("error", "Error"))
    body = {
        "type": ERROR_BASE + (kind or slug),
        "title": title or default_title,
        "status": status_code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(status_code: int, detail: str, errors=None, **kwargs) -> JsonResponse:
    return JsonResponse(
        problem(status_code, detail, errors, **kwargs), status=status_code, content_type="application/problem+json"
    )


def _flatten(detail) -> dict | list:
    if isinstance(detail, dict):
        return {
            k: _flatten(v) if isinstance(v, dict) else [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in detail.items()
        }
    if isinstance(detail, list):
        return [str(x) for x in detail]
    return [str(detail)]


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(errors)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, LedgerError):
        exc = Conflict(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        if isinstance(errors, dict) and list(errors) == ["non_field_errors"]:
            detail = " ".join(errors["non_field_errors"])
        else:
            detail = "Some fields are not valid; see errors."
        body = problem(code, detail, errors)
    else:
        detail = exc.detail if isinstance(getattr(exc, "detail", None), str) else str(getattr(exc, "detail", exc))
        body = problem(code, detail)
        if isinstance(exc, exceptions.Throttled) and exc.wait:
            body["retry_after"] = int(exc.wait)
    new = Response(body, status=code, headers=dict(response.items()))
    new.content_type = "application/problem+json"
    return new


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """URLs under /api/ that match no route answer in the API's error shape, not with the HTML page."""
    if _is_api(request):
        return problem_response(404, "No such API route or object; see /api/v1/docs/.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return problem_response(500, "Something went wrong on our side; it has been logged. Retry later.")
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)
