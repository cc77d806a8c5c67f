"""The graph rules publishing applies, one document per rule."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from flows.validation import _Graph, _reverse_postorder, document_problems, graph_problems
from tests.flows.factories import edge, node, simple_document


def codes(
    document: dict[str, Any], transport: str = "page_activities"
) -> list[tuple[str | None, str, str, str]]:
    return [
        (p.node_id, p.field, p.code, p.severity)
        for p in graph_problems(document, transport=transport)
    ]


def doc(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges}


def test_the_simplest_flow_is_valid() -> None:
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
def test_document_shape(document: dict[str, Any] | str, expected: list[Any]) -> None:
    assert [(p.node_id, p.field, p.code) for p in document_problems(document)] == expected


def test_exactly_one_start() -> None:
    assert codes(doc([node("e", "end")], [])) == [(None, "nodes", "no_start", "error")]
    two = doc(
        [node("s1", "start"), node("s2", "start"), node("e", "end")],
        [edge("s1", "e"), edge("s2", "e")],
    )
    assert codes(two) == [
        ("s2", "type", "multiple_starts", "error"),
        ("s2", "", "unreachable", "error"),
    ]


def test_unknown_block_type() -> None:
    document = doc([node("s", "start"), node("x", "teleport"), node("e", "end")], [edge("s", "x")])
    assert codes(document) == [
        ("x", "type", "unknown_block_type", "error"),
        ("e", "", "unreachable", "warning"),
    ]


def test_dangling_edges_and_edges_into_start() -> None:
    document = doc(
        [node("s", "start"), node("e", "end")],
        [edge("s", "e"), edge("s", "ghost", "other"), edge("ghost", "e"), edge("e", "s", None)],
    )
    assert codes(document) == [
        ("s", "edges", "dangling_edge", "error"),
        (None, "edges", "dangling_edge", "error"),
        ("e", "edges", "edge_into_start", "error"),
    ]


def test_handles_must_exist_and_lead_to_one_block() -> None:
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


def test_a_missing_source_handle_means_the_only_handle() -> None:
    document = simple_document()
    for item in document["edges"]:
        item["sourceHandle"] = None
    assert codes(document) == []


def test_required_handles_must_be_connected() -> None:
    document = doc(
        [
            node("s", "start"),
            node("c", "condition", rules=[{"variable": "psid", "operator": "is_set"}]),
            node("e", "end"),
        ],
        [edge("s", "c"), edge("c", "e", "true")],
    )
    assert codes(document) == [("c", "handles.false", "not_connected", "error")]


def test_every_non_end_block_must_be_reachable() -> None:
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


def test_a_cycle_without_an_ask_is_an_error() -> None:
    document = doc(
        [
            node("s", "start"),
            node("a", "send_message", text="ping"),
            node("b", "send_message", text="pong"),
        ],
        [edge("s", "a"), edge("a", "b"), edge("b", "a")],
    )
    assert codes(document) == [("a", "edges", "cycle_without_input", "error")]


def test_a_self_loop_is_a_cycle() -> None:
    document = doc(
        [
            node("s", "start"),
            node("c", "condition", rules=[{"variable": "psid", "operator": "is_set"}]),
            node("e", "end"),
        ],
        [edge("s", "c"), edge("c", "c", "true"), edge("c", "e", "false")],
    )
    assert codes(document) == [("c", "edges", "cycle_without_input", "error")]


def test_a_cycle_through_an_ask_is_fine() -> None:
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


def test_a_loop_beside_an_ask_still_counts() -> None:
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


def test_a_long_chain_does_not_hit_the_recursion_limit() -> None:
    count = 450
    nodes = (
        [node("s", "start")]
        + [node(f"m{i}", "send_message", text="hi") for i in range(count)]
        + [node("e", "end")]
    )
    chain = ["s"] + [f"m{i}" for i in range(count)] + ["e"]
    edges = [edge(a, b) for a, b in itertools.pairwise(chain)]
    assert codes(doc(nodes, edges)) == []


def test_variables_used_before_an_ask_sets_them_are_warnings() -> None:
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


def test_a_variable_set_on_only_one_branch_may_be_unset() -> None:
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


def test_the_variable_check_visits_each_block_after_the_blocks_before_it() -> None:
    # Listed backwards, with a loop back to the question: the check walks the flow from Start
    # (one pass settles a flow without loops) and still sees the answer set on every path.
    document = doc(
        [
            node("e", "end"),
            node("m", "send_message", text="Thanks, {{name}}"),
            node("c", "condition", rules=[{"variable": "name", "operator": "is_set"}]),
            node("q", "ask", question="Your name?", variable="name"),
            node("s", "start"),
        ],
        [edge("s", "q"), edge("q", "c"), edge("c", "m", "true"), edge("c", "q", "false"),
         edge("m", "e")],
    )  # fmt: skip
    assert _reverse_postorder(_Graph(document, "page_activities")) == ["s", "q", "c", "m", "e"]
    assert codes(document) == []


def test_a_long_chain_of_questions_checks_every_variable() -> None:
    count = 300
    nodes = [node("s", "start"), node("e", "end")]
    chain = ["s"]
    for i in range(count):
        question = f"And {{{{v{i - 1}}}}}?" if i else "Your first answer?"
        nodes.append(node(f"q{i}", "ask", question=question, variable=f"v{i}"))
        chain.append(f"q{i}")
    nodes.append(node("bye", "send_message", text="{{v0}} {{nowhere}}"))
    chain += ["bye", "e"]
    edges = [edge(a, b) for a, b in itertools.pairwise(chain)]
    assert codes(doc(nodes, edges)) == [("bye", "data", "variable_never_set", "warning")]


def test_a_custom_event_on_the_conversions_api_is_a_warning_not_an_error() -> None:
    document = doc(
        [node("s", "start"), node("l", "log_event", event="Booked a table"), node("e", "end")],
        [edge("s", "l"), edge("l", "e")],
    )
    assert codes(document, "page_activities") == []
    assert codes(document, "conversions_api") == [
        ("l", "data.event", "kept_in_pagepulse", "warning")
    ]


def test_log_event_must_be_deliverable_by_the_pages_transport() -> None:
    document = doc(
        [node("s", "start"), node("l", "log_event", event="OrderShipped"), node("e", "end")],
        [edge("s", "l"), edge("l", "e")],
    )
    assert codes(document, "conversions_api") == []
    assert codes(document, "page_activities") == [("l", "data.event", "not_on_transport", "error")]


def test_block_problems_point_into_the_nodes_data() -> None:
    document = simple_document(text="x" * 2001)
    assert codes(document) == [("hello", "data.text", "too_long", "error")]


# --- Handles of quick replies and buttons -----------------------------------------------------------

CHOICE = node(
    "q",
    "ask",
    question="Email or phone?",
    variable="channel",
    quick_replies=[{"title": "Email", "id": "email"}, {"title": "Phone", "id": "phone"}],
)
MENU = node(
    "m",
    "send_message",
    text="What next?",
    quick_replies=[{"title": "Prices", "id": "prices"}, {"title": "Hours"}],
    buttons=[
        {"type": "postback", "title": "Talk to us", "payload": "TALK", "id": "talk"},
        {"type": "web_url", "title": "Shop", "url": "https://shop.example", "id": "shop"},
    ],
)


def messages(document: dict[str, Any], transport: str = "page_activities") -> list[tuple[str, str]]:
    return [(p.code, p.message) for p in graph_problems(document, transport=transport)]


def test_edges_may_leave_from_reply_and_button_handles() -> None:
    document = doc(
        [node("s", "start"), CHOICE, MENU, node("e", "end"), node("e2", "end")],
        [
            edge("s", "q"),
            edge("q", "m", "reply-email"),
            edge("q", "e", "reply-phone"),
            edge("q", "e", "next"),
            edge("m", "e", "reply-prices"),
            edge("m", "e2", "button-talk"),
            edge("m", "e"),
        ],
    )
    assert codes(document) == []


def test_reply_handles_are_optional() -> None:
    document = doc([node("s", "start"), CHOICE, node("e", "end")], [edge("s", "q"), edge("q", "e")])
    assert codes(document) == []


def test_next_stays_required_and_says_what_it_means_while_branching() -> None:
    document = doc(
        [node("s", "start"), CHOICE, node("e", "end")],
        [edge("s", "q"), edge("q", "e", "reply-email")],
    )
    assert messages(document) == [
        (
            "not_connected",
            "“Any other answer” of “Ask a question” block q is not connected: connect it to the "
            "next block (an End block, if the conversation is over).",
        )
    ]


def test_an_edge_from_a_reply_that_is_gone_names_it() -> None:
    document = doc(
        [node("s", "start"), CHOICE, MENU, node("e", "end")],
        [
            edge("s", "q"),
            edge("q", "m"),
            edge("q", "e", "reply-sms"),
            edge("m", "e"),
            edge("m", "e", "button-shop"),
            edge("m", "e", "button-gone"),
            edge("m", "e", "reply-hours"),
            edge("m", "e", "elsewhere"),
        ],
    )
    assert messages(document) == [
        (
            "unknown_handle",
            "Connection q-reply-sms-e leaves from the quick reply “sms” of “Ask a question” "
            "block q, which has no such quick reply any more: remove the connection, or "
            "connect another handle.",
        ),
        (
            "unknown_handle",
            "Connection m-button-shop-e leaves from the button “Shop” of “Send message” block "
            "m, which cannot lead anywhere (only a button with type postback can): remove the "
            "connection.",
        ),
        (
            "unknown_handle",
            "Connection m-button-gone-e leaves from the button “gone” of “Send message” block "
            "m, which has no such button any more: remove the connection, or connect another "
            "handle.",
        ),
        (
            # "Hours" has no id, so no handle of its own
            "unknown_handle",
            "Connection m-reply-hours-e leaves from the quick reply “hours” of “Send message” "
            "block m, which has no such quick reply any more: remove the connection, or "
            "connect another handle.",
        ),
        (
            "unknown_handle",
            "Connection m-elsewhere-e leaves from 'elsewhere', which “Send message” block m "
            "does not have: use one of button-talk, next, reply-prices.",
        ),
    ]


def test_a_reply_handle_leads_to_one_block() -> None:
    document = doc(
        [node("s", "start"), CHOICE, node("e", "end"), node("e2", "end")],
        [
            edge("s", "q"),
            edge("q", "e"),
            edge("q", "e", "reply-email"),
            edge("q", "e2", "reply-email"),
        ],
    )
    assert codes(document) == [
        ("q", "handles.reply-email", "handle_multiple_edges", "error"),
        ("e2", "", "unreachable", "warning"),
    ]


def test_a_null_source_handle_still_means_next_on_a_block_with_replies() -> None:
    document = doc(
        [node("s", "start"), CHOICE, node("e", "end")],
        [edge("s", "q", None), edge("q", "e", None)],
    )
    assert codes(document) == []


def test_a_message_that_waits_for_a_reply_may_loop() -> None:
    # m -> (Again) -> m waits for the person each time round
    menu = node(
        "m",
        "send_message",
        text="Again?",
        quick_replies=[{"title": "Again", "id": "again"}, {"title": "Stop", "id": "stop"}],
    )
    document = doc(
        [node("s", "start"), menu, node("e", "end")],
        [edge("s", "m"), edge("m", "m", "reply-again"), edge("m", "e")],
    )
    assert codes(document) == []


def test_a_message_whose_replies_lead_nowhere_does_not_wait() -> None:
    menu = node(
        "m", "send_message", text="Again?", quick_replies=[{"title": "Again", "id": "again"}]
    )
    other = node("n", "send_message", text="Once more")
    document = doc(
        [node("s", "start"), menu, other],
        [edge("s", "m"), edge("m", "n"), edge("n", "m")],
    )
    assert codes(document) == [("m", "edges", "cycle_without_input", "error")]


def test_a_message_that_waits_makes_variables_no_different() -> None:
    # A waiting send_message sets no variable: reading one after it is still a warning.
    menu = node("m", "send_message", text="Go?", quick_replies=[{"title": "Go", "id": "go"}])
    after = node("a", "send_message", text="You said {{answer}}")
    document = doc(
        [node("s", "start"), menu, after, node("e", "end")],
        [edge("s", "m"), edge("m", "a", "reply-go"), edge("m", "e"), edge("a", "e")],
    )
    assert codes(document) == [("a", "data", "variable_never_set", "warning")]
