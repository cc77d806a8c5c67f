"""The Conversions API for Business Messaging: ``POST /{dataset-id}/events`` (reference §3.3).

Up to 1,000 events a call for the Page's dataset, each with ``event_time`` in Unix seconds,
``action_source=business_messaging``, ``messaging_channel=messenger``,
``user_data={page_id, page_scoped_user_id}`` (numbers, as in the reference's sample),
``custom_data`` with the currency, the value and the event's parameters, and a deterministic
``event_id`` derived from our row, so a resent event carries the same id (Facebook does not
deduplicate business-messaging events for us: reference §3.4). One invalid event rejects the
whole call, so delivery checks every event first and splits a refused call.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from events.models import LoggedEvent
from events.transports import (
    CallResult,
    error_response,
    facebook_name,
    json_number,
    stored_request,
)
from graph_api.client import MAX_CAPI_EVENTS, GraphClient
from graph_api.errors import GraphError

TRANSPORT = "conversions_api"
ACTION_SOURCE = "business_messaging"
MESSAGING_CHANNEL = "messenger"

__all__ = ["MAX_CAPI_EVENTS", "body", "chunks", "event_id", "send", "server_event"]


def event_id(event: LoggedEvent) -> str:
    """Our id for the event at Facebook: the same on every attempt."""
    return f"pagepulse-{event.pk}"


def server_event(event: LoggedEvent, *, page_id: str) -> dict[str, Any]:
    """One ``data`` item, in the order of the reference's sample, then ``event_id``."""
    item: dict[str, Any] = {
        "event_name": facebook_name(event, TRANSPORT),
        "event_time": int(event.event_time.timestamp()),
        "action_source": ACTION_SOURCE,
        "messaging_channel": MESSAGING_CHANNEL,
        "user_data": {"page_id": int(page_id), "page_scoped_user_id": int(event.psid)},
    }
    custom_data: dict[str, Any] = {}
    if event.currency:
        custom_data["currency"] = event.currency
    if event.value is not None:
        custom_data["value"] = json_number(event.value)
    custom_data.update(event.params)
    if custom_data:
        item["custom_data"] = custom_data
    item["event_id"] = event_id(event)
    return item


def chunks(events: Sequence[LoggedEvent]) -> list[list[LoggedEvent]]:
    """The events in calls of at most 1,000."""
    return [list(events[i : i + MAX_CAPI_EVENTS]) for i in range(0, len(events), MAX_CAPI_EVENTS)]


def body(*, page_id: str, events: Sequence[LoggedEvent]) -> dict[str, Any]:
    """The request body: ``data`` and our ``partner_agent``."""
    return {
        "data": [server_event(event, page_id=page_id) for event in events],
        "partner_agent": settings.EVENTS_CAPI_PARTNER_AGENT,
    }


def send(
    *,
    graph: GraphClient,
    page_id: str,
    dataset_id: str,
    token: str,
    events: Sequence[LoggedEvent],
) -> CallResult:
    """Send one call (at most 1,000 events) and say what Facebook answered."""
    payload = body(page_id=page_id, events=events)
    result = CallResult(
        events=list(events),
        transport=TRANSPORT,
        request=stored_request("POST", f"{graph.version}/{dataset_id}/events", payload),
    )
    started = time.monotonic()
    try:
        answer = graph.send_capi_events(
            dataset_id=dataset_id,
            token=token,
            events=payload["data"],
            partner_agent=payload["partner_agent"],
        )
    except GraphError as error:
        result.error, result.http_status = error, error.http_status
        result.response, result.usage = error_response(error), error.usage
    else:
        result.http_status, result.usage = 200, answer.usage
        result.response = {
            "events_received": answer.events_received,
            "messages": list(answer.messages),
            "fbtrace_id": answer.fbtrace_id,
        }
    result.duration_ms = round((time.monotonic() - started) * 1000)
    return result
