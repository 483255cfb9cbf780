"""Refuse oversized uploads while they stream in, instead of after they are on disk."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.views.decorators.csrf import csrf_exempt, csrf_protect


class SizeLimitHandler(FileUploadHandler):
    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.declared = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):  # noqa: N803
        # Django handles StopUpload only once a file's data arrives, so a body declared too large is stopped
        # at its first chunk (below), not here, where it would escape as a server error.
        self.declared = content_length or 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit or self.declared > self.limit + 64 * 1024:
            # The size to report: the declared body when it is known (the file and a little form data).
            self.request.upload_too_large = max(self.received, self.declared)  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=False)  # the rest is read and dropped, so the page can answer
        return raw_data

    def file_complete(self, file_size):
        return None


def limit_upload(limit: Callable[[], int]) -> Callable:
    """Install :class:`SizeLimitHandler` before the request body is read (so before CSRF checks it)."""

    def decorator(view: Callable) -> Callable:
        protected = csrf_protect(view)

        @wraps(view)
        @csrf_exempt
        def wrapper(request, *args, **kwargs):
            request.upload_too_large = None
            request.upload_handlers.insert(0, SizeLimitHandler(request, limit()))
            return protected(request, *args, **kwargs)

        return wrapper

    return decorator
