"""`start`: where every conversation enters the flow (its trigger is the flow's)."""

from __future__ import annotations

from flows.blocks.base import LABEL_ONLY_SCHEMA, NEXT, BlockType
from flows.blocks.steps import StepInput, StepResult


def step(turn: StepInput) -> StepResult:
    """The trigger already matched (the runtime's job): move on."""
    return StepResult(handle=NEXT.id)


BLOCK = BlockType(
    type="start",
    label="Start",
    description="Where the conversation begins, when the flow's trigger fires. One per flow.",
    schema=LABEL_ONLY_SCHEMA,
    handles=(NEXT,),
    step=step,
)
