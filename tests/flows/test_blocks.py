"""Every block type's validation, table-driven: each row is data and the problems it must give."""

from __future__ import annotations

import pytest

from flows.blocks import REGISTRY, BlockContext
from flows.blocks.base import WARNING, placeholders

CAPI, PAGE_ACTIVITIES = "conversions_api", "page_activities"


def problems(kind: str, data: object, transport: str | None = None) -> list[tuple[str, str]]:
    found = REGISTRY[kind].validate(data, BlockContext(node_id="n1", transport=transport))
    assert all(p.node_id == "n1" for p in found)
    return [(p.field, p.code) for p in found]


def test_registry_has_every_block_type_once():
    assert list(REGISTRY) == [
        "start",
        "send_message",
        "ask",
        "condition",
        "log_event",
        "handoff",
        "end",
    ]


@pytest.mark.parametrize(
    ("kind", "handles"),
    [
        ("start", [("next", True)]),
        ("send_message", [("next", True)]),
        ("ask", [("next", True)]),
        ("condition", [("true", True), ("false", True)]),
        ("log_event", [("next", True)]),
        ("handoff", [("next", False)]),  # optional: where the flow goes once resolved
        ("end", []),
    ],
)
def test_handles(kind, handles):
    assert [(h.id, h.required) for h in REGISTRY[kind].handles] == handles
    assert REGISTRY[kind].terminal is (handles == [])


QUICK_REPLIES_13 = [{"title": f"Option {i}", "payload": f"P{i}"} for i in range(13)]


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        # start / end
        ("start", {}, []),
        ("start", {"label": "Hi"}, []),
        ("start", {"colour": "red"}, [("", "unknown_field")]),
        ("start", [], [("", "wrong_type")]),
        ("end", {}, []),
        ("end", {"label": "x" * 101}, [("label", "too_long")]),
        # send_message
        ("send_message", {"text": "Hello {{name}}"}, []),
        ("send_message", {"text": "x" * 1999}, []),
        ("send_message", {"text": "x" * 2000}, [("text", "too_long")]),  # Send API: < 2000
        ("send_message", {"text": "x" * 2001}, [("text", "too_long")]),
        ("send_message", {"text": ""}, [("text", "blank")]),
        ("send_message", {}, [("text", "required")]),
        ("send_message", {"text": 5}, [("text", "wrong_type")]),
        ("send_message", {"text": "Hi {{ name"}, [("text", "bad_placeholder")]),
        ("send_message", {"text": "Hi {{1abc}}"}, [("text", "bad_placeholder")]),
        ("send_message", {"text": "Hi", "quick_replies": QUICK_REPLIES_13}, []),
        (
            "send_message",
            {"text": "Hi", "quick_replies": [*QUICK_REPLIES_13, {"title": "One more"}]},
            [("quick_replies", "too_many")],
        ),
        (
            "send_message",
            {"text": "Hi", "quick_replies": [{"title": "x" * 21}]},
            [("quick_replies[0].title", "too_long")],
        ),
        (
            "send_message",
            {"text": "Hi", "quick_replies": [{"title": "ok", "payload": "p" * 1001}]},
            [("quick_replies[0].payload", "too_long")],
        ),
        (
            "send_message",
            {"text": "Hi", "quick_replies": [{"payload": "p"}]},
            [("quick_replies[0].title", "required")],
        ),
        (
            "send_message",
            {
                "text": "Hi",
                "buttons": [
                    {"type": "postback", "title": "Yes", "payload": "YES"},
                    {"type": "web_url", "title": "Shop", "url": "https://example.com"},
                    {"type": "postback", "title": "No", "payload": "NO"},
                ],
            },
            [],
        ),
        (
            "send_message",
            {"text": "Hi", "buttons": [{"type": "postback", "title": "b", "payload": "b"}] * 4},
            [("buttons", "too_many")],
        ),
        (
            "send_message",
            {"text": "Hi", "buttons": [{"type": "web_url", "title": "Shop", "url": "ftp://x"}]},
            [("buttons[0].url", "invalid_url")],
        ),
        (
            "send_message",
            {"text": "Hi", "buttons": [{"type": "postback", "title": "Go"}]},
            [("buttons[0].payload", "required")],
        ),
        (
            "send_message",
            {"text": "Hi", "buttons": [{"type": "call", "title": "Go"}]},
            [("buttons[0].type", "invalid_choice")],
        ),
        # ask
        ("ask", {"question": "Your email?", "variable": "email", "check": "email"}, []),
        ("ask", {"question": "Age?", "variable": "age", "check": "number"}, []),
        ("ask", {"question": "Phone?", "variable": "phone", "check": "phone"}, []),
        ("ask", {"question": "Name?", "variable": "name"}, []),
        ("ask", {"question": "Q", "variable": "x", "check": "date"}, [("check", "invalid_choice")]),
        ("ask", {"question": "Q"}, [("variable", "required")]),
        ("ask", {"question": "Q", "variable": "1st"}, [("variable", "invalid_format")]),
        ("ask", {"question": "Q", "variable": "my var"}, [("variable", "invalid_format")]),
        ("ask", {"question": "Q", "variable": "v" * 41}, [("variable", "invalid_format")]),
        ("ask", {"question": "Q", "variable": "psid"}, [("variable", "reserved_variable")]),
        (
            "ask",
            {"question": "Q", "variable": "x", "retry_message": "Try {{again"},
            [("retry_message", "bad_placeholder")],
        ),
        (
            "ask",
            {"question": "Q", "variable": "x", "quick_replies": [{"title": "t" * 21}]},
            [("quick_replies[0].title", "too_long")],
        ),
        # condition
        ("condition", {"rules": [{"variable": "x", "operator": "equals", "value": "a"}]}, []),
        ("condition", {"rules": [{"variable": "x", "operator": "is_set"}]}, []),
        (
            "condition",
            {"match": "any", "rules": [{"variable": "n", "operator": "greater_than", "value": 3}]},
            [],
        ),
        (
            "condition",
            {"rules": [{"variable": "n", "operator": "less_than", "value": "{{limit}}"}]},
            [],
        ),
        ("condition", {"rules": []}, [("rules", "too_few")]),
        (
            "condition",
            {"rules": [{"variable": "x", "operator": "matches", "value": "a"}]},
            [("rules[0].operator", "invalid_choice")],
        ),
        (
            "condition",
            {"rules": [{"variable": "x", "operator": "equals"}]},
            [("rules[0].value", "required")],
        ),
        (
            "condition",
            {"rules": [{"variable": "n", "operator": "greater_than", "value": "lots"}]},
            [("rules[0].value", "not_a_number")],
        ),
        (
            "condition",
            {"match": "most", "rules": [{"variable": "x", "operator": "is_set"}]},
            [("match", "invalid_choice")],
        ),
        # handoff
        ("handoff", {"note": "Lead {{email}}"}, []),
        ("handoff", {}, []),
        ("handoff", {"note": "x" * 1001}, [("note", "too_long")]),
    ],
)
def test_block_validation(kind, data, expected):
    assert problems(kind, data) == expected


@pytest.mark.parametrize(
    ("data", "transport", "expected"),
    [
        ({"event": "lead_submitted"}, CAPI, []),
        ({"event": "lead_submitted"}, PAGE_ACTIVITIES, []),
        ({"event": "lead_submitted"}, None, []),
        ({"event": "LeadSubmitted"}, CAPI, []),  # a transport's Facebook name works too
        (
            {
                "event": "purchase",
                "value": "{{total}}",
                "currency": "EUR",
                "params": {"fb_num_items": "{{n}}"},
            },
            PAGE_ACTIVITIES,
            [],
        ),
        (  # a {{variable}} does not make a parameter the transport refuses any less refused
            {
                "event": "purchase",
                "value": 1,
                "currency": "EUR",
                "params": {"fb_num_items": "{{n}}"},
            },
            CAPI,
            [("params.fb_num_items", "not_on_transport")],
        ),
        ({"event": "purchase", "value": 12.5, "currency": "USD"}, PAGE_ACTIVITIES, []),
        ({"event": "purchase", "value": "{{total}}"}, CAPI, [("currency", "currency_required")]),
        (
            {"event": "purchase", "value": 5, "currency": "usd"},
            CAPI,
            [("currency", "invalid_currency")],
        ),
        (
            {"event": "purchase", "value": "lots", "currency": "USD"},
            CAPI,
            [("value", "invalid_value")],
        ),
        # custom events: page_activities carries them; the Conversions API keeps them (a warning)
        ({"event": "Booked a table", "params": {"party": "{{size}}"}}, PAGE_ACTIVITIES, []),
        ({"event": "Booked a table"}, CAPI, [("event", "kept_in_pagepulse")]),
        ({"event": "Booked a table"}, None, []),
        ({"event": "-starts badly"}, PAGE_ACTIVITIES, [("event", "invalid_name")]),
        ({"event": "fb_messenger_bot_stopped"}, PAGE_ACTIVITIES, [("event", "logged_by_facebook")]),
        # standard events one transport lacks
        ({"event": "contact"}, PAGE_ACTIVITIES, []),
        ({"event": "contact"}, CAPI, [("event", "kept_in_pagepulse")]),
        (
            {"event": "order_shipped", "value": 1, "currency": "USD"},
            PAGE_ACTIVITIES,
            [("event", "not_on_transport")],
        ),
        # parameters
        (
            {"event": "lead_submitted", "params": {"_secret": "x"}},
            PAGE_ACTIVITIES,
            [("params._secret", "reserved_key")],
        ),
        (
            {"event": "lead_submitted", "params": {"note": "x" * 101}},
            PAGE_ACTIVITIES,
            [("params.note", "too_long")],
        ),
        ({"event": "lead_submitted", "params": {"note": "{{long_answer}}"}}, PAGE_ACTIVITIES, []),
        (
            {"event": "lead_submitted", "params": {f"k{i}": "v" for i in range(26)}},
            PAGE_ACTIVITIES,
            [("params", "too_many")],
        ),
        ({"event": "lead_submitted", "params": {"a": ["x"]}}, None, [("params.a", "wrong_type")]),
        # logging target
        ({"event": "lead_submitted", "logging_target": "app_and_page"}, PAGE_ACTIVITIES, []),
        ({"event": "lead_submitted", "logging_target": "app"}, PAGE_ACTIVITIES, []),
        (
            {"event": "lead_submitted", "logging_target": "app"},
            CAPI,
            [("logging_target", "not_on_transport")],
        ),
        (
            {"event": "lead_submitted", "logging_target": "ads"},
            None,
            [("logging_target", "invalid_choice")],
        ),
        # shape
        ({}, None, [("event", "required")]),
        ({"event": ""}, None, [("event", "blank")]),
        ({"event": "lead_submitted", "extra": 1}, None, [("", "unknown_field")]),
        (
            {"event": "lead_submitted", "params": {"x": "Hi {{ there"}},
            None,
            [("params.x", "bad_placeholder")],
        ),
    ],
)
def test_log_event_validation(data, transport, expected):
    assert problems("log_event", data, transport) == expected


def test_log_event_messages_say_how_to_fix():
    [found] = REGISTRY["log_event"].validate({"event": "Booked a table"}, BlockContext("n1", CAPI))
    assert found.severity == WARNING
    assert found.message.startswith(
        "Booked a table is a custom event. The Conversions API takes only its 14 standard events"
    )
    assert "page_activities" not in found.message  # retired: never recommended any more


@pytest.mark.parametrize(
    ("kind", "data", "sets", "uses"),
    [
        ("ask", {"question": "Hi {{name}}, your email?", "variable": "email"}, {"email"}, {"name"}),
        (
            "send_message",
            {"text": "{{a}} and {{ b }}", "quick_replies": [{"title": "{{c}}"}]},
            set(),
            {"a", "b", "c"},
        ),
        (
            "condition",
            {"rules": [{"variable": "x", "operator": "equals", "value": "{{y}}"}]},
            set(),
            {"x", "y"},
        ),
        (
            "log_event",
            {"event": "purchase", "value": "{{total}}", "params": {"id": "{{order}}"}},
            set(),
            {"total", "order"},
        ),
        ("handoff", {"note": "{{email}}"}, set(), {"email"}),
    ],
)
def test_variables_a_block_sets_and_uses(kind, data, sets, uses):
    assert REGISTRY[kind].sets(data) == sets
    assert REGISTRY[kind].uses(data) == uses


def test_placeholders_are_found_anywhere():
    assert placeholders({"a": ["{{x}}", {"b": "{{ y }} {{z}}"}], "n": 3}) == {"x", "y", "z"}


def test_palette_entries_carry_schema_defaults_and_handles():
    entry = REGISTRY["condition"].palette()
    assert entry["type"] == "condition"
    assert entry["handles"] == [
        {"id": "true", "label": "True", "required": True},
        {"id": "false", "label": "False", "required": True},
    ]
    assert entry["schema"]["required"] == ["rules"]
    # a new block's defaults are the starting point, not necessarily valid yet
    assert problems("condition", entry["defaults"]) == [("rules[0].variable", "invalid_format")]
