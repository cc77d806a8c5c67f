"""`end`: the conversation is over; the bot waits for the next trigger."""

from __future__ import annotations

from flows.blocks.base import LABEL_ONLY_SCHEMA, BlockType
from flows.blocks.steps import ENDED, StepInput, StepResult


def step(turn: StepInput) -> StepResult:
    return StepResult(status=ENDED)


BLOCK = BlockType(
    type="end",
    label="End",
    description="Ends the conversation. The next message starts whichever flow it triggers.",
    schema=LABEL_ONLY_SCHEMA,
    handles=(),
    terminal=True,
    step=step,
)
