"""`handoff`: flag the thread for a live agent; the bot stops answering it until they resolve it.

Its one handle is optional: left open, the conversation ends when the agent resolves the
thread; connected, the flow carries on from there (e.g. "Thanks, anything else?").
"""

from __future__ import annotations

from flows.blocks.base import BlockType, Handle
from flows.blocks.steps import (
    HANDED_OFF,
    MAX_NOTE_CHARS,
    Handoff,
    StepInput,
    StepResult,
    clip,
    substitute,
)


def step(turn: StepInput) -> StepResult:
    """A Handoff effect with the note filled in; the bot stops until an agent resolves it."""
    note = clip(substitute(turn.data.get("note", ""), turn.variables).strip(), MAX_NOTE_CHARS)
    return StepResult(effects=(Handoff(turn.node_id, note),), status=HANDED_OFF)


BLOCK = BlockType(
    type="handoff",
    label="Hand off to a person",
    description=(
        "Flags the conversation for a live agent, with a note for them. The bot waits until the "
        "agent marks it resolved, then carries on from “After the agent”, if connected."
    ),
    schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "note": {
                "type": "string",
                "maxLength": 1000,
                "title": "Note for the agent",
                "description": "What the agent should know; {{variables}} are filled in.",
            }
        },
    },
    handles=(Handle("next", "After the agent", required=False),),
    defaults={"note": ""},
    step=step,
)
