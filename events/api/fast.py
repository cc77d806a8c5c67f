"""The hot path of `POST events/`: a plain reader of a well-formed body, and its answer.

DRF's nested serializers (EventsLogSerializer > PsidEventsSerializer > EventInputSerializer)
cost about 2.5 ms of CPU per 20 events, a third of a 500-event request once the INSERT is
cheap. ``read_log_body`` reads the same body with plain dict and list checks and gives exactly
what the serializers would have validated, as ``services.PsidEvents``, or ``None`` whenever it
is not sure: then the view runs the serializers as before, so every error a client sees (its
message, code and JSON shape) is still theirs, word for word, and the OpenAPI schema still
comes from them. It only ever accepts a subset of what the serializers accept, and gives the
same values for it (tests/events/test_fast.py compares the two on good and bad bodies):
a field it does not fully understand (a number where text is expected, text with spaces to
trim, a non-ASCII name, ``"test": "true"``) sends the request down the serializers' path.

The typed fields with real conversions (value, event_time, logging_target) run through the
very DRF field objects the serializer declares, so their rules (precision, rounding, date
formats, time zones, choices) cannot drift apart.

``logged_answer`` is the 202's body, the same JSON as EventsLoggedSerializer gives (which
stays the schema's), without a serializer per row: the rows of one request share their
``created_at`` and mostly their (empty) reason, so each is formatted once.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, TypeGuard, cast

from rest_framework import fields as drf_fields
from rest_framework.exceptions import ValidationError

from events import services
from events.api.serializers import (
    FACEBOOK_ID_RE,
    EventInputSerializer,
    LoggedEventBriefSerializer,
)
from events.models import LoggedEvent
from graph_api.redaction import redact

_PAGE_ID_RE = re.compile(FACEBOOK_ID_RE)
_DECLARED = EventInputSerializer._declared_fields  # DRF's own field objects
_VALUE: drf_fields.Field[Any, Any, Any, Any] = copy.deepcopy(_DECLARED["value"])
_EVENT_TIME: drf_fields.Field[Any, Any, Any, Any] = copy.deepcopy(_DECLARED["event_time"])
_LOGGING_TARGET = cast("drf_fields.ChoiceField", copy.deepcopy(_DECLARED["logging_target"]))
_DEFAULT_LOGGING_TARGET = cast("str", _LOGGING_TARGET.default)  # LoggingTarget.PAGE
_LOGGING_TARGETS: dict[str, str] = dict(_LOGGING_TARGET.choice_strings_to_values)


class _Unsure(Exception):
    """Not something this reader takes as is: the serializers decide."""


@dataclass(frozen=True)
class LogBody:
    """A `POST events/` body as the serializers would have validated it."""

    page_id: str
    batch: list[services.PsidEvents]
    test: bool


def read_log_body(data: Any) -> LogBody | None:
    """The body's page, events and test flag, or None to let the serializers decide."""
    try:
        return _read(data)
    except _Unsure:
        return None


def _read(data: Any) -> LogBody:
    if type(data) is not dict:
        raise _Unsure
    page_id = data.get("page_id")
    if type(page_id) is not str or not _PAGE_ID_RE.fullmatch(page_id):
        raise _Unsure
    test = data.get("test", False)
    if test is not True and test is not False:
        raise _Unsure
    single = "psid" in data or "events" in data
    if single:
        if "batch" in data or "psid" not in data or "events" not in data:
            raise _Unsure  # the shape's own messages are the serializer's
        batch = [_psid_events(data["psid"], data["events"], max_length=True)]
    else:
        items = data.get("batch")
        if type(items) is not list or not items:
            raise _Unsure
        if len(items) > services.MAX_EVENTS_PER_REQUEST:
            raise _Unsure
        batch = []
        for item in items:
            if type(item) is not dict or "psid" not in item or "events" not in item:
                raise _Unsure
            batch.append(_psid_events(item["psid"], item["events"], max_length=False))
    return LogBody(page_id=page_id, batch=batch, test=test)


def _psid_events(psid: Any, events: Any, *, max_length: bool) -> services.PsidEvents:
    if not _plain_text(psid) or type(events) is not list or not events:
        raise _Unsure
    if max_length and len(events) > services.MAX_EVENTS_PER_REQUEST:
        raise _Unsure
    return services.PsidEvents(psid=psid, events=[_event(item) for item in events])


def _plain_text(text: Any) -> TypeGuard[str]:
    """Text a CharField(trim_whitespace=False) keeps exactly as sent: no blank, no NUL, no
    surrogate (ASCII has none)."""
    return type(text) is str and text != "" and text.isascii() and "\x00" not in text


def _event(item: Any) -> services.EventInput:
    if type(item) is not dict:
        raise _Unsure
    name = item.get("event")
    if not _plain_text(name):
        raise _Unsure
    params = item.get("params", None) if "params" in item else {}
    if type(params) is not dict:
        raise _Unsure
    if any(type(key) is not str for key in params):
        raise _Unsure
    currency = item.get("currency", "")
    if type(currency) is not str or (
        currency and (not currency.isascii() or "\x00" in currency or currency != currency.strip())
    ):
        raise _Unsure
    logging_target = _DEFAULT_LOGGING_TARGET
    if "logging_target" in item:
        given = item["logging_target"]
        if type(given) is not str or given not in _LOGGING_TARGETS:
            raise _Unsure
        logging_target = _LOGGING_TARGETS[given]
    return services.EventInput(
        event=name,
        params=dict(params),
        value=_through(_VALUE, item["value"]) if "value" in item else None,
        currency=currency,
        logging_target=logging_target,
        event_time=_through(_EVENT_TIME, item["event_time"]) if "event_time" in item else None,
    )


def _through(field: drf_fields.Field[Any, Any, Any, Any], value: Any) -> Any:
    """``value`` converted by the serializer's own field, or unsure when the field refuses it."""
    if value is None:
        return None
    try:
        return field.run_validation(value)
    except ValidationError as error:
        raise _Unsure from error


_CREATED_AT: drf_fields.Field[Any, Any, Any, Any] = copy.deepcopy(
    LoggedEventBriefSerializer().fields["created_at"]
)


def logged_answer(events: list[LoggedEvent]) -> dict[str, list[dict[str, Any]]]:
    """``EventsLoggedSerializer({"events": events}).data``, as plain dicts."""
    times: dict[Any, Any] = {}
    reasons: dict[str, str] = {}
    answer = []
    for event in events:
        created_at = event.created_at
        if created_at not in times:
            times[created_at] = _CREATED_AT.to_representation(created_at)
        reason = event.last_error
        if reason not in reasons:
            reasons[reason] = redact(reason)
        answer.append(
            {
                "id": int(event.pk),
                "psid": str(event.psid),
                "event": str(event.event),
                "status": str(event.status),
                "reason": reasons[reason],
                "test": bool(event.test),
                "created_at": times[created_at],
            }
        )
    return {"events": answer}
