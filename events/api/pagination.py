"""Cursor pagination for the events list: stable under inserts, constant cost at any depth.

An integration that pages through a busy workspace's events must neither skip nor repeat one
while new events arrive, and page 1,000 must cost what page 1 does, so the list is keyset-paged
on the primary key (newest first) instead of numbered.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from tenants.api.pagination import Pagination
from tenants.params import ascii_digits

MAX_ID_DIGITS = 18  # below 2**63: what the database's bigint holds


class EventCursorPagination(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    # The id grows with every insert, and it is unique, so a position is one row: no ties.
    ordering = "-id"
    invalid_cursor_message = (
        "This cursor is not one this list gave out. Follow the `next` or `previous` link of a "
        "previous response, or start again without `cursor`."
    )

    def get_page_size(self, request: Request) -> int:
        # The same strict `page_size` as every other list (a typo is an error, not the default).
        return Pagination.get_page_size(self, request)  # type: ignore[arg-type]

    def decode_cursor(self, request: Request) -> Cursor | None:
        # DRF answers a bad cursor with a 404, as if the list were gone; it is a bad parameter.
        # A cursor is only base64, so one edited by hand can hold any position: only an id is
        # one this list could have given out.
        try:
            cursor: Cursor | None = super().decode_cursor(request)
        except NotFound:
            cursor = None
            valid = False
        else:
            # DRF's stubs say int, but a decoded position is the string from the cursor.
            position = None if cursor is None or cursor.position is None else str(cursor.position)
            valid = position is None or ascii_digits(position, max_length=MAX_ID_DIGITS)
        if not valid:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})
        return cursor

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
        return parameters
