"""Cursor pagination: stable under inserts, constant cost on page 10,000."""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-created_at"

    def decode_cursor(self, request):
        """A cursor the client mangled is a bad parameter (400 naming it), not a missing page."""
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {"cursor": ["Not a cursor from this API; pass `next` or `previous` as given."]}
            ) from None


class CursorById(Cursor):
    ordering = "id"
