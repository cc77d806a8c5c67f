"""`ask`: a question whose answer goes into a variable, checked as email, phone, number or text.

An answer that fails its check gets the retry message and the question waits again; the flow
moves on only with a valid answer, so later blocks can rely on the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.blocks.base import (
    NEXT,
    QUICK_REPLIES_SCHEMA,
    SYSTEM_VARIABLES,
    VARIABLE_NAME_SCHEMA,
    BlockContext,
    BlockType,
    Problem,
)

CHECKS = ("text", "email", "phone", "number")

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["question", "variable"],
    "properties": {
        "question": {
            "type": "string",
            "minLength": 1,
            "maxLength": 2000,
            "title": "Question",
            "description": "What the bot asks; {{variables}} are filled in.",
        },
        "variable": {**VARIABLE_NAME_SCHEMA, "title": "Save the answer as"},
        "check": {
            "enum": list(CHECKS),
            "default": "text",
            "title": "Answer must be",
            "description": "text (anything), email, phone or number.",
        },
        "retry_message": {
            "type": "string",
            "maxLength": 2000,
            "title": "When the answer does not pass",
            "description": "Sent before asking again. Empty: a standard message.",
        },
        "quick_replies": QUICK_REPLIES_SCHEMA,
    },
}


def _semantic(data: Mapping[str, Any], ctx: BlockContext) -> list[Problem]:
    if data["variable"] in SYSTEM_VARIABLES:
        return [
            Problem(
                ctx.node_id,
                "variable",
                f"“{data['variable']}” is set by Pagepulse itself: choose another name.",
                "reserved_variable",
            )
        ]
    return []


BLOCK = BlockType(
    type="ask",
    label="Ask a question",
    description="Asks, waits for the answer, checks it, and saves it in a variable.",
    schema=SCHEMA,
    handles=(NEXT,),
    semantic=_semantic,
    sets=lambda data: {data["variable"]} if isinstance(data.get("variable"), str) else set(),
    defaults={"question": "", "variable": "", "check": "text", "retry_message": ""},
    waits_for_input=True,
)
