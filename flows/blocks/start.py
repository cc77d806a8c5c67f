"""`start`: where every conversation enters the flow (its trigger is the flow's)."""

from __future__ import annotations

from flows.blocks.base import NEXT, BlockType

BLOCK = BlockType(
    type="start",
    label="Start",
    description="Where the conversation begins, when the flow's trigger fires. One per flow.",
    schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {"label": {"type": "string", "maxLength": 100, "title": "Label"}},
    },
    handles=(NEXT,),
)
