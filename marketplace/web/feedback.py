"""Messages for actions posted from a page: the refusal or the outcome, shown on the page it redirects to."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

_T = TypeVar("_T")


def report(request: HttpRequest, action: Callable[[], _T], success: Callable[[_T], str]) -> _T | None:
    """Run a service call; a refusal (ValidationError) becomes an error message, its result a success message.
    Returns the result, or None when refused."""
    try:
        result = action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None
    messages.success(request, success(result))
    return result
