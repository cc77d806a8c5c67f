"""`log_event`: log a standard or custom event for the flow's page, so it shows in Ads Manager.

The event is a catalog key (`lead_submitted`), a Facebook name of either transport, or a custom
name. Parameter values and the value may hold `{{variable}}` placeholders. The rules are
events.validation's, the same ones the events API applies, checked against the page's
transport: a block the transport cannot deliver is an error at publish, and a custom event on
the Conversions API (kept in Pagepulse, never sent) a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.validation import event_warnings, validate_event
from flows.blocks.base import NEXT, WARNING, BlockContext, BlockType, Problem
from flows.blocks.steps import LogEvent, StepInput, StepResult, substitute

LOGGING_TARGETS = ("page", "app_and_page", "app")
LOGGING_TARGET_LABELS = {
    "page": "The Page (shows in its Ads Manager)",
    "app_and_page": "The app and the Page",
    "app": "The app only",
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["event"],
    "properties": {
        "event": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "title": "Event",
            "description": "A standard event from the catalog (GET /api/v1/event-catalog), "
            "or a custom event name.",
        },
        "params": {
            "type": "object",
            "title": "Parameters",
            "description": "Key-value pairs; values may use {{variables}}.",
            "additionalProperties": {"type": ["string", "number"], "title": "Value"},
        },
        "value": {
            "type": ["string", "number", "null"],
            "title": "Value to sum",
            "description": "An amount (e.g. 49.90 or {{order_total}}); needs a currency.",
        },
        "currency": {
            "type": "string",
            "maxLength": 3,
            "title": "Currency",
            "description": "ISO 4217 code, such as USD.",
        },
        "logging_target": {
            "enum": list(LOGGING_TARGETS),
            "x-enumLabels": LOGGING_TARGET_LABELS,
            "default": "page",
            "title": "Log to",
            "description": "The Page (the default: the customer sees the event in Ads "
            "Manager), the app and the Page, or the app only. Only the Events API "
            "(page_activities) tells them apart: on the Conversions API keep the Page.",
        },
    },
}


def _semantic(data: Mapping[str, Any], ctx: BlockContext) -> list[Problem]:
    value = data.get("value")
    problems = validate_event(
        event=data["event"],
        params=data.get("params") or {},
        value=None if value == "" else value,
        currency=data.get("currency") or None,
        transport=ctx.transport,
        logging_target=data.get("logging_target") or None,
        templated=True,
    )
    warnings = event_warnings(event=data["event"], transport=ctx.transport)
    return [Problem(ctx.node_id, p.field, p.message, p.code) for p in problems] + [
        Problem(ctx.node_id, p.field, p.message, p.code, WARNING) for p in warnings
    ]


def step(turn: StepInput) -> StepResult:
    """A LogEvent effect with the placeholders filled in; a value that fills in empty is None."""
    data, variables = turn.data, turn.variables
    params = data.get("params") or {}
    value = data.get("value")
    filled = None if value is None else substitute(value, variables).strip() or None
    effect = LogEvent(
        node_id=turn.node_id,
        step=turn.step,
        event=str(data.get("event", "")),
        params={str(key): substitute(item, variables) for key, item in params.items()},
        value=filled,
        currency=str(data.get("currency") or ""),
        logging_target=str(data.get("logging_target") or LOGGING_TARGETS[0]),
    )
    return StepResult(effects=(effect,), handle=NEXT.id)


BLOCK = BlockType(
    type="log_event",
    label="Log event",
    description="Logs an event (a lead, a purchase…) for the page, delivered to Facebook.",
    schema=SCHEMA,
    handles=(NEXT,),
    semantic=_semantic,
    defaults={"event": "", "params": {}, "value": None, "currency": "", "logging_target": "page"},
    step=step,
)
