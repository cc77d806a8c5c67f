"""What the runtime (messenger.runtime) and the editor's test chat (flows.testchat) share about a
conversation: the interpreter's state it stores, its system variables, and a `log_event` effect as
the events app's input. Pure code on flows' own models, so both can use it (messenger -> flows).
"""

from __future__ import annotations

from contextlib import suppress
from decimal import Decimal, InvalidOperation
from typing import Any

from events.services import EventInput
from flows import interpreter
from flows.models import Conversation


def event_input(effect: interpreter.LogEvent) -> EventInput:
    """The events app's input for a `log_event` block's effect.

    A value that is not a number (a variable that held text) is passed on as it is, so the
    events app's validation refuses it with its own message.
    """
    value: Any = effect.value
    if value is not None:
        with suppress(InvalidOperation):
            value = Decimal(value)
    return EventInput(
        event=effect.event,
        params=dict(effect.params),
        value=value,
        currency=effect.currency,
        logging_target=effect.logging_target,
    )


def conversation_state(conversation: Conversation) -> interpreter.State:
    """The interpreter's State as the conversation stores it."""
    return interpreter.State(
        node_id=conversation.node_id or None,
        variables=dict(conversation.variables),
        step=conversation.step,
        status=conversation.status,
        retries=conversation.retries,
    )


def system_variables(conversation: Conversation, *, ref: str = "") -> dict[str, str]:
    """``psid``, ``page_id``, ``ref`` (this message's, else the one the conversation has), and
    for click-to-Messenger ads ``from_ad`` ("yes"/"no") and ``ad_id`` (a condition block
    branches on them)."""
    return {
        "psid": conversation.psid,
        "page_id": conversation.page.page_id,
        "ref": ref or str(conversation.variables.get("ref", "")),
        "from_ad": "yes" if conversation.ad_id else "no",
        "ad_id": conversation.ad_id,
    }
