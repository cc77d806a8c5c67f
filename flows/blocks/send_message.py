"""`send_message`: text, with optional quick replies and up to three buttons.

Limits are Messenger's Send API ones (reference §6.5): text under 2,000 characters, at most 13
quick replies with titles of at most 20 and payloads of at most 1,000 characters. `{{variable}}`
placeholders are filled in when the message is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.blocks.base import NEXT, QUICK_REPLIES_SCHEMA, BlockContext, BlockType, Problem
from flows.blocks.steps import MAX_TEXT_CHARS, StepInput, StepResult, build_message, send

BUTTON_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "title"],
    "properties": {
        "type": {
            "enum": ["postback", "web_url"],
            "title": "Kind",
            "description": "postback sends its payload back; web_url opens a link.",
        },
        "title": {"type": "string", "minLength": 1, "maxLength": 20, "title": "Title"},
        "payload": {"type": "string", "maxLength": 1000, "title": "Payload"},
        "url": {"type": "string", "maxLength": 2000, "title": "Link (https://…)"},
    },
}

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {
        "text": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEXT_CHARS,
            "title": "Message",
            "description": "What the bot says; {{variables}} are filled in.",
        },
        "quick_replies": QUICK_REPLIES_SCHEMA,
        "buttons": {"type": "array", "maxItems": 3, "title": "Buttons", "items": BUTTON_SCHEMA},
    },
}


def _semantic(data: Mapping[str, Any], ctx: BlockContext) -> list[Problem]:
    problems = []
    buttons = data.get("buttons", [])
    for index, button in enumerate(buttons):
        where = f"buttons[{index}]"
        if button["type"] == "web_url" and not str(button.get("url", "")).startswith(
            ("https://", "http://", "{{")
        ):
            problems.append(
                Problem(
                    ctx.node_id,
                    f"{where}.url",
                    "A link button needs a URL starting with https:// (or http://).",
                    "invalid_url",
                )
            )
        if button["type"] == "postback" and not button.get("payload"):
            problems.append(
                Problem(
                    ctx.node_id,
                    f"{where}.payload",
                    "A postback button needs a payload: the text sent back when it is tapped.",
                    "required",
                )
            )
    return problems


def step(turn: StepInput) -> StepResult:
    """The message with its variables filled in (nothing when it fills in empty), then next."""
    data = turn.data
    message = build_message(
        data.get("text", ""),
        turn.variables,
        replies=data.get("quick_replies"),
        buttons=data.get("buttons"),
    )
    return StepResult(effects=send(turn.node_id, message), handle=NEXT.id)


BLOCK = BlockType(
    type="send_message",
    label="Send message",
    description="Sends text, optionally with quick replies or up to three buttons.",
    schema=SCHEMA,
    handles=(NEXT,),
    semantic=_semantic,
    defaults={"text": "", "quick_replies": [], "buttons": []},
    step=step,
)
