"""How lists are cut into pages."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination


class BroadcastPagination(PageNumberPagination):
    """``{count, next, previous, results}``, newest first (the selector orders them)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class CommentPagination(CursorPagination):
    """Oldest first; a cursor stays stable while new comments arrive at the end."""

    ordering = ("created_at", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request):  # type: ignore[no-untyped-def]
        """DRF's, refusing a cursor whose position is no timestamp (a forged one) with the
        same 404 as any other invalid cursor, before it reaches the query."""
        cursor: Cursor | None = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                valid = parse_datetime(cursor.position) is not None
            except ValueError:
                valid = False
            if not valid:
                raise NotFound(self.invalid_cursor_message)
        return cursor
