"""Transports: how one logical event becomes Facebook's payload, and how it is sent.

Each transport module is a pure payload builder plus a sender through ``graph_api``:

- ``page_activities``: the Events API for Business Messaging, exactly as the guide shows it;
  one call per Page, user and logging target, several users' calls in one Graph batch.
- ``conversions_api``: the Conversions API for Business Messaging, up to 1,000 events a call.

A sender never raises for a Graph error: it returns one ``CallResult`` per Graph call (or batch
operation) saying which events rode it and what Facebook answered, and ``events.delivery``
settles them. docs/adr/0006-transports.md records why there are two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from events import catalog, validation
from events.models import LoggedEvent
from events.policy import TOO_OLD_REASON, too_old
from events.scrub import scrubbed
from graph_api.errors import GraphError
from graph_api.usage import Usage
from tenants.models import Transport

JSON = Any


@dataclass
class CallResult:
    """One Graph call (or one operation of a Graph batch) and the events it carried."""

    events: list[LoggedEvent]
    transport: str
    request: dict[str, JSON]
    """What was sent, secrets removed (``events.scrub``)."""
    error: GraphError | None = None
    http_status: int | None = None
    response: JSON = None
    usage: Usage = field(default_factory=Usage)
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def stored_request(method: str, path: str, body: Mapping[str, JSON]) -> dict[str, JSON]:
    """A request as a DeliveryAttempt keeps it: method, versioned path, body; no secrets."""
    return {"method": method, "path": path, "body": scrubbed(dict(body))}


def error_response(error: GraphError) -> dict[str, JSON]:
    """Facebook's error envelope as we received it (already redacted by graph_api.errors)."""
    envelope: dict[str, JSON] = {"message": error.message}
    for name in ("type", "code", "error_subcode", "error_user_title", "error_user_msg"):
        value = getattr(error, name)
        if value is not None:
            envelope[name] = value
    if error.fbtrace_id:
        envelope["fbtrace_id"] = error.fbtrace_id
    return {"error": envelope}


def json_number(value: Decimal) -> int | float:
    """A money value as the reference's samples write it: 123 stays whole, 57.23 a float."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def unsendable_reason(event: LoggedEvent, *, transport: str, now: datetime) -> str:
    """Why this event must not go out on ``transport`` ("" when it can).

    Checked again just before sending: the Page's transport may have changed since the event
    was logged, and an event the Conversions API would refuse takes its whole call down.
    """
    if transport == Transport.CONVERSIONS_API and too_old(event.event_time, now=now):
        return TOO_OLD_REASON
    if kept := validation.kept_reason(event.event, transport):
        return kept
    problems = validation.validate_event(
        event=event.event,
        params=event.params,
        value=event.value,
        currency=event.currency or None,
        transport=transport,
        logging_target=event.logging_target,
    )
    if problems:
        return " ".join(problem.message for problem in problems)
    if catalog.facebook_name(event.event, transport) is None:  # validation says so too
        return f"{event.event} cannot be sent on {transport}."
    return ""


def facebook_name(event: LoggedEvent, transport: str) -> str:
    """Facebook's name for the event on ``transport`` (``unsendable_reason`` checked it)."""
    name = catalog.facebook_name(event.event, transport)
    if name is None:
        raise ValueError(f"{event.event!r} cannot be sent on {transport}")
    return name
