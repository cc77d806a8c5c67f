"""What a block's runtime step takes and returns, and the helpers the steps share.

A step is a pure function `step(turn: StepInput) -> StepResult`: no models, no I/O, no clock.
`flows.interpreter` runs the steps one after another (see its docstring) and re-exports the
message and effect types defined here, which live here so that the block modules can build
them without importing the interpreter (which imports the registry).

Limits are the Send API's (reference §6.5): text *less than* 2,000 characters, at most 13
quick replies with titles of at most 20 and payloads of at most 1,000 characters. A button
template holds at most 3 buttons and, per Messenger's button-template reference, up to 640
characters of text. Substituted text longer than a limit is cut (ending in "…"), so a message
built here is always one the Send API accepts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flows.blocks.base import PLACEHOLDER_RE, DynamicHandles

ACTIVE = "active"
WAITING = "waiting"
ENDED = "ended"
HANDED_OFF = "handed_off"
STATUSES = (ACTIVE, WAITING, ENDED, HANDED_OFF)

# The kinds of `Incoming`; the first three can answer an `ask`.
TEXT, QUICK_REPLY, POSTBACK, REFERRAL, START = (
    "text",
    "quick_reply",
    "postback",
    "referral",
    "start",
)
ANSWER_KINDS = frozenset({TEXT, QUICK_REPLY, POSTBACK})

MAX_TEXT_CHARS = 1999
"""The Send API's text "must be UTF-8 and less than 2000 characters" (reference §6.5): block
schemas allow this much, and text that grows past it when {{variables}} are filled in is cut."""
MAX_BUTTON_TEXT_CHARS = 640
MAX_QUICK_REPLIES = 13
MAX_TITLE_CHARS = 20
MAX_PAYLOAD_CHARS = 1000
MAX_BUTTONS = 3
MAX_NOTE_CHARS = 1000


@dataclass(frozen=True)
class Incoming:
    """What the person did: typed text, pressed a quick reply or a postback button, etc."""

    kind: str  # "text" | "quick_reply" | "postback" | "referral" | "start"
    text: str = ""  # the user's text (also a quick reply's or a postback button's title)
    payload: str = ""  # quick_reply / postback payload
    ref: str = ""  # referral / m.me ref parameter


@dataclass(frozen=True)
class SendMessage:
    """Send `message` (the Send API's `message` object, exactly) to the person."""

    node_id: str
    message: Mapping[str, Any]


@dataclass(frozen=True)
class LogEvent:
    """Log an event; the runtime's idempotency key is built from conversation, node and step."""

    node_id: str
    step: int
    event: str
    params: Mapping[str, str]
    value: str | None
    currency: str
    logging_target: str


@dataclass(frozen=True)
class Handoff:
    """Flag the thread for a person, with a note for them."""

    node_id: str
    note: str


Effect = SendMessage | LogEvent | Handoff


@dataclass(frozen=True)
class StepInput:
    """One run of one block."""

    node_id: str
    data: Mapping[str, Any]  # the block's settings (shape already checked by its schema)
    variables: Mapping[str, str]  # the conversation's variables, system ones included
    step: int  # this run's number in the conversation (1, 2, …)
    answer: Incoming | None = None  # the person's answer, for the block the conversation waits at
    retries: int = 0  # failed answers so far to the `ask` the conversation waits at
    # The node's handles that have an edge (the interpreter knows the document; a step not).
    connected: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StepResult:
    """What a block did: effects, variables to set, and where the conversation goes."""

    effects: tuple[Effect, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    handle: str | None = None  # with status "active": the handle to leave by
    status: str = ACTIVE  # "active" (go on), "waiting", "ended" or "handed_off"
    retries: int = 0  # with status "waiting": failed answers so far


def substitute(template: object, variables: Mapping[str, str]) -> str:
    """`template` with each `{{name}}` replaced by its variable; an unknown one by ""."""
    return PLACEHOLDER_RE.sub(lambda m: variables.get(m.group(1), ""), str(template))


def clip(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters (ending in "…" when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Choice:
    """A quick reply or postback button as the person saw it: title and payload filled in."""

    title: str
    payload: str
    handle: str | None  # its own handle (`reply-<id>`, `button-<id>`), None without an id


def choices(
    specs: Iterable[DynamicHandles], data: Mapping[str, Any], variables: Mapping[str, str]
) -> list[Choice]:
    """What the person can press in the block's message, in order: the items of each spec
    that post back (quick replies, postback buttons), built as `build_message` sends them."""
    found = []
    for spec in specs:
        for _, item in spec.entries(data):
            if not spec.applies_to(item):
                continue
            title = clip(substitute(item.get(spec.label, ""), variables).strip(), MAX_TITLE_CHARS)
            if title:
                payload = substitute(item.get("payload") or "", variables) or title
                found.append(Choice(title, clip(payload, MAX_PAYLOAD_CHARS), spec.handle_of(item)))
    return found


def chosen(answer: Incoming, options: Iterable[Choice]) -> Choice | None:
    """The option the answer picked: a pressed one by its payload first, then by its title
    (case-insensitive), which also makes typing an option's title count as pressing it."""
    options = list(options)
    if answer.kind != TEXT and answer.payload:
        for option in options:
            if option.payload == answer.payload:
                return option
    said = answer.text.strip().casefold()
    if said:
        for option in options:
            if option.title.casefold() == said:
                return option
    return None


def leave_by(choice: Choice | None, connected: Collection[str], default: str) -> str:
    """The chosen option's own handle when it is connected, else `default` (`next`)."""
    if choice is not None and choice.handle is not None and choice.handle in connected:
        return choice.handle
    return default


def quick_replies(replies: object, variables: Mapping[str, str]) -> list[dict[str, str]]:
    """The Send API's `quick_replies` for the block's quick replies (empty titles dropped)."""
    built = []
    for reply in replies if isinstance(replies, list) else []:
        if not isinstance(reply, Mapping):
            continue
        title = clip(substitute(reply.get("title", ""), variables).strip(), MAX_TITLE_CHARS)
        payload = substitute(reply.get("payload") or "", variables) or title
        if title:
            built.append(
                {
                    "content_type": "text",
                    "title": title,
                    "payload": clip(payload, MAX_PAYLOAD_CHARS),
                }
            )
    return built[:MAX_QUICK_REPLIES]


def _buttons(buttons: object, variables: Mapping[str, str]) -> list[dict[str, str]]:
    built = []
    for button in buttons if isinstance(buttons, list) else []:
        if not isinstance(button, Mapping):
            continue
        title = clip(substitute(button.get("title", ""), variables).strip(), MAX_TITLE_CHARS)
        if not title:
            continue
        if button.get("type") == "web_url":
            url = substitute(button.get("url", ""), variables).strip()
            if url.startswith(("https://", "http://")):
                built.append({"type": "web_url", "url": url, "title": title})
        else:
            payload = substitute(button.get("payload") or "", variables) or title
            built.append(
                {"type": "postback", "title": title, "payload": clip(payload, MAX_PAYLOAD_CHARS)}
            )
    return built[:MAX_BUTTONS]


def build_message(
    text: object,
    variables: Mapping[str, str],
    *,
    replies: object = None,
    buttons: object = None,
) -> dict[str, Any] | None:
    """The Send API `message` for a text with quick replies and buttons; None when it is empty.

    With buttons it is a button template (`attachment.payload.template_type = "button"`); quick
    replies ride along on either kind. Text that substitutes to nothing sends nothing.
    """
    body = substitute(text, variables).strip()
    if not body:
        return None
    built_buttons = _buttons(buttons, variables)
    message: dict[str, Any]
    if built_buttons:
        message = {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "button",
                    "text": clip(body, MAX_BUTTON_TEXT_CHARS),
                    "buttons": built_buttons,
                },
            }
        }
    else:
        message = {"text": clip(body, MAX_TEXT_CHARS)}
    built_replies = quick_replies(replies, variables)
    if built_replies:
        message["quick_replies"] = built_replies
    return message


def send(node_id: str, message: Mapping[str, Any] | None) -> tuple[Effect, ...]:
    """A one-message effect tuple, or none for an empty message."""
    return () if message is None else (SendMessage(node_id, message),)
