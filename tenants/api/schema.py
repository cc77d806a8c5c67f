"""OpenAPI additions: every operation documents the shared error shape for its error statuses."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {
                    "type": "string",
                    "example": "The request is invalid: name: This field is required.",
                },
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}

ERROR_STATUSES = {
    "400": "The request is invalid; `error.details` says which fields and why.",
    "401": "No valid session or API key.",
    "403": "Your role may not do this.",
    "404": "No such object in a workspace you can see.",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflicts with the current state (e.g. the last owner).",
    "415": "Send JSON (`Content-Type: application/json`).",
}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the Error component and error responses."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(status, {"description": description, "content": reference})
            # A view's own description of an error status (extend_schema) keeps its words and
            # gets the shape every error has.
            for status, response in responses.items():
                if status[:1] in {"4", "5"} and not response.get("content"):
                    response["content"] = reference
    return result
