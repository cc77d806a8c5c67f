"""Domain errors of the events app. The API layer maps every `DomainError` to one JSON shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tenants.exceptions import DomainError, NotFound

__all__ = ["DomainError", "EventNotFound", "InvalidEvents", "NoEvents", "TooManyEvents"]


class InvalidEvents(DomainError):
    """One or more events of a request failed validation; nothing was written.

    ``details`` is ``{"events": {"<index>": [{"field", "message", "code"}, ...]}}``, the index
    being the event's position in the request (across every PSID of a batch, in order), so a
    client can point at the exact event and field.
    """

    code = "invalid_events"
    status = 400

    def __init__(self, problems: Mapping[int, Sequence[Mapping[str, Any]]]) -> None:
        count = len(problems)
        first_index = min(problems)
        first = problems[first_index][0]
        where = (
            f"events[{first_index}].{first['field']}"
            if first.get("field")
            else (f"events[{first_index}]")
        )
        message = (
            f"{count} event{'s' if count != 1 else ''} cannot be logged, so none was: "
            f"{where}: {first['message']}"
        )
        super().__init__(
            message,
            details={
                "events": {
                    str(index): [dict(problem) for problem in found]
                    for index, found in sorted(problems.items())
                }
            },
        )
        self.problems = problems


class TooManyEvents(DomainError):
    code = "too_many_events"
    status = 400


class NoEvents(DomainError):
    code = "no_events"
    status = 400


class EventNotFound(NotFound):
    code = "not_found"
