"""`ask`: a question whose answer goes into a variable, checked as email, phone, number or text.

An answer that fails its check gets the retry message and the question waits again; the flow
moves on only with a valid answer, so later blocks can rely on the variable. It moves on by the
handle of the quick reply pressed (or typed by its title) when that handle (`reply-<id>`) is
connected, and by `next` ("Any other answer" then) otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flows.blocks.base import (
    ANY_OTHER_ANSWER,
    QUICK_REPLIES_SCHEMA,
    QUICK_REPLY_HANDLES,
    SYSTEM_VARIABLES,
    VARIABLE_NAME_SCHEMA,
    BlockContext,
    BlockType,
    Handle,
    Problem,
)
from flows.blocks.steps import (
    ANSWER_KINDS,
    MAX_TEXT_CHARS,
    TEXT,
    WAITING,
    Choice,
    Incoming,
    StepInput,
    StepResult,
    build_message,
    choices,
    chosen,
    leave_by,
    send,
)

CHECKS = ("text", "email", "phone", "number")
CHECK_LABELS = {
    "text": "Any text",
    "email": "An email address",
    "phone": "A phone number",
    "number": "A number",
}
NEXT = Handle("next", "Next", label_when_branching=ANY_OTHER_ANSWER)

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["question", "variable"],
    "properties": {
        "question": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEXT_CHARS,
            "title": "Question",
            "description": "What the bot asks; {{variables}} are filled in.",
        },
        "quick_replies": QUICK_REPLIES_SCHEMA,
        "variable": {**VARIABLE_NAME_SCHEMA, "title": "Save the answer as"},
        "check": {
            "enum": list(CHECKS),
            "x-enumLabels": CHECK_LABELS,
            "default": "text",
            "title": "Answer must be",
            "description": "Any text, an email address, a phone number or a number; an answer "
            "that is not gets the retry message and the question again.",
        },
        "retry_message": {
            "type": "string",
            "maxLength": MAX_TEXT_CHARS,
            "title": "When the answer does not pass",
            "description": "Sent before asking again. Empty: a standard message.",
        },
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


# The WHATWG (HTML `type=email`) address syntax, with a dot required in the domain.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
PHONE_RE = re.compile(r"^\+?[0-9 ()-]+$")
NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
MAX_EMAIL_CHARS = 254
MAX_NUMBER_CHARS = 40

RETRY_MESSAGES = {
    "text": "Sorry, I need an answer to go on. Could you type one?",
    "email": "That doesn't look like an email address. Could you check it?",
    "phone": "That doesn't look like a phone number. Could you check it?",
    "number": "Please answer with a number, like 3 or 4.5.",
}


def _email(answer: str) -> str | None:
    """The address with its domain lower-cased; None when it is not one."""
    if len(answer) > MAX_EMAIL_CHARS or not EMAIL_RE.match(answer):
        return None
    local, domain = answer.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def _phone(answer: str) -> str | None:
    """Digits only, with a leading + kept: "+1 (555) 010-9999" -> "+15550109999"."""
    if not PHONE_RE.fullmatch(answer):
        return None
    digits = re.sub(r"[^0-9]", "", answer)
    if not 7 <= len(digits) <= 15:
        return None
    return ("+" if answer.startswith("+") else "") + digits


def _number(answer: str) -> str | None:
    """A decimal written plainly: "007" -> "7", "4.50" -> "4.5", "-0" -> "0", ".5" -> "0.5"."""
    if len(answer) > MAX_NUMBER_CHARS or not NUMBER_RE.fullmatch(answer):
        return None
    try:
        text = format(Decimal(answer), "f")
    except InvalidOperation:  # pragma: no cover  # NUMBER_RE only lets decimals through
        return None
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


CHECKERS: dict[str, Callable[[str], str | None]] = {
    "text": lambda answer: answer or None,
    "email": _email,
    "phone": _phone,
    "number": _number,
}


def check_answer(check: str, answer: str) -> str | None:
    """The answer as it is saved (normalized), or None when it does not pass `check`."""
    return CHECKERS.get(check, CHECKERS["text"])(answer.strip())


def _answer(incoming: Incoming, choice: Choice | None) -> tuple[str, str | None]:
    """The answer's text and the quick reply payload it carries (None: typed, matching none).

    A pressed quick reply or postback answers with its title (the title of the quick reply
    with its payload when it comes without one, else the payload); typed text that is a quick
    reply's title (in any case) counts as pressing it.
    """
    if incoming.kind != TEXT:
        title = incoming.text.strip() or (choice.title if choice else incoming.payload)
        return title, incoming.payload or title
    if choice is not None:
        return choice.title, choice.payload
    return incoming.text.strip(), None


def step(turn: StepInput) -> StepResult:
    """Ask and wait; with an answer, check it: save it and go on, or say so and ask again."""
    data, variables = turn.data, turn.variables
    question = build_message(data.get("question", ""), variables, replies=data.get("quick_replies"))
    answer = turn.answer
    if answer is None or answer.kind not in ANSWER_KINDS:
        return StepResult(
            effects=send(turn.node_id, question), status=WAITING, retries=turn.retries
        )
    check = str(data.get("check") or "text")
    choice = chosen(answer, choices((QUICK_REPLY_HANDLES,), data, variables))
    text, payload = _answer(answer, choice)
    saved = check_answer(check, text)
    if saved is None:
        retry = build_message(
            data.get("retry_message") or RETRY_MESSAGES.get(check, RETRY_MESSAGES["text"]),
            variables,
        )
        return StepResult(
            effects=send(turn.node_id, retry) + send(turn.node_id, question),
            status=WAITING,
            retries=turn.retries + 1,
        )
    name = str(data.get("variable", ""))
    updates = {name: saved}
    if payload is not None:
        updates[f"{name}_payload"] = payload
    elif f"{name}_payload" in variables:
        updates[f"{name}_payload"] = ""  # typed this time: a payload from before is stale
    return StepResult(variables=updates, handle=leave_by(choice, turn.connected, NEXT.id))


BLOCK = BlockType(
    type="ask",
    label="Ask a question",
    description=(
        "Asks, waits for the answer, checks it, and saves it in a variable. Each quick reply "
        "can lead its own way."
    ),
    schema=SCHEMA,
    handles=(NEXT,),
    dynamic_handles=(QUICK_REPLY_HANDLES,),
    semantic=_semantic,
    sets=lambda data: {data["variable"]} if isinstance(data.get("variable"), str) else set(),
    defaults={
        "question": "",
        "quick_replies": [],
        "variable": "",
        "check": "text",
        "retry_message": "",
    },
    sets_from=("variable",),
    waits_for_input=True,
    step=step,
)
