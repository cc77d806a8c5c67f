"""`send_message`: text, with optional quick replies and up to three buttons.

Limits are Messenger's Send API ones (reference §6.5): text under 2,000 characters, at most 13
quick replies with titles of at most 20 and payloads of at most 1,000 characters. `{{variable}}`
placeholders are filled in when the message is sent.

A quick reply or postback button with an `id` has its own handle (`reply-<id>`,
`button-<id>`). With none of them connected the block sends and goes on by `next`; with at
least one connected it sends and waits, like an `ask` without a variable: the answer leaves by
the handle of the reply or button it matches (payload first, then title, case-insensitive) if
that handle is connected, else by `next` ("Any other answer").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.blocks.base import (
    ANY_OTHER_ANSWER,
    QUICK_REPLIES_SCHEMA,
    QUICK_REPLY_HANDLES,
    BlockContext,
    BlockType,
    DynamicHandles,
    Handle,
    Problem,
    item_id_schema,
)
from flows.blocks.steps import (
    MAX_TEXT_CHARS,
    WAITING,
    StepInput,
    StepResult,
    build_message,
    choices,
    chosen,
    leave_by,
    send,
)

BUTTON_KINDS = {"postback": "Reply button", "web_url": "Link"}

BUTTON_SCHEMA = {
    "type": "object",
    "title": "Button",
    "additionalProperties": False,
    "required": ["type", "title"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 20, "title": "Title"},
        "type": {
            "enum": list(BUTTON_KINDS),
            "x-enumLabels": BUTTON_KINDS,
            "title": "Kind",
            "description": "A reply button sends its payload back to the bot (and can lead "
            "its own way); a link opens a web page.",
        },
        "payload": {
            "type": "string",
            "maxLength": 1000,
            "title": "Payload",
            "description": "For a reply button: sent back when it is tapped.",
        },
        "url": {
            "type": "string",
            "maxLength": 2000,
            "title": "Link (https://…)",
            "description": "For a link: the page it opens.",
        },
        "id": item_id_schema("button", "button-"),
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
        "buttons": {
            "type": "array",
            "maxItems": 3,
            "title": "Buttons",
            "description": "Up to 3 buttons under the text (Messenger's limit).",
            "items": BUTTON_SCHEMA,
        },
        "quick_replies": QUICK_REPLIES_SCHEMA,
    },
}

BUTTON_HANDLES = DynamicHandles(
    items="buttons", prefix="button-", noun="button", when={"type": "postback"}
)
ITEM_HANDLES = (QUICK_REPLY_HANDLES, BUTTON_HANDLES)
NEXT = Handle("next", "Next", label_when_branching=ANY_OTHER_ANSWER)


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
    """The message with its variables filled in (nothing when it fills in empty), then next;
    or, with a reply or button handle connected, wait and leave by the answer's handle."""
    data = turn.data
    if turn.answer is not None:  # the person answered the message this block waits at
        choice = chosen(turn.answer, choices(ITEM_HANDLES, data, turn.variables))
        return StepResult(handle=leave_by(choice, turn.connected, NEXT.id))
    message = build_message(
        data.get("text", ""),
        turn.variables,
        replies=data.get("quick_replies"),
        buttons=data.get("buttons"),
    )
    if message is not None and BLOCK.branching(data, turn.connected):
        return StepResult(effects=send(turn.node_id, message), status=WAITING)
    return StepResult(effects=send(turn.node_id, message), handle=NEXT.id)


BLOCK = BlockType(
    type="send_message",
    label="Send message",
    description=(
        "Sends text, optionally with quick replies or up to three buttons. Connect a quick "
        "reply or reply button to wait for the answer and lead each its own way."
    ),
    schema=SCHEMA,
    handles=(NEXT,),
    dynamic_handles=ITEM_HANDLES,
    semantic=_semantic,
    defaults={"text": "", "buttons": [], "quick_replies": []},
    waits_when_branching=True,
    step=step,
)
