"""Cursor pagination: stable under inserts (a poll adds rows while a client pages), and no
COUNT(*) over a million positions."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 1000
