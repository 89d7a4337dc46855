"""How lists are cut into pages."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination


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
