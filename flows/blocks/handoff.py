"""`handoff`: flag the thread for a live agent; the bot stops answering it."""

from __future__ import annotations

from flows.blocks.base import BlockType

BLOCK = BlockType(
    type="handoff",
    label="Hand off to a person",
    description="Flags the conversation for a live agent, with a note for them. The bot stops here.",
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
    handles=(),
    defaults={"note": ""},
    terminal=True,
)
