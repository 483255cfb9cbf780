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

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):  # noqa: N803
        if content_length and content_length > self.limit + 64 * 1024:
            self.request.upload_too_large = content_length  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = self.received  # type: ignore[attr-defined]
            raise StopUpload(connection_reset=False)
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
