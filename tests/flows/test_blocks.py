"""Every block type's validation, table-driven: each row is data and the problems it must give."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from flows.blocks import REGISTRY, BlockContext
from flows.blocks.base import WARNING, placeholders

CAPI, PAGE_ACTIVITIES = "conversions_api", "page_activities"


def problems(kind: str, data: object, transport: str | None = None) -> list[tuple[str, str]]:
    found = REGISTRY[kind].validate(data, BlockContext(node_id="n1", transport=transport))
    assert all(p.node_id == "n1" for p in found)
    return [(p.field, p.code) for p in found]


def test_registry_has_every_block_type_once() -> None:
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
def test_handles(kind: str, handles: list[Any]) -> None:
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
def test_block_validation(kind: str, data: dict[str, Any] | list[Any], expected: list[Any]) -> None:
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
def test_log_event_validation(
    data: dict[str, Any], transport: str | None, expected: list[Any]
) -> None:
    assert problems("log_event", data, transport) == expected


def test_log_event_messages_say_how_to_fix() -> None:
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
def test_variables_a_block_sets_and_uses(
    kind: str, data: dict[str, Any], sets: set[Any], uses: set[Any]
) -> None:
    assert REGISTRY[kind].sets(data) == sets
    assert REGISTRY[kind].uses(data) == uses


def test_placeholders_are_found_anywhere() -> None:
    assert placeholders({"a": ["{{x}}", {"b": "{{ y }} {{z}}"}], "n": 3}) == {"x", "y", "z"}


def test_palette_entries_carry_schema_defaults_and_handles() -> None:
    entry = REGISTRY["condition"].palette()
    assert entry["type"] == "condition"
    assert entry["handles"] == [
        {"id": "true", "label": "True", "required": True, "label_when_branching": None},
        {"id": "false", "label": "False", "required": True, "label_when_branching": None},
    ]
    assert entry["dynamic_handles"] == []
    assert (entry["waits_for_input"], entry["waits_when_branching"]) == (False, False)
    assert entry["schema"]["required"] == ["rules"]
    # a new block's defaults are the starting point, not necessarily valid yet
    assert problems("condition", entry["defaults"]) == [("rules[0].variable", "invalid_format")]


# --- Handles of their own for quick replies and buttons ------------------------------------------

REPLY_HANDLES = {
    "items": "quick_replies",
    "prefix": "reply-",
    "label": "title",
    "when": {},
    "noun": "quick reply",
    "required": False,
}
BUTTON_HANDLES = {
    "items": "buttons",
    "prefix": "button-",
    "label": "title",
    "when": {"type": "postback"},
    "noun": "button",
    "required": False,
}
ANY_OTHER = {
    "id": "next",
    "label": "Next",
    "required": True,
    "label_when_branching": "Any other answer",
}


@pytest.mark.parametrize(
    ("kind", "dynamic", "waits", "waits_when_branching"),
    [
        ("start", [], False, False),
        ("send_message", [REPLY_HANDLES, BUTTON_HANDLES], False, True),
        ("ask", [REPLY_HANDLES], True, False),
        ("condition", [], False, False),
        ("log_event", [], False, False),
        ("handoff", [], False, False),
        ("end", [], False, False),
    ],
)
def test_palette_describes_dynamic_handles(
    kind: str, dynamic: list[Any], waits: bool, waits_when_branching: bool
) -> None:
    entry = REGISTRY[kind].palette()
    assert entry["dynamic_handles"] == dynamic
    assert (entry["waits_for_input"], entry["waits_when_branching"]) == (
        waits,
        waits_when_branching,
    )
    if dynamic:
        assert entry["handles"] == [ANY_OTHER]


MESSAGE = {
    "text": "Pick one",
    "quick_replies": [
        {"title": "Red", "payload": "RED", "id": "red"},
        {"title": "Blue"},  # no id: no handle, as before ids
        {"title": "{{name}}", "id": "mine"},
    ],
    "buttons": [
        {"type": "postback", "title": "Yes", "payload": "YES", "id": "yes"},
        {"type": "web_url", "title": "Shop", "url": "https://example.com", "id": "shop"},
        {"type": "postback", "title": "No", "payload": "NO"},
    ],
}


@pytest.mark.parametrize(
    ("kind", "data", "connected", "expected"),
    [
        ("send_message", {"text": "Hi"}, set(), [("next", "Next", True)]),
        (
            "send_message",
            MESSAGE,
            set(),
            [
                ("next", "Next", True),
                ("reply-red", "Red", False),
                ("reply-mine", "{{name}}", False),
                ("button-yes", "Yes", False),  # a link has no handle, even with an id
            ],
        ),
        (
            "send_message",
            MESSAGE,
            {"next", "button-yes"},
            [
                ("next", "Any other answer", True),
                ("reply-red", "Red", False),
                ("reply-mine", "{{name}}", False),
                ("button-yes", "Yes", False),
            ],
        ),
        # connected handles that are not item handles do not make it branch
        ("send_message", MESSAGE, {"next", "reply-blue"}, None),
        (
            "ask",
            {"question": "Q", "variable": "v", "quick_replies": [{"title": "A", "id": "a"}]},
            {"reply-a"},
            [("next", "Any other answer", True), ("reply-a", "A", False)],
        ),
        # duplicates: the first one counts (the block's validation reports the second)
        (
            "ask",
            {"quick_replies": [{"title": "A", "id": "a"}, {"title": "B", "id": "a"}]},
            set(),
            [("next", "Next", True), ("reply-a", "A", False)],
        ),
        # anything that is not a well-formed item has no handle; nothing breaks
        (
            "ask",
            {"quick_replies": ["x", {"title": "A", "id": "not ok"}, {"id": 5}, {"id": "ok"}]},
            set(),
            [("next", "Next", True), ("reply-ok", "", False)],
        ),
        ("ask", {"quick_replies": "nope"}, set(), [("next", "Next", True)]),
        ("ask", [], set(), [("next", "Next", True)]),
        ("condition", {"rules": []}, {"true"}, [("true", "True", True), ("false", "False", True)]),
        ("end", {}, set(), []),
    ],
)
def test_handles_for_data(
    kind: str, data: dict[str, Any] | list[Any], connected: set[Any], expected: list[Any] | None
) -> None:
    handles = [(h.id, h.label, h.required) for h in REGISTRY[kind].handles_for(data, connected)]
    if expected is None:  # as with nothing connected
        expected = [(h.id, h.label, h.required) for h in REGISTRY[kind].handles_for(data)]
    assert handles == expected


@pytest.mark.parametrize(
    ("kind", "data", "connected", "waits"),
    [
        ("send_message", MESSAGE, set(), False),
        ("send_message", MESSAGE, {"next"}, False),
        ("send_message", MESSAGE, {"reply-red"}, True),
        ("send_message", MESSAGE, {"button-yes"}, True),
        ("send_message", MESSAGE, {"button-shop"}, False),  # not a handle it has
        ("ask", {"question": "Q", "variable": "v"}, set(), True),
        ("condition", {"rules": []}, {"true", "false"}, False),
    ],
)
def test_whether_a_block_waits_depends_on_its_connections(
    kind: str, data: dict[str, Any], connected: set[Any], waits: bool
) -> None:
    assert REGISTRY[kind].waits(data, connected) is waits


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("send_message", MESSAGE, []),
        (
            "send_message",
            {"text": "Hi", "quick_replies": [{"title": "A", "id": "a-1_B"}]},
            [],
        ),
        (
            "send_message",
            {"text": "Hi", "quick_replies": [{"title": "A", "id": "a b"}]},
            [("quick_replies[0].id", "invalid_format")],
        ),
        (
            "send_message",
            {"text": "Hi", "quick_replies": [{"title": "A", "id": ""}]},
            [("quick_replies[0].id", "invalid_format")],
        ),
        (
            "send_message",
            {"text": "Hi", "quick_replies": [{"title": "A", "id": "x" * 41}]},
            [("quick_replies[0].id", "invalid_format")],
        ),
        (
            "send_message",
            {
                "text": "Hi",
                "buttons": [{"type": "postback", "title": "A", "payload": "A", "id": 3}],
            },
            [("buttons[0].id", "wrong_type")],
        ),
        (
            "send_message",
            {
                "text": "Hi",
                "quick_replies": [
                    {"title": "A", "id": "a"},
                    {"title": "B", "id": "b"},
                    {"title": "C", "id": "a"},
                ],
            },
            [("quick_replies[2].id", "duplicate_id")],
        ),
        (
            # unique within the block: a button may not reuse a quick reply's id
            "send_message",
            {
                "text": "Hi",
                "quick_replies": [{"title": "A", "id": "a"}],
                "buttons": [
                    {"type": "web_url", "title": "B", "url": "https://x.example", "id": "a"}
                ],
            },
            [("buttons[0].id", "duplicate_id")],
        ),
        (
            "ask",
            {
                "question": "Q",
                "variable": "v",
                "quick_replies": [{"title": "A", "id": "a"}, {"title": "B", "id": "a"}],
            },
            [("quick_replies[1].id", "duplicate_id")],
        ),
    ],
)
def test_item_ids(kind: str, data: dict[str, Any], expected: list[Any]) -> None:
    assert problems(kind, data) == expected


def test_a_duplicate_item_id_says_which_item_has_it() -> None:
    data = {
        "text": "Hi",
        "quick_replies": [{"title": "A", "id": "a"}],
        "buttons": [{"type": "postback", "title": "B", "payload": "B", "id": "a"}],
    }
    (found,) = REGISTRY["send_message"].validate(data, BlockContext("n1"))
    assert (found.field, found.message) == (
        "buttons[0].id",
        "Quick reply 1 of this block already has the id “a”: give each quick reply and button "
        "its own id (it names its connection).",
    )
    bad = REGISTRY["ask"].validate(
        {"question": "Q", "variable": "v", "quick_replies": [{"title": "A", "id": "a b"}]},
        BlockContext("n1"),
    )
    assert bad[0].message == (
        "Not allowed here. 1 to 40 letters, digits, _ or -, unique in the block: names this "
        "quick reply's own connection (reply-<id>). The editor sets it."
    )


# --- The palette's schemas build forms ----------------------------------------------------------


def _properties(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, property schema) for every property of `schema` and of the objects inside it."""
    for name, prop in schema.get("properties", {}).items():
        yield f"{path}{name}", prop
        yield from _properties(prop, f"{path}{name}.")
        if isinstance(prop.get("items"), dict):
            yield from _properties(prop["items"], f"{path}{name}[].")
        if isinstance(prop.get("additionalProperties"), dict):
            yield f"{path}{name}.*", prop["additionalProperties"]


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_every_property_a_form_shows_has_a_title(kind: str) -> None:
    untitled = [path for path, prop in _properties(REGISTRY[kind].schema) if not prop.get("title")]
    assert untitled == []


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_every_enum_has_a_label_for_each_value(kind: str) -> None:
    for path, prop in _properties(REGISTRY[kind].schema):
        if "enum" in prop:
            labels = prop.get("x-enumLabels")
            assert isinstance(labels, dict), path
            assert list(labels) == prop["enum"], path
            assert all(isinstance(v, str) and v and "_" not in v for v in labels.values()), path


@pytest.mark.parametrize(
    ("kind", "order"),
    [
        ("send_message", ["text", "buttons", "quick_replies"]),
        ("send_message", ["buttons[].title", "buttons[].type", "buttons[].payload"]),
        ("ask", ["question", "quick_replies", "variable", "check", "retry_message"]),
        ("ask", ["quick_replies[].title", "quick_replies[].payload", "quick_replies[].id"]),
        ("condition", ["match", "rules", "rules[].variable", "rules[].operator", "rules[].value"]),
        ("log_event", ["event", "params", "value", "currency", "logging_target"]),
    ],
)
def test_properties_come_in_the_order_a_form_shows_them(kind: str, order: list[Any]) -> None:
    paths = [path for path, _ in _properties(REGISTRY[kind].schema)]
    assert [p for p in paths if p in order] == order


@pytest.mark.parametrize(
    ("kind", "field", "value", "label"),
    [
        ("condition", "rules[].operator", "greater_than", "is greater than"),
        ("condition", "match", "any", "Any rule holds"),
        ("log_event", "logging_target", "app_and_page", "The app and the Page"),
        ("send_message", "buttons[].type", "web_url", "Link"),
        ("send_message", "buttons[].type", "postback", "Reply button"),
        ("ask", "check", "email", "An email address"),
    ],
)
def test_enum_labels_are_plain_words(kind: str, field: str, value: str, label: str) -> None:
    schema = dict(_properties(REGISTRY[kind].schema))[field]
    assert schema["x-enumLabels"][value] == label


def test_enum_labels_do_not_change_what_validation_says() -> None:
    rule = {"variable": "x", "operator": "bigger", "value": 1}
    (found,) = REGISTRY["condition"].validate({"rules": [rule]}, BlockContext("n1"))
    assert found.message == (
        "Pick one of: equals, not_equals, contains, greater_than, less_than, is_set."
    )


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_defaults_follow_the_forms_order(kind: str) -> None:
    properties = list(REGISTRY[kind].schema.get("properties", {}))
    defaults = list(REGISTRY[kind].defaults)
    assert defaults == [name for name in properties if name in defaults]
