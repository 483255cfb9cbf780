"""Cursor pagination: stable under inserts, constant cost on page 10,000."""

from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-created_at"


class CursorById(Cursor):
    ordering = "id"
