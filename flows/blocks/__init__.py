"""The block registry: every block type a flow may use, one module a type.

Each module defines `BLOCK`, a `flows.blocks.base.BlockType` with its JSON Schema (served to
the editor's palette by `GET /api/v1/blocks` and used to validate a node's `data`), its
outgoing handles (static, and per quick reply or button with an id), and its semantic rules. The editor and publish both validate through here.

Each module also defines its runtime `step` (`BLOCK.step`), a pure function the interpreter
(`flows.interpreter.run`) calls for every block it runs::

    def step(turn: StepInput) -> StepResult

`StepInput` (flows/blocks/steps.py) holds the node id, the block's `data`, the conversation's
variables, this run's step number, the node's connected handles, and, for the block the
conversation waits at, the person's answer and the retries so far. `StepResult` holds the effects (`SendMessage`, `LogEvent`,
`Handoff`), the variables to set, and either the handle to leave by (status "active") or
the status the conversation stops in ("waiting", "ended", "handed_off").
"""

from __future__ import annotations

from flows.blocks import ask, condition, end, handoff, log_event, send_message, start
from flows.blocks.base import BlockContext, BlockType, Handle, Problem

REGISTRY: dict[str, BlockType] = {
    module.BLOCK.type: module.BLOCK
    for module in (start, send_message, ask, condition, log_event, handoff, end)
}

__all__ = ["REGISTRY", "BlockContext", "BlockType", "Handle", "Problem"]
