"""The Events API for Business Messaging: ``POST /{app-id}/page_activities``, as the guide shows.

One call per Page, Messenger user and logging target, carrying all their events in one
``custom_events`` array of ``{_eventName, _valueToSum?, fb_currency?, ...params}``, with
``advertiser_tracking_enabled=1``, ``application_tracking_enabled=1``, ``page_id``,
``page_scoped_user_id``, ``logging_source=messenger_bot`` and the event's ``logging_target``
(default ``page``), on the Page's token, pinned to ``PAGE_ACTIVITIES_API_VERSION``. Several
users' calls share one HTTP request as Graph batch operations (up to 50); each operation's
answer settles its own events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from events.models import LoggedEvent
from events.transports import (
    CallResult,
    error_response,
    facebook_name,
    json_number,
    stored_request,
)
from graph_api.client import MAX_BATCH_OPERATIONS, GraphClient, page_activities_body
from graph_api.errors import (
    GraphError,
    PermissionMissingError,
    TokenInvalidError,
    TransientError,
)
from graph_api.redaction import SECRET_PARAMS

TRANSPORT = "page_activities"
MAX_EVENTS_PER_CALL = 100
"""Our cap on one call's ``custom_events`` (Facebook documents none; this keeps a call small)."""

__all__ = [
    "MAX_BATCH_OPERATIONS",
    "MAX_EVENTS_PER_CALL",
    "body",
    "custom_event",
    "group",
    "send",
]


def custom_event(event: LoggedEvent) -> dict[str, Any]:
    """One ``custom_events`` item: the guide's ``{"_eventName", "_valueToSum", "fb_currency"}``
    then the event's parameters."""
    item: dict[str, Any] = {"_eventName": facebook_name(event, TRANSPORT)}
    if event.value is not None:
        item["_valueToSum"] = json_number(event.value)
    if event.currency:
        item["fb_currency"] = event.currency
    item.update(event.params)
    return item


def group(events: Sequence[LoggedEvent]) -> list[list[LoggedEvent]]:
    """The events of one call each: same user and logging target, in order, at most
    ``MAX_EVENTS_PER_CALL`` a call."""
    calls: dict[tuple[str, str], list[list[LoggedEvent]]] = {}
    for event in events:
        chunks = calls.setdefault((event.psid, event.logging_target or "page"), [[]])
        if len(chunks[-1]) == MAX_EVENTS_PER_CALL:
            chunks.append([])
        chunks[-1].append(event)
    return [chunk for chunks in calls.values() for chunk in chunks]


def body(*, page_id: str, events: Sequence[LoggedEvent]) -> dict[str, Any]:
    """The JSON body of one call, key for key as the guide's example (``events`` share one
    user and logging target: see ``group``)."""
    first = events[0]
    return page_activities_body(
        page_id=page_id,
        psid=first.psid,
        custom_events=[custom_event(event) for event in events],
        logging_target=first.logging_target or "page",
    )


def send(
    *, graph: GraphClient, page_id: str, token: str, calls: Sequence[Sequence[LoggedEvent]]
) -> list[CallResult]:
    """Send up to 50 calls: one alone as the guide's JSON request, several as one batch."""
    if not calls:
        return []
    if len(calls) > MAX_BATCH_OPERATIONS:
        raise ValueError(f"at most {MAX_BATCH_OPERATIONS} calls at a time, got {len(calls)}")
    if len(calls) == 1:
        return [_send_one(graph=graph, page_id=page_id, token=token, events=calls[0])]
    return _send_batch(graph=graph, page_id=page_id, token=token, calls=calls)


def _path(graph: GraphClient) -> str:
    return f"{graph.page_activities_version}/{graph.app_id}/page_activities"


def _send_one(
    *, graph: GraphClient, page_id: str, token: str, events: Sequence[LoggedEvent]
) -> CallResult:
    payload = body(page_id=page_id, events=events)
    result = CallResult(
        events=list(events),
        transport=TRANSPORT,
        request=stored_request("POST", _path(graph), payload),
    )
    started = time.monotonic()
    try:
        answer = graph.log_page_activities(
            page_token=token,
            page_id=page_id,
            psid=events[0].psid,
            custom_events=payload["custom_events"],
            logging_target=payload["logging_target"],
        )
    except GraphError as error:
        _failed(result, error)
    else:
        result.http_status, result.response, result.usage = (
            200,
            {"success": answer.success},
            answer.usage,
        )
    result.duration_ms = round((time.monotonic() - started) * 1000)
    return result


def _send_batch(
    *, graph: GraphClient, page_id: str, token: str, calls: Sequence[Sequence[LoggedEvent]]
) -> list[CallResult]:
    operations = []
    results = []
    for events in calls:
        payload = body(page_id=page_id, events=events)
        operation = graph.page_activities_operation(
            page_token=token,
            page_id=page_id,
            psid=events[0].psid,
            custom_events=payload["custom_events"],
            logging_target=payload["logging_target"],
        )
        operations.append(operation)
        results.append(
            CallResult(
                events=list(events),
                transport=TRANSPORT,
                request={
                    **stored_request("POST", _path(graph), _operation_body(operation.body or "")),
                    "batch": True,
                },
            )
        )
    started = time.monotonic()
    try:
        answers = graph.batch(operations=operations)
    except GraphError as error:  # the whole request failed: every operation shares its fate
        for result in results:
            _failed(result, _batch_level(error))
        answers = []
    duration = round((time.monotonic() - started) * 1000)
    for result, answer in zip(results, answers, strict=False):
        result.http_status, result.usage = answer.status, answer.usage
        if answer.error is not None:
            _failed(result, answer.error)
            result.http_status = answer.status
        else:
            result.response = answer.body
    for result in results:
        result.duration_ms = duration
    return results


def _batch_level(error: GraphError) -> GraphError:
    """A token or permission error on the batch request itself concerns its top-level token,
    the app's, not the Page's: it must not mark the Page (each operation's own answer does
    that), so it is retried like an outage, with Facebook's message and a hint."""
    if not isinstance(error, TokenInvalidError | PermissionMissingError):
        return error
    return TransientError(
        f"Facebook refused the batch request's app token ({error.message}). Check "
        "FACEBOOK_APP_ID and FACEBOOK_APP_SECRET; the events are retried.",
        code=error.code,
        error_subcode=error.error_subcode,
        type=error.type,
        fbtrace_id=error.fbtrace_id,
        http_status=error.http_status,
        usage=error.usage,
    )


def _operation_body(form: str) -> dict[str, Any]:
    """A batch operation's form body as a person reads it: ``custom_events`` decoded, the
    token and proof left out."""
    fields: dict[str, Any] = {}
    for key, value in parse_qsl(form):
        if key in SECRET_PARAMS:
            continue
        fields[key] = json.loads(value) if key == "custom_events" else value
    return fields


def _failed(result: CallResult, error: GraphError) -> None:
    result.error = error
    result.http_status = error.http_status
    result.response = error_response(error)
    result.usage = error.usage
