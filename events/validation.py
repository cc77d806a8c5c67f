"""Event validation: the one set of rules for the flow editor, publishing and the events API.

Facebook's rules come from the reference (section 2.4 and section 10): names and parameter
keys match the ``_eventName`` regex, at most 25 parameters, values are strings or numbers of at
most 100 characters, and a value needs an ISO 4217 currency. Pagepulse adds: no custom key
starting with ``_`` (Facebook's internal fields), no event Facebook logs itself
(``fb_messenger_bot_*``), ``fb_`` names kept for Facebook's standard events. On the Conversions
API a custom name (or a standard event it has no name for) is not an error: the event is kept in
Pagepulse and never sent (``kept_reason``, ``event_warnings``). Every message says what is wrong
and how to fix it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation

from events import catalog
from events.currencies import CURRENCIES

EVENT_NAME_RE = re.compile(r"^[0-9a-zA-Z_][0-9a-zA-Z _-]{0,39}$")
MAX_PARAMS = 25
MAX_VALUE_LENGTH = 100
LOGGING_TARGETS = ("page", "app_and_page", "app")
TEMPLATE_RE = re.compile(r"\{\{\s*[^{}\s][^{}]*\}\}")
NAME_RULE = (
    "1 to 40 characters: letters, digits, _, - and spaces, not starting with a space or hyphen"
)

# Reasons of events that are never sent (LoggedEvent.last_error), shown in the delivery log.
TEST_REASON = (
    "Test event: stored in Pagepulse and not sent to Facebook. To send test events too, turn on "
    "“Send test events to Facebook” in the workspace's Settings."
)


@dataclass(frozen=True)
class Problem:
    field: str  # "event", "params", "params.<key>", "value", "currency" or "logging_target"
    message: str
    code: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def is_valid_currency(code: str) -> bool:
    """Whether `code` is an ISO 4217 currency code (upper case, as Facebook wants it)."""
    return isinstance(code, str) and code in CURRENCIES


def is_template(value: object) -> bool:
    """Whether `value` is a string with a ``{{variable}}`` placeholder in it."""
    return isinstance(value, str) and TEMPLATE_RE.search(value) is not None


def _other(transport: str) -> str:
    return next(t for t in catalog.TRANSPORTS if t != transport)


def _alternatives(event: catalog.CatalogEvent, transport: str) -> str:
    """What to pick instead of `event` on `transport`: events of its category, or a custom one."""
    same = [e for e in catalog.for_transport(transport) if e.category == event.category]
    if same:
        return f"Pick an event {transport} carries, such as " + ", ".join(
            f"{e.label} ({e.name_for(transport)})" for e in same[:5]
        )
    if catalog.custom_events_allowed(transport):
        return "Log a custom event with a name of your own"
    return f"Pick one of its {len(catalog.for_transport(transport))} standard events"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _check_event(
    event: object, transport: str | None
) -> tuple[list[Problem], catalog.CatalogEvent | None]:
    """Problems with the event name, and the catalog event it names (or None)."""
    if not isinstance(event, str) or not event.strip():
        message = "Name the event: pick a standard event, or type a custom event name."
        return [Problem("event", message, "required")], None
    reserved = catalog.reserved_reason(event)
    if reserved == "logged_by_facebook":
        message = (
            f"{event} is logged by Facebook itself (every fb_messenger_bot_* event is), so "
            "Pagepulse does not send it. Pick another event."
        )
        return [Problem("event", message, "logged_by_facebook")], None
    if reserved is not None:
        message = (
            f"{event} is an event Facebook's SDKs log internally; it cannot be sent from a "
            "bot. Pick a standard event or another custom name."
        )
        return [Problem("event", message, "reserved")], None
    found = catalog.resolve(event)
    if found is not None:
        if (
            transport is not None
            and found.name_for(transport) is None
            and catalog.custom_events_allowed(transport)
        ):
            other = _other(transport)
            message = (
                f"{found.label} ({event}) cannot be sent on {transport}: only {other} carries "
                f"it. {_alternatives(found, transport)}, or switch the page's transport to "
                f"{other}."
            )
            return [Problem("event", message, "not_on_transport")], found
        return [], found
    return _check_custom_name(event, transport), None


def _check_custom_name(event: str, transport: str | None) -> list[Problem]:
    if not EVENT_NAME_RE.fullmatch(event):
        message = f"{event!r} is not a valid event name: use {NAME_RULE}."
        return [Problem("event", message, "invalid_name")]
    lowered = event.lower()
    near = next(
        (
            name
            for e in catalog.all_events()
            for name in (e.key, *filter(None, e.names.values()))
            if name.lower() == lowered
        ),
        None,
    )
    if near is not None:
        message = f"Did you mean the standard event {near}? Event names are case-sensitive."
        return [Problem("event", message, "case_mismatch")]
    if lowered.startswith("fb_"):
        message = (
            f"{event}: names starting with fb_ are kept for Facebook's standard events. Pick "
            "the standard event from the list, or drop the fb_ prefix."
        )
        return [Problem("event", message, "reserved_prefix")]
    return []


def kept_reason(event: object, transport: str | None) -> str | None:
    """Why ``event`` on ``transport`` is kept in Pagepulse and never sent, or None.

    The Conversions API for Business Messaging refuses every name outside its 14 standard
    events, so a custom event there, or a standard event it has no name for, is kept: stored
    with status ``kept``, counted in the delivery log and exports, never sent. A name that is
    not valid at all is not kept: ``validate_event`` says what is wrong with it.
    """
    if transport is None or not isinstance(event, str) or not event.strip():
        return None
    if catalog.custom_events_allowed(transport) or catalog.reserved_reason(event) is not None:
        return None
    found = catalog.resolve(event)
    if found is not None:
        if found.name_for(transport) is not None:
            return None
        return (
            f"{found.label} ({event}) has no Conversions API name, so Pagepulse keeps it in "
            "Pagepulse only: it is counted in the delivery log and exports, never sent to "
            f"Facebook. To send it, {_lower_first(_alternatives(found, transport))}."
        )
    if _check_custom_name(event, transport):
        return None
    names = len(catalog.for_transport(transport))
    return (
        f"{event} is a custom event. The Conversions API takes only its {names} standard "
        "events, so Pagepulse keeps this one in Pagepulse only: it is counted in the delivery "
        "log and exports, never sent to Facebook. To send it, pick a standard event such as "
        "Lead submitted (LeadSubmitted)."
    )


def event_warnings(*, event: object, transport: str | None) -> list[Problem]:
    """What publishing and the editor warn about (not errors): an event kept, not sent."""
    reason = kept_reason(event, transport)
    return [Problem("event", reason, "kept_in_pagepulse")] if reason else []


def _type_problem(param: catalog.Param, value: object) -> str | None:
    """Why `value` does not fit the standard parameter's type or choices, or None."""
    text = str(value).strip()
    if param.type == "integer" and not re.fullmatch(r"-?\d+", text):
        return "must be a whole number, e.g. 3"
    if param.type == "number" and _as_number(value) is None:
        return "must be a number, e.g. 49.90"
    if param.type == "flag" and text not in {"0", "1"}:
        return "must be 1 (yes) or 0 (no)"
    if param.type == "json":
        try:
            json.loads(text)
        except ValueError:
            return 'must be JSON, e.g. [{"id": "1234", "quantity": 2}]'
    if param.choices and text not in param.choices:
        return f"must be one of: {', '.join(param.choices)}"
    return None


def _check_param(
    key: object,
    value: object,
    *,
    found: catalog.CatalogEvent | None,
    transport: str | None,
    templated: bool,
) -> Problem | None:
    where = f"params.{key}"
    if not isinstance(key, str) or not EVENT_NAME_RE.fullmatch(key):
        return Problem(
            where, f"{key!r} is not a valid parameter key: use {NAME_RULE}.", "invalid_key"
        )
    if key.startswith("_"):
        message = (
            f"{key}: keys starting with _ are Facebook's internal fields (such as _valueToSum). "
            "Rename it; put an amount in the event's value instead."
        )
        return Problem(where, message, "reserved_key")
    if key == "fb_currency":
        message = (
            "Set the currency in the event's currency field, not as the fb_currency parameter."
        )
        return Problem(where, message, "use_currency_field")
    if transport == "conversions_api" and key in ("value", "currency"):
        # custom_data carries the event's own value and currency under these keys.
        message = (
            f"Set the {key} in the event's {key} field, not as a parameter: on the "
            f"Conversions API it would replace the event's {key}."
        )
        return Problem(where, message, f"use_{key}_field")
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        message = f"{key}: a parameter value is text or a number, not {_kind(value)}."
        return Problem(where, message, "invalid_value")
    param = (found.param(key) if found else None) or catalog.standard_param(key)
    if param is not None and transport is not None and transport not in param.transports:
        message = (
            f"{key} ({param.label}) is a parameter of {', '.join(param.transports)}; "
            f"{transport} does not take it. Remove it."
        )
        return Problem(where, message, "not_on_transport")
    if templated and is_template(value):
        return None
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        return Problem(where, f"{key}: the number must be finite.", "invalid_value")
    if len(str(value)) > MAX_VALUE_LENGTH:
        message = (
            f"{key}: the value is {len(str(value))} characters; Facebook takes at most "
            f"{MAX_VALUE_LENGTH}. Shorten it."
        )
        return Problem(where, message, "too_long")
    if param is None:
        return None
    reason = _type_problem(param, value)
    if reason is not None:
        return Problem(where, f"{key} ({param.label}) {reason}.", "invalid_value")
    return None


def _kind(value: object) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true/false (use 1 or 0)"
    if isinstance(value, list | tuple):
        return "a list (send one value, or JSON text)"
    return f"a {type(value).__name__}"


def _check_params(
    params: object,
    *,
    found: catalog.CatalogEvent | None,
    transport: str | None,
    templated: bool,
) -> list[Problem]:
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        message = 'Parameters are an object of key-value pairs, e.g. {"fb_content_id": "1234"}.'
        return [Problem("params", message, "invalid_type")]
    problems = []
    if len(params) > MAX_PARAMS:
        message = (
            f"{len(params)} parameters is too many: Facebook takes at most {MAX_PARAMS} an "
            f"event. Remove {len(params) - MAX_PARAMS}."
        )
        problems.append(Problem("params", message, "too_many"))
    for key, value in params.items():
        problem = _check_param(key, value, found=found, transport=transport, templated=templated)
        if problem is not None:
            problems.append(problem)
    if found is not None:
        wanted = found.params_for(transport) if transport else found.params
        for param in wanted:
            if param.requirement == "required" and param.key not in params:
                message = f"{found.label} needs {param.label} ({param.key}): add it."
                problems.append(Problem(f"params.{param.key}", message, "required"))
    return problems


def _as_number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None
    if not isinstance(value, int | float | Decimal | str) or not number.is_finite():
        return None
    return number


def _check_value(
    value: object, currency: str | None, *, found: catalog.CatalogEvent | None, templated: bool
) -> list[Problem]:
    problems = []
    if value is not None:
        if not (templated and is_template(value)) and _as_number(value) is None:
            message = f"The value is a number, such as 49.90, not {_kind(value)}."
            problems.append(Problem("value", message, "invalid_value"))
        money = not (found is not None and found.takes_value and not found.takes_currency)
        if money and not currency:
            message = "A value needs a currency: add its ISO 4217 code, such as USD or EUR."
            problems.append(Problem("currency", message, "currency_required"))
    if currency and not is_valid_currency(currency):
        if isinstance(currency, str) and is_valid_currency(currency.upper()):
            message = f"Write currency codes in capitals: {currency.upper()}."
        else:
            message = f"{currency!r} is not an ISO 4217 currency code; use one such as USD or EUR."
        problems.append(Problem("currency", message, "invalid_currency"))
    return problems


def _check_logging_target(logging_target: str | None, transport: str | None) -> list[Problem]:
    if logging_target is None or logging_target == "":
        return []
    if logging_target not in LOGGING_TARGETS:
        message = (
            f"{logging_target!r} is not a logging target: use page (the default), "
            "app_and_page or app."
        )
        return [Problem("logging_target", message, "invalid_choice")]
    if transport is not None and transport != "page_activities" and logging_target != "page":
        message = (
            f"The logging target applies only to page_activities; {transport} sends every "
            "event to the page's dataset. Set it to page."
        )
        return [Problem("logging_target", message, "not_on_transport")]
    return []


def validate_event(
    *,
    event: str,
    params: Mapping[str, object] | None = None,
    value: object = None,
    currency: str | None = None,
    transport: str | None = None,
    logging_target: str | None = None,
    templated: bool = False,
) -> list[Problem]:
    """Every problem with this event, in field order; an empty list means it can be logged.

    transport=None checks only the rules that hold on every transport (a draft flow without a
    page). templated=True lets parameter values and the value hold ``{{variable}}``
    placeholders (flow blocks): such a value is not length- or number-checked.
    """
    if transport is not None and transport not in catalog.TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}")
    problems, found = _check_event(event, transport)
    if kept_reason(event, transport) is not None:
        # Kept in Pagepulse, never sent: only the rules that hold everywhere apply.
        transport = None
    problems += _check_params(params, found=found, transport=transport, templated=templated)
    problems += _check_value(value, currency, found=found, templated=templated)
    problems += _check_logging_target(logging_target, transport)
    return problems
