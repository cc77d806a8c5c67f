"""The flow interpreter: a pure function of (document, conversation state, incoming message).

`run(document, state, incoming, system=...)` runs blocks of the registry (each block's `step`,
flows/blocks/) from where the conversation is until one waits for input (an `ask`, or a
`send_message` with a quick reply or button handle connected), the flow ends
(`end`, or a handle with no edge), or a handoff; it returns the new `State`, the effects in
order (`SendMessage`, `LogEvent`, `Handoff`) and the node ids it ran. No models, no database,
no HTTP, no clock, no randomness: the same arguments give the same result, so a retried webhook
that runs the same turn again from the same stored state produces the same effects and steps
(and the runtime's idempotency keys, built from conversation, node and `LogEvent.step`, repeat).

Where a turn begins:
- no state, `node_id` None, status "ended", or an `Incoming` of kind "start": at the Start
  block, with fresh variables (the step counter goes on). So `run()` on an ended conversation
  with a new message restarts the flow; whether it should (the message may trigger another
  flow) is the runtime's decision, made before calling `run()`.
- status "waiting": at the block it waits at; a text, quick reply or postback is its answer
  (a quick reply or postback answers with its title). An `ask` saves it and a `send_message`
  does not; either leaves by the handle of the quick reply or button the answer matches when
  that handle is connected, else by `next`. A referral is not an answer: the question is
  asked again, without counting a retry.

Each step gets the set of its node's connected handles (`StepInput.connected`), so it can
branch without seeing the document. An edge whose `sourceHandle` is null leaves from the
block's only static handle.
- status "handed_off": nowhere. The state comes back unchanged with no effects, until the
  runtime calls `resume_after_handoff`, which goes on from the handoff block's `next` handle
  if it has an edge there ("After the agent"; left open, the conversation ends).

A turn ends cleanly (status "ended", no exception) at a node id the document does not have (the
version changed), an unknown block type or one without a step, a block whose settings fail its
schema (a draft in the test chat), and after `MAX_STEPS_PER_TURN` blocks (a loop with no
`ask`); effects produced before that are kept.

`step` counts every block run in the conversation: each run takes the next number, so it
strictly increases with every turn that runs a block. The system variables (`psid`, `page_id`,
`ref`) are copied into the variables at the start of every turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from flows.blocks import REGISTRY
from flows.blocks.base import schema_problems
from flows.blocks.steps import (
    ACTIVE,
    ANSWER_KINDS,
    ENDED,
    HANDED_OFF,
    START,
    STATUSES,
    WAITING,
    Effect,
    Handoff,
    Incoming,
    LogEvent,
    SendMessage,
    StepInput,
)

MAX_STEPS_PER_TURN = 100

__all__ = [
    "ACTIVE",
    "ENDED",
    "HANDED_OFF",
    "MAX_STEPS_PER_TURN",
    "STATUSES",
    "WAITING",
    "Effect",
    "Handoff",
    "Incoming",
    "LogEvent",
    "Result",
    "SendMessage",
    "State",
    "resume_after_handoff",
    "run",
]


def _frozen(variables: Mapping[str, Any]) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in variables.items()})


@dataclass(frozen=True)
class State:
    """Where a conversation is. Store it as node_id, dict(variables), step, status, retries."""

    node_id: str | None = None  # the block waiting for input (or where the flow ended)
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    step: int = 0  # the number of the last block run in this conversation
    status: str = ACTIVE  # "active" (not started) | "waiting" | "ended" | "handed_off"
    retries: int = 0  # failed answers to the ask it waits at


@dataclass(frozen=True)
class Result:
    state: State
    effects: tuple[Effect, ...]
    path: tuple[str, ...]  # the node ids run this turn, in order
    # What the funnel counters add (flows.counters): the blocks the conversation arrived at
    # this turn (the block it waited at is not arrived at again when its answer comes), and
    # the (block, handle) pairs it left by along an edge, in order.
    entered: tuple[str, ...] = ()
    exits: tuple[tuple[str, str], ...] = ()


class _Document:
    """The document's nodes by id and its edges by (source, handle)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        nodes = document.get("nodes") if isinstance(document, Mapping) else None
        edges = document.get("edges") if isinstance(document, Mapping) else None
        self.nodes: dict[str, Mapping[str, Any]] = {
            n["id"]: n for n in nodes or [] if isinstance(n, Mapping) and "id" in n
        }
        self.start = next((i for i, n in self.nodes.items() if n.get("type") == "start"), None)
        self.edges: dict[tuple[str, str | None], str] = {}
        for edge in edges or []:
            if not isinstance(edge, Mapping) or edge.get("source") not in self.nodes:
                continue
            source, handle = edge["source"], edge.get("sourceHandle")
            if handle is None:  # null means the block's only (static) handle
                block = REGISTRY.get(self.nodes[source].get("type", ""))
                if block is not None and len(block.handles) == 1:
                    handle = block.handles[0].id
            self.edges.setdefault((source, handle), str(edge.get("target")))
        handles: dict[str, set[str]] = {}
        for source, handle in self.edges:
            if isinstance(handle, str):
                handles.setdefault(source, set()).add(handle)
        self._connected = {source: frozenset(found) for source, found in handles.items()}

    def connected(self, node_id: str) -> frozenset[str]:
        """The node's handles that have an edge (what a step may branch on)."""
        return self._connected.get(node_id, frozenset())


def _walk(
    doc: _Document,
    node_id: str | None,
    *,
    variables: Mapping[str, str],
    step: int,
    answer: Incoming | None = None,
    retries: int = 0,
    resumed: bool = False,
    exits: tuple[tuple[str, str], ...] = (),
) -> Result:
    """Run blocks from `node_id` until one waits, the flow ends, or it is handed off.

    `resumed`: the conversation was already at `node_id` (it waited there), so this turn does
    not arrive at it again; `exits` are handles left by before the walk (a resumed handoff).
    """
    scope = dict(variables)
    effects: list[Effect] = []
    path: list[str] = []
    entered: list[str] = []
    left: list[tuple[str, str]] = list(exits)

    def result(status: str, at: str | None, retries: int = 0) -> Result:
        state = State(
            node_id=at, variables=_frozen(scope), step=step, status=status, retries=retries
        )
        return Result(state, tuple(effects), tuple(path), tuple(entered), tuple(left))

    if node_id is None or node_id not in doc.nodes:
        return result(ENDED, node_id)
    current = node_id
    while True:
        node = doc.nodes.get(current)
        if node is None:  # an edge into a block the document does not have
            return result(ENDED, current)
        block = REGISTRY.get(str(node.get("type", "")))
        data = node.get("data")
        if (
            block is None
            or block.step is None
            or not isinstance(data, Mapping)
            or schema_problems(block.schema, data, current)
        ):
            return result(ENDED, current)
        if len(path) == MAX_STEPS_PER_TURN:
            return result(ENDED, current)
        step += 1
        if not (resumed and not path):
            entered.append(current)
        path.append(current)
        outcome = block.step(
            StepInput(
                node_id=current,
                data=data,
                variables=MappingProxyType(scope),
                step=step,
                answer=answer,
                retries=retries,
                connected=doc.connected(current),
            )
        )
        effects.extend(outcome.effects)
        scope.update(outcome.variables)
        if outcome.status != ACTIVE:
            return result(outcome.status, current, outcome.retries)
        target = doc.edges.get((current, outcome.handle))
        if target is None:  # nothing connected: the conversation is over
            return result(ENDED, current)
        left.append((current, outcome.handle or ""))
        current, answer, retries = target, None, 0


def run(
    document: Mapping[str, Any],
    state: State | None,
    incoming: Incoming,
    *,
    system: Mapping[str, str],
) -> Result:
    """The conversation's next turn: its new state, the effects to carry out, the path taken.

    See the module docstring for where a turn begins and how it ends; this never raises on a
    document or state it does not understand: it ends the conversation instead.
    """
    state = state or State()
    if state.status == HANDED_OFF:
        return Result(state, (), ())
    doc = _Document(document)
    if state.node_id is None or state.status == ENDED or incoming.kind == START:
        return _walk(doc, doc.start, variables=_frozen(system), step=state.step)
    variables = {**state.variables, **system}
    if state.status == WAITING:
        answer = incoming if incoming.kind in ANSWER_KINDS else None
        return _walk(
            doc,
            state.node_id,
            variables=variables,
            step=state.step,
            answer=answer,
            retries=state.retries,
            resumed=True,
        )
    return _walk(doc, state.node_id, variables=variables, step=state.step, resumed=True)


def resume_after_handoff(
    document: Mapping[str, Any], state: State, *, system: Mapping[str, str]
) -> Result:
    """After an agent resolved the handoff: go on from the handoff block's `next` handle.

    With nothing connected there (the registry's handoff block has no handles) the conversation
    ends. A state that is not handed off comes back unchanged.
    """
    if state.status != HANDED_OFF or state.node_id is None:
        return Result(state, (), ())
    doc = _Document(document)
    variables = {**state.variables, **system}
    target = doc.edges.get((state.node_id, "next")) or doc.edges.get((state.node_id, None))
    if target is None:
        ended = State(state.node_id, _frozen(variables), state.step, ENDED, 0)
        return Result(ended, (), ())
    return _walk(
        doc, target, variables=variables, step=state.step, exits=((state.node_id, "next"),)
    )
