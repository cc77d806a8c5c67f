"""Checks of a flow document: its shape (on every save) and its graph rules (at publish).

`document_problems` is the shape the editor must send; a draft that fails it is refused (400).
`graph_problems` is everything publishing needs: one start, no dangling edges, known block
types with valid settings, every non-end block reachable with its required handles connected,
no cycle that never waits for the person, variables set before they are used (warnings), and
every `log_event` deliverable by the page's transport. Both return `Problem`s.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from flows.blocks import REGISTRY
from flows.blocks.base import (
    ERROR,
    SYSTEM_VARIABLES,
    WARNING,
    BlockContext,
    Problem,
    field_path,
    schema_problems,
)

MAX_NODES = 500
MAX_EDGES = 2000
MAX_DOCUMENT_BYTES = 1_000_000

_ID = {"type": "string", "minLength": 1, "maxLength": 100}
DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["nodes", "edges"],
    "properties": {
        "nodes": {
            "type": "array",
            "maxItems": MAX_NODES,
            "items": {
                "type": "object",
                "required": ["id", "type", "position", "data"],
                "properties": {
                    "id": _ID,
                    "type": {"type": "string", "minLength": 1, "maxLength": 50},
                    "position": {
                        "type": "object",
                        "required": ["x", "y"],
                        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                    },
                    "data": {"type": "object"},
                },
            },
        },
        "edges": {
            "type": "array",
            "maxItems": MAX_EDGES,
            "items": {
                "type": "object",
                "required": ["id", "source", "target"],
                "properties": {
                    "id": _ID,
                    "source": _ID,
                    "target": _ID,
                    "sourceHandle": {"type": ["string", "null"], "maxLength": 100},
                },
            },
        },
    },
}


def document_problems(document: object) -> list[Problem]:
    """Why `document` is not a flow document the editor could have written (empty: it is)."""
    problems = schema_problems(DOCUMENT_SCHEMA, document, None)
    if problems:
        return problems
    assert isinstance(document, Mapping)  # noqa: S101  # the schema says so
    if len(json.dumps(document, separators=(",", ":"))) > MAX_DOCUMENT_BYTES:
        return [Problem(None, "", "The document is larger than 1 MB: split the flow.", "too_large")]
    for kind in ("nodes", "edges"):
        seen: set[str] = set()
        for index, item in enumerate(document[kind]):
            if item["id"] in seen:
                message = f"Two {kind} have the id {item['id']!r}: ids must be unique."
                problems.append(Problem(None, f"{kind}[{index}].id", message, "duplicate_id"))
            seen.add(item["id"])
    return problems


def _problem(
    node_id: str | None, field: str, message: str, code: str, severity: str = ERROR
) -> Problem:
    return Problem(node_id, field, message, code, severity)


class _Graph:
    """The document's nodes and the edges that connect two existing nodes through a real handle."""

    def __init__(self, document: Mapping[str, Any], transport: str | None) -> None:
        self.nodes: dict[str, Mapping[str, Any]] = {n["id"]: n for n in document["nodes"]}
        self.transport = transport
        self.problems: list[Problem] = []
        self.successors: dict[str, list[str]] = defaultdict(list)
        self.predecessors: dict[str, list[str]] = defaultdict(list)
        self.connected: dict[tuple[str, str], list[str]] = defaultdict(list)  # (node, handle)
        self.handles_used: dict[str, set[str]] = defaultdict(set)  # node -> connected handles
        self._check_nodes()
        for edge in document["edges"]:
            self._add_edge(edge)

    def handles_of(self, node_id: str) -> set[str]:
        """The node's handles with an edge."""
        return self.handles_used.get(node_id, set())

    def label(self, node_id: str) -> str:
        block = REGISTRY.get(self.nodes[node_id]["type"])
        return f"“{block.label if block else self.nodes[node_id]['type']}” block {node_id}"

    def _check_nodes(self) -> None:
        starts = [nid for nid, n in self.nodes.items() if n["type"] == "start"]
        if not starts:
            self.problems.append(
                _problem(None, "nodes", "The flow has no Start block: add one.", "no_start")
            )
        for extra in starts[1:]:
            message = "A flow has exactly one Start block: remove this one."
            self.problems.append(_problem(extra, "type", message, "multiple_starts"))
        self.start = starts[0] if starts else None
        for node_id, node in self.nodes.items():
            block = REGISTRY.get(node["type"])
            if block is None:
                message = (
                    f"Unknown block type {node['type']!r}: use one of " + ", ".join(REGISTRY) + "."
                )
                self.problems.append(_problem(node_id, "type", message, "unknown_block_type"))
                continue
            context = BlockContext(node_id=node_id, transport=self.transport)
            for p in block.validate(node["data"], context):
                where = field_path(["data", p.field]) if p.field else "data"
                self.problems.append(Problem(node_id, where, p.message, p.code, p.severity))

    def _add_edge(self, edge: Mapping[str, Any]) -> None:
        source, target, edge_id = edge["source"], edge["target"], edge["id"]
        missing = [end for end in (source, target) if end not in self.nodes]
        if missing:
            message = f"Connection {edge_id} points at a block that does not exist ({missing[0]}): remove it."
            node_id = source if source in self.nodes else None
            self.problems.append(_problem(node_id, "edges", message, "dangling_edge"))
            return
        if self.nodes[target]["type"] == "start":
            message = f"Connection {edge_id} leads into the Start block: nothing may connect to it."
            self.problems.append(_problem(source, "edges", message, "edge_into_start"))
            return
        block = REGISTRY.get(self.nodes[source]["type"])
        if block is None:
            return  # reported with the node
        handles = {h.id for h in block.handles_for(self.nodes[source]["data"])}
        handle = edge.get("sourceHandle")
        if handle is None and len(block.handles) == 1:  # null: the block's only static handle
            handle = block.handles[0].id
        if handle not in handles:
            message = self._unknown_handle(source, edge_id, handle, handles)
            self.problems.append(_problem(source, "edges", message, "unknown_handle"))
            return
        self.connected[(source, handle)].append(edge_id)
        self.handles_used[source].add(handle)
        if len(self.connected[(source, handle)]) == 2:
            message = (
                f"Two connections leave {self.label(source)} from “{handle}”: a handle leads "
                "to one block; remove one."
            )
            self.problems.append(
                _problem(source, f"handles.{handle}", message, "handle_multiple_edges")
            )
            return
        self.successors[source].append(target)
        self.predecessors[target].append(source)

    def _unknown_handle(
        self, source: str, edge_id: str, handle: str | None, handles: set[str]
    ) -> str:
        """Why an edge may not leave `source` from `handle`, naming a reply or button that
        is gone (or cannot lead anywhere) when the handle was one of those."""
        block = REGISTRY[self.nodes[source]["type"]]
        if not handles:
            return f"{block.label} ends the conversation: remove connection {edge_id}."
        data = self.nodes[source]["data"]
        for spec in block.dynamic_handles:
            if not (isinstance(handle, str) and handle.startswith(spec.prefix)):
                continue
            item_id = handle.removeprefix(spec.prefix)
            item = next((i for _, i in spec.entries(data) if i.get("id") == item_id), None)
            if item is None:
                return (
                    f"Connection {edge_id} leaves from the {spec.noun} “{item_id}” of "
                    f"{self.label(source)}, which has no such {spec.noun} any more: remove the "
                    "connection, or connect another handle."
                )
            rule = " and ".join(f"{key} {value}" for key, value in spec.when.items())
            return (
                f"Connection {edge_id} leaves from the {spec.noun} “{item.get(spec.label, '')}” "
                f"of {self.label(source)}, which cannot lead anywhere (only a {spec.noun} "
                f"with {rule} can): remove the connection."
            )
        return (
            f"Connection {edge_id} leaves from {handle!r}, which {self.label(source)} "
            f"does not have: use one of {', '.join(sorted(handles))}."
        )

    def reachable(self) -> set[str]:
        if self.start is None:
            return set()
        seen, stack = {self.start}, [self.start]
        while stack:
            for nxt in self.successors[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen


def _required_handles(graph: _Graph) -> list[Problem]:
    problems = []
    for node_id, node in graph.nodes.items():
        block = REGISTRY.get(node["type"])
        for handle in block.handles_for(node["data"], graph.handles_of(node_id)) if block else ():
            if handle.required and not graph.connected.get((node_id, handle.id)):
                message = (
                    f"“{handle.label}” of {graph.label(node_id)} is not connected: connect it to "
                    "the next block (an End block, if the conversation is over)."
                )
                problems.append(_problem(node_id, f"handles.{handle.id}", message, "not_connected"))
    return problems


def _unreachable(graph: _Graph, reachable: set[str]) -> list[Problem]:
    if graph.start is None:
        return []
    problems = []
    for node_id, node in graph.nodes.items():
        if node_id in reachable:
            continue
        is_end = node["type"] == "end"
        message = f"No path from Start reaches {graph.label(node_id)}: connect it" + (
            " or remove it." if not is_end else ", or remove it (it does no harm)."
        )
        severity = WARNING if is_end else ERROR
        problems.append(_problem(node_id, "", message, "unreachable", severity))
    return problems


def _cycles_without_input(graph: _Graph) -> list[Problem]:
    """Strongly connected parts of the graph of blocks that never wait for the person (an
    `ask` waits; a `send_message` waits when one of its reply or button handles is connected)."""
    waits = {
        nid
        for nid, n in graph.nodes.items()
        if (block := REGISTRY.get(n["type"])) is not None
        and block.waits(n["data"], graph.handles_of(nid))
    }
    nodes = [nid for nid in graph.nodes if nid not in waits]
    edges = {nid: [s for s in graph.successors[nid] if s not in waits] for nid in nodes}
    problems = []
    for component in _strongly_connected(nodes, edges):
        first = component[0]
        if len(component) == 1 and first not in edges[first]:
            continue
        names = ", ".join(component[:5]) + ("…" if len(component) > 5 else "")
        message = (
            f"These blocks loop forever without waiting for an answer ({names}): put an Ask "
            "block in the loop, or break it."
        )
        problems.append(_problem(first, "edges", message, "cycle_without_input"))
    return problems


def _strongly_connected(nodes: list[str], edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively (a long chain must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = edges[node]
            if child < len(successors):
                work.append((node, child + 1))
                nxt = successors[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _reverse_postorder(graph: _Graph) -> list[str]:
    """The blocks reachable from Start, each after every block that leads to it, loops aside
    (a depth-first search's reverse postorder, iteratively: a long chain must not recurse)."""
    if graph.start is None:
        return []
    seen, postorder = {graph.start}, []
    stack = [(graph.start, iter(graph.successors[graph.start]))]
    while stack:
        node, successors = stack[-1]
        nxt = next((s for s in successors if s not in seen), None)
        if nxt is None:
            postorder.append(node)
            stack.pop()
        else:
            seen.add(nxt)
            stack.append((nxt, iter(graph.successors[nxt])))
    return postorder[::-1]


def _variables(graph: _Graph, reachable: set[str]) -> list[Problem]:
    """Warn where a block reads a variable that no `ask` before it set (on every path)."""
    if graph.start is None:
        return []
    sets = {
        nid: (block.sets(n["data"]) if (block := REGISTRY.get(n["type"])) else set())
        for nid, n in graph.nodes.items()
        if nid in reachable
    }
    everything = set().union(*sets.values())
    may_out = {nid: set(sets[nid]) for nid in reachable}
    must_out = {
        nid: (set(sets[nid]) if nid == graph.start else set(everything)) for nid in reachable
    }
    may_in: dict[str, set[str]] = {}
    must_in: dict[str, set[str]] = {}
    # Visiting blocks after the blocks before them makes a flow without loops settle in one
    # pass (and a loop in a few); in set order, a long flow took a pass per block of its depth.
    order = _reverse_postorder(graph)
    changed = True
    while changed:
        changed = False
        for nid in order:
            preds = [p for p in graph.predecessors[nid] if p in reachable]
            may_in[nid] = set().union(*(may_out[p] for p in preds)) if preds else set()
            must_in[nid] = set.intersection(*(must_out[p] for p in preds)) if preds else set()
            may, must = may_in[nid] | sets[nid], must_in[nid] | sets[nid]
            if may != may_out[nid] or must != must_out[nid]:
                may_out[nid], must_out[nid], changed = may, must, True
    problems = []
    for nid, node in graph.nodes.items():
        block = REGISTRY.get(node["type"])
        if nid not in reachable or block is None:
            continue
        for name in sorted(block.uses(node["data"]) - SYSTEM_VARIABLES):
            if name not in may_in[nid]:
                message = (
                    f"{{{{{name}}}}} is used here, but no Ask block before this one saves an "
                    f"answer as “{name}”: it will be empty. Add an Ask, or fix the name."
                )
                problems.append(_problem(nid, "data", message, "variable_never_set", WARNING))
            elif name not in must_in[nid]:
                message = (
                    f"{{{{{name}}}}} is set on some paths to this block but not on all: it may "
                    "be empty here."
                )
                problems.append(_problem(nid, "data", message, "variable_maybe_unset", WARNING))
    return problems


def graph_problems(document: object, *, transport: str | None) -> list[Problem]:
    """Every error and warning publishing reports, in a stable order."""
    problems = document_problems(document)
    if problems:
        return problems
    assert isinstance(document, Mapping)  # noqa: S101  # document_problems checked it
    graph = _Graph(document, transport)
    reachable = graph.reachable()
    return [
        *graph.problems,
        *_required_handles(graph),
        *_unreachable(graph, reachable),
        *_cycles_without_input(graph),
        *_variables(graph, reachable),
    ]


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)
