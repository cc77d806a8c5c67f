"""`end`: the conversation is over; the bot waits for the next trigger."""

from __future__ import annotations

from flows.blocks.base import BlockType

BLOCK = BlockType(
    type="end",
    label="End",
    description="Ends the conversation. The next message starts whichever flow it triggers.",
    schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {"label": {"type": "string", "maxLength": 100, "title": "Label"}},
    },
    handles=(),
    terminal=True,
)
