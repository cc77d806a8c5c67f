from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from tenants.params import ascii_digits


class Pagination(PageNumberPagination):
    """Page-numbered lists. A malformed `page_size` is an error, not silently the default."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.getlist(self.page_size_query_param)
        if not raw:
            return self.page_size
        if len(raw) > 1 or not ascii_digits(raw[0]) or not 1 <= int(raw[0]) <= self.max_page_size:
            raise ValidationError(
                {"page_size": [f"Give one whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw[0])

    def get_page_number(self, request: Request, paginator: object) -> int:
        """A given `page` is one whole number from 1 (an empty or malformed one is an error)."""
        raw = request.query_params.getlist(self.page_query_param)
        if not raw:
            return 1
        if len(raw) > 1 or not ascii_digits(raw[0]) or int(raw[0]) < 1:
            raise ValidationError({self.page_query_param: ["Give one whole number from 1."]})
        return int(raw[0])

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, object]]:
        parameters: list[dict[str, object]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
            elif parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
