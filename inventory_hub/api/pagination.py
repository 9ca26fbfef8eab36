"""Cursor pagination: stable under inserts (a poll adds rows while a client pages), and no
COUNT(*) over a million positions."""

from __future__ import annotations

import re
from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

ID_POSITION = re.compile(r"\d{1,10}")


class HubCursorPagination(CursorPagination):
    """A `page_size` that is not a whole number ≥ 1 is a 400 (DRF would silently ignore it); a
    cursor whose position could not have come from us is DRF's "Invalid cursor" 404."""

    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):  # empty is absent, as for every query parameter of ours
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({self.page_size_query_param: ["A whole number is required."]}) from None
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["Ensure this value is greater than or equal to 1."]})
        return min(size, self.max_page_size)

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and not self.is_valid_position(cursor.position):
            raise NotFound(self.invalid_cursor_message)
        return cursor

    def is_valid_position(self, position: str) -> bool:
        # PostgreSQL refuses NUL in a string literal: a 500, not an empty page.
        return "\x00" not in position

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; more than {self.max_page_size} "
                    f"gives {self.max_page_size})."
                )
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


class IdCursorPagination(HubCursorPagination):
    ordering = "-id"

    def is_valid_position(self, position: str) -> bool:
        return ID_POSITION.fullmatch(position) is not None and int(position) < 2**31
