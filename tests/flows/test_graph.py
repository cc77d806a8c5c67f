"""The graph rules publishing applies, one document per rule."""

from __future__ import annotations

import itertools

import pytest

from flows.validation import document_problems, graph_problems
from tests.flows.factories import edge, node, simple_document


def codes(document, transport="page_activities") -> list[tuple[str | None, str, str, str]]:
    return [
        (p.node_id, p.field, p.code, p.severity)
        for p in graph_problems(document, transport=transport)
    ]


def doc(nodes, edges):
    return {"nodes": nodes, "edges": edges}


def test_the_simplest_flow_is_valid():
    assert codes(simple_document()) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("nope", [(None, "", "wrong_type")]),
        ({"nodes": []}, [(None, "edges", "required")]),
        (
            {"nodes": [{"id": "a", "type": "end"}], "edges": []},
            [(None, "nodes[0].data", "required"), (None, "nodes[0].position", "required")],
        ),
        (
            doc([node("a", "end"), node("a", "end")], []),
            [(None, "nodes[1].id", "duplicate_id")],
        ),
        (
            doc([node("a", "start"), node("b", "end")], [edge("a", "b"), edge("a", "b")]),
            [(None, "edges[1].id", "duplicate_id")],
        ),
        (
            {
                "nodes": [{"id": "", "type": "end", "position": {"x": 0, "y": 0}, "data": {}}],
                "edges": [],
            },
            [(None, "nodes[0].id", "blank")],
        ),
    ],
)
def test_document_shape(document, expected):
    assert [(p.node_id, p.field, p.code) for p in document_problems(document)] == expected


def test_exactly_one_start():
    assert codes(doc([node("e", "end")], [])) == [(None, "nodes", "no_start", "error")]
    two = doc(
        [node("s1", "start"), node("s2", "start"), node("e", "end")],
        [edge("s1", "e"), edge("s2", "e")],
    )
    assert codes(two) == [
        ("s2", "type", "multiple_starts", "error"),
        ("s2", "", "unreachable", "error"),
    ]


def test_unknown_block_type():
    document = doc([node("s", "start"), node("x", "teleport"), node("e", "end")], [edge("s", "x")])
    assert codes(document) == [
        ("x", "type", "unknown_block_type", "error"),
        ("e", "", "unreachable", "warning"),
    ]


def test_dangling_edges_and_edges_into_start():
    document = doc(
        [node("s", "start"), node("e", "end")],
        [edge("s", "e"), edge("s", "ghost", "other"), edge("ghost", "e"), edge("e", "s", None)],
    )
    assert codes(document) == [
        ("s", "edges", "dangling_edge", "error"),
        (None, "edges", "dangling_edge", "error"),
        ("e", "edges", "edge_into_start", "error"),
    ]


def test_handles_must_exist_and_lead_to_one_block():
    document = doc(
        [
            node("s", "start"),
            node("m", "send_message", text="Hi"),
            node("e", "end"),
            node("e2", "end"),
        ],
        [
            edge("s", "m", "yes"),
            edge("s", "m"),
            edge("m", "e"),
            edge("m", "e2"),
            edge("e", "m", None),
        ],
    )
    assert codes(document) == [
        ("s", "edges", "unknown_handle", "error"),
        ("m", "handles.next", "handle_multiple_edges", "error"),
        ("e", "edges", "unknown_handle", "error"),
        ("e2", "", "unreachable", "warning"),
    ]


def test_a_missing_source_handle_means_the_only_handle():
    document = simple_document()
    for item in document["edges"]:
        item["sourceHandle"] = None
    assert codes(document) == []


def test_required_handles_must_be_connected():
    document = doc(
        [
            node("s", "start"),
            node("c", "condition", rules=[{"variable": "psid", "operator": "is_set"}]),
            node("e", "end"),
        ],
        [edge("s", "c"), edge("c", "e", "true")],
    )
    assert codes(document) == [("c", "handles.false", "not_connected", "error")]


def test_every_non_end_block_must_be_reachable():
    document = simple_document()
    document["nodes"] += [
        node("lost", "send_message", text="Nobody sees me"),
        node("lost_end", "end"),
    ]
    document["edges"].append(edge("lost", "lost_end"))
    assert codes(document) == [
        ("lost", "", "unreachable", "error"),
        ("lost_end", "", "unreachable", "warning"),
    ]


def test_a_cycle_without_an_ask_is_an_error():
    document = doc(
        [
            node("s", "start"),
            node("a", "send_message", text="ping"),
            node("b", "send_message", text="pong"),
        ],
        [edge("s", "a"), edge("a", "b"), edge("b", "a")],
    )
    assert codes(document) == [("a", "edges", "cycle_without_input", "error")]


def test_a_self_loop_is_a_cycle():
    document = doc(
        [
            node("s", "start"),
            node("c", "condition", rules=[{"variable": "psid", "operator": "is_set"}]),
            node("e", "end"),
        ],
        [edge("s", "c"), edge("c", "c", "true"), edge("c", "e", "false")],
    )
    assert codes(document) == [("c", "edges", "cycle_without_input", "error")]


def test_a_cycle_through_an_ask_is_fine():
    document = doc(
        [
            node("s", "start"),
            node("q", "ask", question="Pick a number", variable="n", check="number"),
            node(
                "c", "condition", rules=[{"variable": "n", "operator": "greater_than", "value": 10}]
            ),
            node("e", "end"),
        ],
        [edge("s", "q"), edge("q", "c"), edge("c", "q", "false"), edge("c", "e", "true")],
    )
    assert codes(document) == []


def test_a_loop_beside_an_ask_still_counts():
    # q -> c -> q waits, but c -> m -> c does not: that inner loop spins forever.
    document = doc(
        [
            node("s", "start"),
            node("q", "ask", question="?", variable="n"),
            node("c", "condition", rules=[{"variable": "n", "operator": "is_set"}]),
            node("m", "send_message", text="again"),
        ],
        [
            edge("s", "q"),
            edge("q", "c"),
            edge("c", "q", "true"),
            edge("c", "m", "false"),
            edge("m", "c"),
        ],
    )
    assert codes(document) == [("c", "edges", "cycle_without_input", "error")]


def test_a_long_chain_does_not_hit_the_recursion_limit():
    count = 450
    nodes = (
        [node("s", "start")]
        + [node(f"m{i}", "send_message", text="hi") for i in range(count)]
        + [node("e", "end")]
    )
    chain = ["s"] + [f"m{i}" for i in range(count)] + ["e"]
    edges = [edge(a, b) for a, b in itertools.pairwise(chain)]
    assert codes(doc(nodes, edges)) == []


def test_variables_used_before_an_ask_sets_them_are_warnings():
    document = doc(
        [
            node("s", "start"),
            node("hi", "send_message", text="Hi {{name}} ({{psid}})"),
            node("q", "ask", question="Your name?", variable="name"),
            node("bye", "send_message", text="Bye {{name}}"),
            node("e", "end"),
        ],
        [edge("s", "hi"), edge("hi", "q"), edge("q", "bye"), edge("bye", "e")],
    )
    assert codes(document) == [("hi", "data", "variable_never_set", "warning")]


def test_a_variable_set_on_only_one_branch_may_be_unset():
    document = doc(
        [
            node("s", "start"),
            node("c", "condition", rules=[{"variable": "ref", "operator": "is_set"}]),
            node("q", "ask", question="Email?", variable="email", check="email"),
            node("m", "send_message", text="We'll write to {{email}}"),
            node("e", "end"),
        ],
        [
            edge("s", "c"),
            edge("c", "q", "true"),
            edge("c", "m", "false"),
            edge("q", "m"),
            edge("m", "e"),
        ],
    )
    assert codes(document) == [("m", "data", "variable_maybe_unset", "warning")]


def test_a_custom_event_on_the_conversions_api_is_a_warning_not_an_error():
    document = doc(
        [node("s", "start"), node("l", "log_event", event="Booked a table"), node("e", "end")],
        [edge("s", "l"), edge("l", "e")],
    )
    assert codes(document, "page_activities") == []
    assert codes(document, "conversions_api") == [
        ("l", "data.event", "kept_in_pagepulse", "warning")
    ]


def test_log_event_must_be_deliverable_by_the_pages_transport():
    document = doc(
        [node("s", "start"), node("l", "log_event", event="OrderShipped"), node("e", "end")],
        [edge("s", "l"), edge("l", "e")],
    )
    assert codes(document, "conversions_api") == []
    assert codes(document, "page_activities") == [("l", "data.event", "not_on_transport", "error")]


def test_block_problems_point_into_the_nodes_data():
    document = simple_document(text="x" * 2001)
    assert codes(document) == [("hello", "data.text", "too_long", "error")]
