"""The block registry: every block type a flow may use, one module a type.

Each module defines `BLOCK`, a `flows.blocks.base.BlockType` with its JSON Schema (served to
the editor's palette by `GET /api/v1/blocks` and used to validate a node's `data`), its
outgoing handles, and its semantic rules. The editor and publish both validate through here.

The runtime (its own issue) adds to each module a step with this signature::

    def step(data: Mapping[str, Any], conversation: Conversation, incoming: Message | None)
        -> StepResult  # what to send, variables to set, the handle to leave by, or "wait"

It is not defined here: nothing would call it yet.
"""

from __future__ import annotations

from flows.blocks import ask, condition, end, handoff, log_event, send_message, start
from flows.blocks.base import BlockContext, BlockType, Handle, Problem

REGISTRY: dict[str, BlockType] = {
    module.BLOCK.type: module.BLOCK
    for module in (start, send_message, ask, condition, log_event, handoff, end)
}

__all__ = ["REGISTRY", "BlockContext", "BlockType", "Handle", "Problem"]
