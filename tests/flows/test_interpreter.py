"""The interpreter and every block's runtime step: pure functions, no database, no HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.blocks import REGISTRY
from flows.blocks.ask import RETRY_MESSAGES, check_answer
from flows.blocks.steps import StepInput, StepResult, build_message, substitute
from flows.flow_templates import LEAD_GENERATION, PURCHASE_FOLLOW_UP
from flows.interpreter import (
    MAX_STEPS_PER_TURN,
    Handoff,
    Incoming,
    LogEvent,
    Result,
    SendMessage,
    State,
    resume_after_handoff,
    run,
)

SYSTEM = {"psid": "psid-1", "page_id": "page-1", "ref": ""}


def step(kind: str, data: Mapping[str, Any], **turn: Any) -> StepResult:
    step_function = REGISTRY[kind].step
    assert step_function is not None
    turn.setdefault("variables", {})
    turn.setdefault("step", 7)
    return step_function(StepInput(node_id="n1", data=data, **turn))


def text(body: str, *replies: str) -> dict[str, Any]:
    """The Send API message for `body` with quick replies whose payload is their title."""
    message: dict[str, Any] = {"text": body}
    if replies:
        message["quick_replies"] = [
            {"content_type": "text", "title": r, "payload": r} for r in replies
        ]
    return message


def document(
    nodes: list[tuple[str, str, dict[str, Any]]], edges: list[tuple[str, str | None, str]]
) -> dict[str, Any]:
    """A document from (id, type, data) nodes and (source, handle, target) edges."""
    return {
        "nodes": [
            {"id": i, "type": kind, "position": {"x": 0, "y": 0}, "data": data}
            for i, kind, data in nodes
        ],
        "edges": [
            {"id": f"e{n}", "source": s, "sourceHandle": h, "target": t}
            for n, (s, h, t) in enumerate(edges)
        ],
    }


def say(body: str) -> dict[str, Any]:
    return {"text": body}


def turns(doc: Mapping[str, Any], *messages: Incoming, state: State | None = None) -> list[Result]:
    results = []
    for incoming in messages:
        result = run(doc, state, incoming, system=SYSTEM)
        results.append(result)
        state = result.state
    return results


TYPED = Incoming("text", "quote")


# --- The registry ------------------------------------------------------------------------------


def test_every_block_type_has_a_step() -> None:
    assert [kind for kind, block in REGISTRY.items() if block.step is None] == []


# --- start, end, handoff -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data", "name", "expected"),
    [
        ("start", {}, "Ann", StepResult(handle="next")),
        ("start", {"label": "Hello"}, "Ann", StepResult(handle="next")),
        ("end", {}, "Ann", StepResult(status="ended")),
        (
            "handoff",
            {"note": "Lead {{name}} ({{psid}}), about {{unknown}}."},
            "Ann",
            StepResult(effects=(Handoff("n1", "Lead Ann (p1), about ."),), status="handed_off"),
        ),
        ("handoff", {}, "Ann", StepResult(effects=(Handoff("n1", ""),), status="handed_off")),
        (
            "handoff",
            {"note": " {{name}} "},
            "A" * 1500,
            StepResult(effects=(Handoff("n1", "A" * 999 + "…"),), status="handed_off"),
        ),
    ],
)
def test_simple_steps(kind: str, data: dict[str, Any], name: str, expected: StepResult) -> None:
    assert step(kind, data, variables={"name": name, "psid": "p1"}) == expected


# --- send_message ------------------------------------------------------------------------------

BUTTONS = [
    {"type": "postback", "title": "Yes {{name}}", "payload": "YES"},
    {"type": "web_url", "title": "Shop", "url": "https://shop.example/{{name}}"},
    {"type": "postback", "title": "No"},
]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "Hello"}, say("Hello")),
        ({"text": "Hi {{name}}, {{ name }}!"}, say("Hi Ann, Ann!")),
        ({"text": "Hi {{nobody}}."}, say("Hi .")),
        ({"text": "Your id: {{psid}}"}, say("Your id: p1")),
        ({"text": "{{nobody}}"}, None),
        ({"text": "  {{nobody}}  "}, None),
        ({"text": "{{long}}"}, say("x" * 1998 + "…")),
        ({"text": "Pick", "quick_replies": []}, say("Pick")),
        (
            {
                "text": "Pick",
                "quick_replies": [
                    {"title": "Red", "payload": "COLOR_RED"},
                    {"title": "Blue"},
                    {"title": "{{name}}'s", "payload": "{{name}}"},
                    {"title": "{{nobody}}", "payload": "dropped"},
                ],
            },
            {
                "text": "Pick",
                "quick_replies": [
                    {"content_type": "text", "title": "Red", "payload": "COLOR_RED"},
                    {"content_type": "text", "title": "Blue", "payload": "Blue"},
                    {"content_type": "text", "title": "Ann's", "payload": "Ann"},
                ],
            },
        ),
        (
            {"text": "Pick", "quick_replies": [{"title": "{{long}}"}]},
            {
                "text": "Pick",
                "quick_replies": [
                    {"content_type": "text", "title": "x" * 19 + "…", "payload": "x" * 19 + "…"}
                ],
            },
        ),
        (
            {"text": "Go on, {{name}}?", "buttons": BUTTONS},
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "button",
                        "text": "Go on, Ann?",
                        "buttons": [
                            {"type": "postback", "title": "Yes Ann", "payload": "YES"},
                            {"type": "web_url", "url": "https://shop.example/Ann", "title": "Shop"},
                            {"type": "postback", "title": "No", "payload": "No"},
                        ],
                    },
                }
            },
        ),
        (
            {
                "text": "{{long}}",
                "buttons": [{"type": "postback", "title": "OK", "payload": "OK"}],
                "quick_replies": [{"title": "Later"}],
            },
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "button",
                        "text": "x" * 639 + "…",
                        "buttons": [{"type": "postback", "title": "OK", "payload": "OK"}],
                    },
                },
                "quick_replies": [{"content_type": "text", "title": "Later", "payload": "Later"}],
            },
        ),
        (
            # a link that fills in as no link is dropped; with no button left it is plain text
            {"text": "See", "buttons": [{"type": "web_url", "title": "Go", "url": "{{nobody}}"}]},
            say("See"),
        ),
    ],
)
def test_send_message_step(data: dict[str, Any], message: dict[str, Any] | None) -> None:
    variables = {"name": "Ann", "psid": "p1", "long": "x" * 5000}
    expected = () if message is None else (SendMessage("n1", message),)
    assert step("send_message", data, variables=variables) == StepResult(
        effects=expected, handle="next"
    )


# --- ask ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "answer", "saved"),
    [
        ("email", "ann@example.com", "ann@example.com"),
        ("email", "  Ann.Lee+quotes@Example.CO.UK ", "Ann.Lee+quotes@example.co.uk"),
        ("email", "ann@example", None),
        ("email", "ann@@example.com", None),
        ("email", "ann lee@example.com", None),
        ("email", "ann@-example.com", None),
        ("email", "@example.com", None),
        ("email", "a" * 250 + "@b.co", None),
        ("email", "", None),
        ("phone", "+1 (555) 010-9999", "+15550109999"),
        ("phone", "555-0199", "5550199"),
        ("phone", "0044 20 7946 0958", "00442079460958"),
        ("phone", "123456", None),
        ("phone", "+1234567890123456", None),
        ("phone", "555+0199999", None),
        ("phone", "555.010.9999", None),
        ("phone", "call me", None),
        ("phone", "١٢٣٤٥٦٧٨", None),
        ("number", "4", "4"),
        ("number", " 4.50 ", "4.5"),
        ("number", "007", "7"),
        ("number", "-2.0", "-2"),
        ("number", "-0", "0"),
        ("number", "+3", "3"),
        ("number", ".5", "0.5"),
        ("number", "5.", "5"),
        ("number", "100", "100"),
        ("number", "12345678901234567890123456789012345", "12345678901234567890123456789012345"),
        ("number", "1e3", None),
        ("number", "NaN", None),
        ("number", "Infinity", None),
        ("number", "1,5", None),
        ("number", "four", None),
        ("number", "", None),
        ("text", "  hello there ", "hello there"),
        ("text", "   ", None),
        ("text", "", None),
    ],
)
def test_check_answer(check: str, answer: str, saved: str | None) -> None:
    assert check_answer(check, answer) == saved


ASK = {
    "question": "Which colour, {{name}}?",
    "variable": "colour",
    "check": "text",
    "retry_message": "Try again, {{name}}.",
    "quick_replies": [{"title": "Red", "payload": "COLOR_RED"}, {"title": "Blue"}],
}
QUESTION = SendMessage(
    "n1",
    {
        "text": "Which colour, Ann?",
        "quick_replies": [
            {"content_type": "text", "title": "Red", "payload": "COLOR_RED"},
            {"content_type": "text", "title": "Blue", "payload": "Blue"},
        ],
    },
)


@pytest.mark.parametrize(
    ("data", "answer", "retries", "expected"),
    [
        # first visit: the question, then wait
        (ASK, None, 0, StepResult(effects=(QUESTION,), status="waiting")),
        # a referral is no answer: ask again, without counting a retry
        (
            ASK,
            Incoming("referral", ref="ad"),
            2,
            StepResult((QUESTION,), status="waiting", retries=2),
        ),
        (
            ASK,
            Incoming("quick_reply", "Red", "COLOR_RED"),
            1,
            StepResult(variables={"colour": "Red", "colour_payload": "COLOR_RED"}, handle="next"),
        ),
        (
            ASK,
            Incoming("postback", "Blue", "Blue"),
            0,
            StepResult(variables={"colour": "Blue", "colour_payload": "Blue"}, handle="next"),
        ),
        (
            # a quick reply without its title answers with the matching option's title
            ASK,
            Incoming("quick_reply", "", "COLOR_RED"),
            0,
            StepResult(variables={"colour": "Red", "colour_payload": "COLOR_RED"}, handle="next"),
        ),
        (
            # typing a quick reply's title counts as pressing it
            ASK,
            Incoming("text", " red "),
            0,
            StepResult(variables={"colour": "Red", "colour_payload": "COLOR_RED"}, handle="next"),
        ),
        (
            ASK,
            Incoming("text", " Green "),
            0,
            StepResult(variables={"colour": "Green"}, handle="next"),
        ),
        (
            ASK,
            Incoming("text", "  "),
            3,
            StepResult(
                effects=(SendMessage("n1", say("Try again, Ann.")), QUESTION),
                status="waiting",
                retries=4,
            ),
        ),
        (
            {"question": "Email?", "variable": "email", "check": "email"},
            Incoming("text", "not an email"),
            0,
            StepResult(
                effects=(
                    SendMessage("n1", say(RETRY_MESSAGES["email"])),
                    SendMessage("n1", say("Email?")),
                ),
                status="waiting",
                retries=1,
            ),
        ),
        (
            {"question": "Email?", "variable": "email", "check": "email"},
            Incoming("text", "Ann@Example.com"),
            1,
            StepResult(variables={"email": "Ann@example.com"}, handle="next"),
        ),
        (
            {"question": "Rate 1-5", "variable": "rating", "check": "number"},
            Incoming("quick_reply", "4", "FOUR"),
            0,
            StepResult(variables={"rating": "4", "rating_payload": "FOUR"}, handle="next"),
        ),
        (
            {"question": "Phone?", "variable": "phone", "check": "phone"},
            Incoming("postback", "Call me", "CALL"),
            0,
            StepResult(
                effects=(
                    SendMessage("n1", say(RETRY_MESSAGES["phone"])),
                    SendMessage("n1", say("Phone?")),
                ),
                status="waiting",
                retries=1,
            ),
        ),
    ],
)
def test_ask_step(
    data: dict[str, Any], answer: Incoming | None, retries: int, expected: StepResult
) -> None:
    assert step("ask", data, variables={"name": "Ann"}, answer=answer, retries=retries) == expected


def test_ask_typed_answer_clears_a_payload_from_before() -> None:
    result = step(
        "ask",
        ASK,
        variables={"colour": "Red", "colour_payload": "COLOR_RED"},
        answer=Incoming("text", "Green"),
    )
    assert result.variables == {"colour": "Green", "colour_payload": ""}


# --- condition ---------------------------------------------------------------------------------

VARIABLES = {"channel": "Email", "rating": "4", "note": "Loves the RED bike", "blank": "  "}


def rule(variable: str, operator: str, value: object = None) -> dict[str, Any]:
    return {"variable": variable, "operator": operator} | (
        {} if value is None else {"value": value}
    )


@pytest.mark.parametrize(
    ("rules", "match", "handle"),
    [
        ([rule("channel", "equals", "email")], "all", "true"),
        ([rule("channel", "equals", " EMAIL ")], "all", "true"),
        ([rule("channel", "equals", "Phone")], "all", "false"),
        ([rule("missing", "equals", "")], "all", "true"),
        ([rule("rating", "equals", 4.0)], "all", "true"),
        ([rule("rating", "equals", "4.00")], "all", "true"),
        ([rule("channel", "not_equals", "Phone")], "all", "true"),
        ([rule("channel", "not_equals", "EMAIL")], "all", "false"),
        ([rule("note", "contains", "red")], "all", "true"),
        ([rule("note", "contains", "blue")], "all", "false"),
        ([rule("rating", "greater_than", 3)], "all", "true"),
        ([rule("rating", "greater_than", "4")], "all", "false"),
        ([rule("rating", "greater_than", 3.5)], "all", "true"),
        ([rule("rating", "less_than", 5)], "all", "true"),
        ([rule("rating", "less_than", "4")], "all", "false"),
        ([rule("channel", "greater_than", 3)], "all", "false"),
        ([rule("missing", "less_than", 3)], "all", "false"),
        ([rule("rating", "greater_than", "{{limit}}")], "all", "true"),
        ([rule("rating", "less_than", "{{nobody}}")], "all", "false"),
        ([rule("channel", "equals", "{{preferred}}")], "all", "true"),
        ([rule("channel", "is_set")], "all", "true"),
        ([rule("blank", "is_set")], "all", "false"),
        ([rule("missing", "is_set")], "all", "false"),
        ([rule("channel", "equals", "Email"), rule("rating", "greater_than", 4)], "all", "false"),
        ([rule("channel", "equals", "Email"), rule("rating", "greater_than", 4)], "any", "true"),
        ([rule("channel", "equals", "Phone"), rule("rating", "greater_than", 4)], "any", "false"),
        ([], "all", "false"),
    ],
)
def test_condition_step(rules: list[Any], match: str, handle: str) -> None:
    variables = {**VARIABLES, "limit": "2", "preferred": "email"}
    result = step("condition", {"match": match, "rules": rules}, variables=variables)
    assert result == StepResult(handle=handle)


def test_condition_match_defaults_to_all() -> None:
    rules = [rule("channel", "equals", "Email"), rule("rating", "greater_than", 4)]
    assert step("condition", {"rules": rules}, variables=VARIABLES).handle == "false"


# --- log_event ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"event": "lead_submitted", "params": {"need": "{{need}}", "from": "bot {{psid}}"}},
            LogEvent(
                "n1", 7, "lead_submitted", {"need": "A quote", "from": "bot p1"}, None, "", "page"
            ),
        ),
        (
            {"event": "purchase", "params": {}, "value": "{{total}}", "currency": "EUR"},
            LogEvent("n1", 7, "purchase", {}, "49.90", "EUR", "page"),
        ),
        (
            {
                "event": "purchase",
                "value": 12.5,
                "currency": "USD",
                "logging_target": "app_and_page",
            },
            LogEvent("n1", 7, "purchase", {}, "12.5", "USD", "app_and_page"),
        ),
        (
            {"event": "rate", "params": {"stars": 5, "who": "{{nobody}}"}, "value": "{{nobody}}"},
            LogEvent("n1", 7, "rate", {"stars": "5", "who": ""}, None, "", "page"),
        ),
        (
            {"event": "rate", "value": None, "currency": "", "logging_target": "app"},
            LogEvent("n1", 7, "rate", {}, None, "", "app"),
        ),
    ],
)
def test_log_event_step(data: dict[str, Any], expected: LogEvent) -> None:
    variables = {"need": "A quote", "psid": "p1", "total": "49.90"}
    assert step("log_event", data, variables=variables) == StepResult(
        effects=(expected,), handle="next"
    )


def test_log_event_carries_the_step_it_ran_at() -> None:
    result = step("log_event", {"event": "rate"}, step=42)
    assert [e.step for e in result.effects if isinstance(e, LogEvent)] == [42]


# --- The lead-generation template end to end ----------------------------------------------------

LEAD = LEAD_GENERATION.document()


def test_lead_template_by_email_with_a_bad_address_first() -> None:
    results = turns(
        LEAD,
        TYPED,
        Incoming("quick_reply", "A quote", "A quote"),
        Incoming("quick_reply", "This month", "This month"),
        Incoming("postback", "Email", "Email"),
        Incoming("text", "ann at example dot com"),
        Incoming("text", " Ann@Example.com "),
    )
    assert [(r.path, r.effects) for r in results] == [
        (
            ("start", "welcome", "ask_need"),
            (
                SendMessage(
                    "welcome",
                    say("Hi! We'd love to help. Two quick questions, then we'll put you in touch."),
                ),
                SendMessage(
                    "ask_need",
                    text(
                        "What are you looking for?", "A quote", "A consultation", "More information"
                    ),
                ),
            ),
        ),
        (
            ("ask_need", "ask_timeline"),
            (
                SendMessage(
                    "ask_timeline",
                    text(
                        "When would you like to get started?",
                        "This month",
                        "In 1-3 months",
                        "Later",
                    ),
                ),
            ),
        ),
        (
            ("ask_timeline", "ask_channel"),
            (SendMessage("ask_channel", text("How should we contact you?", "Email", "Phone")),),
        ),
        (
            ("ask_channel", "ask_email"),  # Email's own handle
            (SendMessage("ask_email", say("What's your email address?")),),
        ),
        (
            ("ask_email",),
            (
                SendMessage(
                    "ask_email",
                    say("That doesn't look like an email address. Could you check it?"),
                ),
                SendMessage("ask_email", say("What's your email address?")),
            ),
        ),
        (
            ("ask_email", "lead", "thanks", "to_team"),
            (
                LogEvent(
                    node_id="lead",
                    step=12,
                    event="lead_submitted",
                    params={"need": "A quote", "timeline": "This month", "channel": "Email"},
                    value=None,
                    currency="",
                    logging_target="page",
                ),
                SendMessage(
                    "thanks",
                    say(
                        "Thank you! Someone from our team will contact you at Ann@example.com "
                        "shortly."
                    ),
                ),
                Handoff(
                    "to_team",
                    "New lead: A quote, starting This month. Contact by Email: Ann@example.com.",
                ),
            ),
        ),
    ]
    assert [(r.state.node_id, r.state.status, r.state.step, r.state.retries) for r in results] == [
        ("ask_need", "waiting", 3, 0),
        ("ask_timeline", "waiting", 5, 0),
        ("ask_channel", "waiting", 7, 0),
        ("ask_email", "waiting", 9, 0),
        ("ask_email", "waiting", 10, 1),
        ("to_team", "handed_off", 14, 0),
    ]
    assert results[-1].state.variables == {
        **SYSTEM,
        "need": "A quote",
        "need_payload": "A quote",
        "timeline": "This month",
        "timeline_payload": "This month",
        "channel": "Email",
        "channel_payload": "Email",
        "contact": "Ann@example.com",
    }


def test_lead_template_by_phone() -> None:
    *_, last = turns(
        LEAD,
        TYPED,
        Incoming("text", "Pricing for 20 bikes"),
        Incoming("text", "later"),
        Incoming("text", "phone"),
        Incoming("text", "+44 (20) 7946-0958"),
    )
    assert last.path == ("ask_phone", "lead", "thanks", "to_team")
    assert last.effects[0] == LogEvent(
        "lead",
        11,
        "lead_submitted",
        {"need": "Pricing for 20 bikes", "timeline": "Later", "channel": "Phone"},
        None,
        "",
        "page",
    )
    assert last.effects[-1] == Handoff(
        "to_team",
        "New lead: Pricing for 20 bikes, starting Later. Contact by Phone: +442079460958.",
    )
    assert last.state.status == "handed_off"


def lead_handed_off() -> State:
    *_, last = turns(
        LEAD,
        TYPED,
        Incoming("text", "A quote"),
        Incoming("text", "Later"),
        Incoming("text", "Email"),
        Incoming("text", "ann@example.com"),
    )
    assert last.state.status == "handed_off"
    return last.state


@pytest.mark.parametrize(
    "incoming",
    [
        Incoming("text", "hello?"),
        Incoming("postback", "Get started", "GET_STARTED"),
        Incoming("start"),
    ],
)
def test_a_handed_off_conversation_is_left_alone(incoming: Incoming) -> None:
    state = lead_handed_off()
    assert run(LEAD, state, incoming, system=SYSTEM) == Result(state, (), ())


def test_resume_after_handoff_ends_when_nothing_follows_the_handoff() -> None:
    state = lead_handed_off()
    result = resume_after_handoff(LEAD, state, system=SYSTEM)
    assert result == Result(
        State("to_team", state.variables, state.step, "ended", 0), effects=(), path=()
    )


def test_resume_after_handoff_goes_on_from_the_next_handle() -> None:
    doc = document(
        [
            ("s", "start", {}),
            ("h", "handoff", {"note": "help"}),
            ("back", "send_message", {"text": "We're back, {{psid}}."}),
            ("e", "end", {}),
        ],
        [("s", "next", "h"), ("h", "next", "back"), ("back", "next", "e")],
    )
    first = run(doc, None, TYPED, system=SYSTEM)
    assert (first.path, first.effects, first.state.status) == (
        ("s", "h"),
        (Handoff("h", "help"),),
        "handed_off",
    )
    resumed = resume_after_handoff(doc, first.state, system=SYSTEM)
    assert resumed.path == ("back", "e")
    assert resumed.effects == (SendMessage("back", say("We're back, psid-1.")),)
    assert (resumed.state.node_id, resumed.state.status, resumed.state.step) == ("e", "ended", 4)


def test_resume_after_handoff_leaves_other_states_alone() -> None:
    state = State("ask_need", {}, 3, "waiting")
    assert resume_after_handoff(LEAD, state, system=SYSTEM) == Result(state, (), ())


# --- The purchase follow-up template ------------------------------------------------------------

PURCHASE = PURCHASE_FOLLOW_UP.document()
THANKS = "Thanks for shopping with us! Do you have a moment for one question?"
RATE = "How would you rate your purchase, from 1 (poor) to 5 (great)?"


def test_purchase_follow_up_happy_customer() -> None:
    first, retry, rated = turns(
        PURCHASE,
        Incoming("referral", ref="purchase-follow-up"),
        Incoming("text", "great!"),
        Incoming("quick_reply", "5", "5"),
    )
    assert first.effects == (
        SendMessage("hello", say(THANKS)),
        SendMessage("ask_rating", text(RATE, "1", "2", "3", "4", "5")),
    )
    assert retry.effects == (
        SendMessage("ask_rating", say("Please answer with a number from 1 to 5.")),
        SendMessage("ask_rating", text(RATE, "1", "2", "3", "4", "5")),
    )
    assert rated.path == ("ask_rating", "rated", "happy", "glad", "done")
    assert rated.effects == (
        LogEvent("rated", 6, "rate", {}, "5", "", "page"),
        SendMessage("glad", say("Wonderful, thank you! We hope to see you again soon.")),
    )
    assert (rated.state.node_id, rated.state.status, rated.state.step) == ("done", "ended", 9)


def test_purchase_follow_up_unhappy_customer() -> None:
    *_, rated, told = turns(
        PURCHASE,
        Incoming("referral", ref="purchase-follow-up"),
        Incoming("text", "2"),
        Incoming("text", "The saddle was broken."),
    )
    assert rated.path == ("ask_rating", "rated", "happy", "ask_problem")
    assert rated.effects == (
        LogEvent("rated", 5, "rate", {}, "2", "", "page"),
        SendMessage("ask_problem", say("We're sorry to hear that. What went wrong?")),
    )
    assert told.path == ("ask_problem", "sorry", "to_team")
    assert told.effects == (
        SendMessage(
            "sorry", say("Thank you for telling us. Someone from our team will get back to you.")
        ),
        Handoff("to_team", "Unhappy customer (rated 2 of 5): The saddle was broken."),
    )


# --- Where a turn begins and how it ends ---------------------------------------------------------


def test_an_ended_conversation_restarts_from_start_with_fresh_variables() -> None:
    *_, ended = turns(PURCHASE, Incoming("referral", ref="x"), Incoming("text", "5"), state=None)
    assert ended.state.status == "ended"
    again = run(PURCHASE, ended.state, Incoming("text", "hi"), system=SYSTEM)
    assert again.path == ("start", "hello", "ask_rating")
    assert again.state == State("ask_rating", SYSTEM, ended.state.step + 3, "waiting", 0)


def test_a_start_incoming_restarts_a_waiting_conversation() -> None:
    waiting = State("ask_timeline", {"need": "A quote"}, 5, "waiting", 2)
    result = run(LEAD, waiting, Incoming("start"), system=SYSTEM)
    assert result.path == ("start", "welcome", "ask_need")
    assert result.state == State("ask_need", SYSTEM, 8, "waiting", 0)


def test_a_referral_while_waiting_asks_again() -> None:
    waiting = State("ask_need", {}, 3, "waiting", 1)
    result = run(LEAD, waiting, Incoming("referral", ref="ad-7"), system=SYSTEM)
    assert result.path == ("ask_need",)
    assert [type(e) for e in result.effects] == [SendMessage]
    assert result.state == State("ask_need", SYSTEM, 4, "waiting", 1)


def test_system_variables_are_filled_in_and_refreshed_every_turn() -> None:
    doc = document(
        [
            ("s", "start", {}),
            ("q", "ask", {"question": "Name? ({{ref}})", "variable": "name"}),
            ("m", "send_message", {"text": "{{name}} on {{page_id}} via {{ref}}, psid {{psid}}"}),
        ],
        [("s", "next", "q"), ("q", "next", "m")],
    )
    first = run(doc, None, TYPED, system={**SYSTEM, "ref": "ad-1"})
    assert first.effects == (SendMessage("q", say("Name? (ad-1)")),)
    second = run(doc, first.state, Incoming("text", "Ann"), system={**SYSTEM, "ref": "ad-2"})
    assert second.effects == (SendMessage("m", say("Ann on page-1 via ad-2, psid psid-1")),)
    assert (second.state.node_id, second.state.status) == ("m", "ended")  # nothing connected


@pytest.mark.parametrize(
    ("doc", "state", "path", "node_id"),
    [
        # the version changed under a waiting conversation
        (LEAD, State("gone", {}, 9, "waiting"), (), "gone"),
        # an edge into a block the document does not have
        (
            document(
                [("s", "start", {}), ("m", "send_message", {"text": "hi"})], [("s", "next", "x")]
            ),
            None,
            ("s",),
            "x",
        ),
        # no start block at all
        (document([("m", "send_message", {"text": "hi"})], []), None, (), None),
        # an unknown block type
        (
            document([("s", "start", {}), ("w", "wait", {})], [("s", "next", "w")]),
            None,
            ("s",),
            "w",
        ),
        # a draft block whose settings fail its schema
        (
            document([("s", "start", {}), ("m", "send_message", {})], [("s", "next", "m")]),
            None,
            ("s",),
            "m",
        ),
        # not a document
        ({}, None, (), None),
    ],
)
def test_a_turn_that_cannot_go_on_ends_cleanly(
    doc: dict[str, Any], state: State | None, path: tuple[Any, ...], node_id: str | None
) -> None:
    result = run(doc, state, Incoming("text", "hi"), system=SYSTEM)
    assert (result.path, result.effects) == (path, ())
    assert (result.state.node_id, result.state.status) == (node_id, "ended")


def test_edges_without_a_source_handle_use_the_blocks_only_handle() -> None:
    doc = document(
        [("s", "start", {}), ("m", "send_message", {"text": "hi"}), ("e", "end", {})],
        [("s", None, "m"), ("m", None, "e")],
    )
    result = run(doc, None, TYPED, system=SYSTEM)
    assert result.path == ("s", "m", "e")
    assert result.state.status == "ended"


def test_a_loop_without_an_ask_stops_at_the_guard() -> None:
    doc = document(
        [
            ("s", "start", {}),
            ("a", "send_message", {"text": "ping"}),
            ("b", "send_message", {"text": "pong"}),
        ],
        [("s", "next", "a"), ("a", "next", "b"), ("b", "next", "a")],
    )
    result = run(doc, None, TYPED, system=SYSTEM)
    assert len(result.path) == MAX_STEPS_PER_TURN == 100
    assert result.path[:4] == ("s", "a", "b", "a")
    assert len(result.effects) == 99
    # the 101st block would have been "b": the conversation ends there, having run none of it
    assert (result.state.node_id, result.state.status, result.state.step) == ("b", "ended", 100)


def test_the_same_turn_gives_the_same_result() -> None:
    """A retried webhook runs the same turn again: same effects, same steps, same keys."""
    waiting = State("ask_email", {"need": "A quote", "channel": "Email"}, 9, "waiting")
    answer = Incoming("text", "ann@example.com")
    assert run(LEAD, waiting, answer, system=SYSTEM) == run(LEAD, waiting, answer, system=SYSTEM)


def test_state_variables_cannot_be_changed_in_place() -> None:
    result = run(LEAD, None, TYPED, system=SYSTEM)
    with pytest.raises(TypeError):
        # The point: the read-only mapping refuses it at run time.
        result.state.variables["psid"] = "someone else"  # type: ignore[index]


# --- Properties ----------------------------------------------------------------------------------

LEAD_TITLES = ["A quote", "This month", "Email", "Phone", "Later", ""]
ANSWER_TEXT = st.one_of(
    st.sampled_from(["ann@example.com", "+1 555 010 9999", "Email", "Phone", "5", "x" * 3000]),
    st.text(max_size=300),
)
INCOMING = st.one_of(
    st.builds(Incoming, kind=st.just("text"), text=ANSWER_TEXT),
    st.builds(
        Incoming,
        kind=st.sampled_from(["quick_reply", "postback"]),
        text=st.sampled_from(LEAD_TITLES),
        payload=st.one_of(st.sampled_from(LEAD_TITLES), st.text(max_size=50)),
    ),
    st.builds(Incoming, kind=st.sampled_from(["referral", "start"]), ref=st.text(max_size=20)),
)


def message_texts(effect: object) -> list[str]:
    if not isinstance(effect, SendMessage):
        return []
    message = effect.message
    if "attachment" in message:
        return [message["attachment"]["payload"]["text"]]
    return [message["text"]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(INCOMING, min_size=1, max_size=15))
def test_random_answers_never_break_the_lead_template(messages: list[Incoming]) -> None:
    state = None
    for incoming in messages:
        result = run(LEAD, state, incoming, system=SYSTEM)
        if state is not None and state.status == "handed_off":
            assert result == Result(state, (), ())
        else:
            assert result.state.step > (state.step if state else 0)
            assert len(result.path) == result.state.step - (state.step if state else 0)
        assert result.state.status in {"waiting", "ended", "handed_off"}
        for effect in result.effects:
            assert all(0 < len(body) < 2000 for body in message_texts(effect))
            if isinstance(effect, Handoff):
                assert len(effect.note) <= 1000
        state = result.state


@settings(max_examples=100, deadline=None)
@given(
    body=st.text(min_size=1, max_size=2000),
    values=st.dictionaries(st.sampled_from(["a", "b"]), st.text(max_size=3000)),
    with_buttons=st.booleans(),
)
def test_a_built_message_is_always_within_the_send_api_limits(
    body: str, values: dict[str, str], with_buttons: bool
) -> None:
    buttons = [{"type": "postback", "title": "{{a}}", "payload": "{{b}}"}] if with_buttons else None
    replies = [{"title": "{{a}}{{b}}", "payload": "{{b}}{{b}}"}] * 14
    message = build_message(body + "{{a}}{{b}}", values, replies=replies, buttons=buttons)
    if message is None:
        assert substitute(body + "{{a}}{{b}}", values).strip() == ""
        return
    for reply in message.get("quick_replies", []):
        assert 0 < len(reply["title"]) <= 20
        assert 0 < len(reply["payload"]) <= 1000
    assert len(message.get("quick_replies", [])) <= 13
    if "attachment" in message:
        payload = message["attachment"]["payload"]
        assert 0 < len(payload["text"]) <= 640
        assert all(
            0 < len(b["title"]) <= 20 and len(b["payload"]) <= 1000 for b in payload["buttons"]
        )
    else:
        assert 0 < len(message["text"]) < 2000


# --- Quick replies and buttons that lead their own way ---------------------------------------------

MENU = {
    "text": "Hi {{name}}, what now?",
    "quick_replies": [
        {"title": "Prices", "payload": "PRICES", "id": "prices"},
        {"title": "Hours"},  # no id: its answers go by next
        {"title": "{{name}}'s order", "payload": "ORDER_{{name}}", "id": "order"},
    ],
    "buttons": [
        {"type": "postback", "title": "Talk to us", "payload": "TALK", "id": "talk"},
        {"type": "web_url", "title": "Shop", "url": "https://shop.example", "id": "shop"},
    ],
}
MENU_MESSAGE = {
    "attachment": {
        "type": "template",
        "payload": {
            "template_type": "button",
            "text": "Hi Ann, what now?",
            "buttons": [
                {"type": "postback", "title": "Talk to us", "payload": "TALK"},
                {"type": "web_url", "url": "https://shop.example", "title": "Shop"},
            ],
        },
    },
    "quick_replies": [
        {"content_type": "text", "title": "Prices", "payload": "PRICES"},
        {"content_type": "text", "title": "Hours", "payload": "Hours"},
        {"content_type": "text", "title": "Ann's order", "payload": "ORDER_Ann"},
    ],
}
ALL_MENU_HANDLES = frozenset({"next", "reply-prices", "reply-order", "button-talk"})


@pytest.mark.parametrize(
    ("connected", "answer", "expected"),
    [
        # nothing but next connected: send and go on, exactly as before handles
        (frozenset(), None, StepResult((SendMessage("n1", MENU_MESSAGE),), handle="next")),
        (
            frozenset({"next"}),
            None,
            StepResult((SendMessage("n1", MENU_MESSAGE),), handle="next"),
        ),
        # a connected handle that is not one of its items' does not make it wait
        (
            frozenset({"next", "button-shop", "reply-hours"}),
            None,
            StepResult((SendMessage("n1", MENU_MESSAGE),), handle="next"),
        ),
        # one reply or button connected: send and wait
        (
            frozenset({"reply-prices"}),
            None,
            StepResult((SendMessage("n1", MENU_MESSAGE),), status="waiting"),
        ),
        (
            frozenset({"button-talk"}),
            None,
            StepResult((SendMessage("n1", MENU_MESSAGE),), status="waiting"),
        ),
        # the answer: by payload first, then by title (any case), else next
        (
            ALL_MENU_HANDLES,
            Incoming("quick_reply", "Prices", "PRICES"),
            StepResult(handle="reply-prices"),
        ),
        (
            ALL_MENU_HANDLES,
            Incoming("quick_reply", "", "PRICES"),
            StepResult(handle="reply-prices"),
        ),
        (
            ALL_MENU_HANDLES,
            Incoming("postback", "Talk to us", "TALK"),
            StepResult(handle="button-talk"),
        ),
        (
            ALL_MENU_HANDLES,
            Incoming("postback", "Prices", "TALK"),
            StepResult(handle="button-talk"),
        ),
        (ALL_MENU_HANDLES, Incoming("text", "  talk TO us "), StepResult(handle="button-talk")),
        (ALL_MENU_HANDLES, Incoming("text", "prices"), StepResult(handle="reply-prices")),
        (
            ALL_MENU_HANDLES,
            Incoming("quick_reply", "Ann's order", "ORDER_Ann"),
            StepResult(handle="reply-order"),
        ),
        (ALL_MENU_HANDLES, Incoming("text", "ann's ORDER"), StepResult(handle="reply-order")),
        (
            ALL_MENU_HANDLES,
            Incoming("postback", "Prices", "OLD_PAYLOAD"),
            StepResult(handle="reply-prices"),
        ),
        (ALL_MENU_HANDLES, Incoming("quick_reply", "Hours", "Hours"), StepResult(handle="next")),
        (
            ALL_MENU_HANDLES,
            Incoming("text", "Shop"),
            StepResult(handle="next"),
        ),  # a link: no answer
        (ALL_MENU_HANDLES, Incoming("text", "something else"), StepResult(handle="next")),
        (ALL_MENU_HANDLES, Incoming("text", ""), StepResult(handle="next")),
        # the matching item's handle is not connected: next
        (frozenset({"next", "button-talk"}), Incoming("text", "Prices"), StepResult(handle="next")),
    ],
)
def test_send_message_with_reply_handles(
    connected: frozenset[Any], answer: Incoming | None, expected: StepResult
) -> None:
    assert (
        step("send_message", MENU, variables={"name": "Ann"}, connected=connected, answer=answer)
        == expected
    )


def test_a_message_that_fills_in_empty_does_not_wait() -> None:
    data = {"text": "{{nobody}}", "quick_replies": [{"title": "A", "id": "a"}]}
    assert step("send_message", data, connected=frozenset({"reply-a"})) == StepResult(handle="next")


COLOURS = {
    **ASK,
    "quick_replies": [
        {"title": "Red", "payload": "COLOR_RED", "id": "red"},
        {"title": "Blue", "id": "blue"},
        {"title": "Green"},
    ],
}


@pytest.mark.parametrize(
    ("connected", "answer", "expected"),
    [
        (
            frozenset({"next", "reply-red", "reply-blue"}),
            Incoming("quick_reply", "Red", "COLOR_RED"),
            StepResult(
                variables={"colour": "Red", "colour_payload": "COLOR_RED"}, handle="reply-red"
            ),
        ),
        (
            frozenset({"next", "reply-red", "reply-blue"}),
            Incoming("text", " BLUE "),
            StepResult(variables={"colour": "Blue", "colour_payload": "Blue"}, handle="reply-blue"),
        ),
        (
            frozenset({"next", "reply-red"}),
            Incoming("text", "Blue"),
            StepResult(variables={"colour": "Blue", "colour_payload": "Blue"}, handle="next"),
        ),
        (
            frozenset({"next", "reply-red", "reply-blue"}),
            Incoming("text", "Green"),
            StepResult(variables={"colour": "Green", "colour_payload": "Green"}, handle="next"),
        ),
        (
            frozenset({"next", "reply-red", "reply-blue"}),
            Incoming("text", "Purple"),
            StepResult(variables={"colour": "Purple"}, handle="next"),
        ),
    ],
)
def test_ask_leaves_by_the_pressed_replys_handle(
    connected: frozenset[Any], answer: Incoming, expected: StepResult
) -> None:
    assert (
        step("ask", COLOURS, variables={"name": "Ann"}, connected=connected, answer=answer)
        == expected
    )


def test_ask_with_a_failing_answer_waits_whatever_is_connected() -> None:
    data = {**COLOURS, "check": "number"}
    result = step(
        "ask",
        data,
        variables={"name": "Ann"},
        connected=frozenset({"next", "reply-red"}),
        answer=Incoming("quick_reply", "Red", "COLOR_RED"),
    )
    assert (result.status, result.handle, result.retries) == ("waiting", None, 1)


BRANCHING = document(
    [
        ("s", "start", {}),
        ("m", "send_message", MENU),
        ("prices", "send_message", {"text": "From 10 EUR."}),
        ("talk", "handoff", {"note": "Wants to talk"}),
        ("other", "send_message", {"text": "Sorry, {{name}}?"}),
        ("e", "end", {}),
    ],
    [
        ("s", "next", "m"),
        ("m", "reply-prices", "prices"),
        ("m", "button-talk", "talk"),
        ("m", "next", "other"),
        ("prices", "next", "e"),
        ("other", "next", "e"),
    ],
)


def test_a_branching_message_waits_then_follows_the_button_pressed() -> None:
    first, pressed = turns(BRANCHING, TYPED, Incoming("postback", "Talk to us", "TALK"), state=None)
    assert first.path == ("s", "m")
    assert [type(e) for e in first.effects] == [SendMessage]
    assert first.state == State("m", SYSTEM, 2, "waiting", 0)
    assert pressed.path == ("m", "talk")
    assert pressed.effects == (Handoff("talk", "Wants to talk"),)
    assert pressed.state == State("talk", SYSTEM, 4, "handed_off", 0)  # no variable saved


@pytest.mark.parametrize(
    ("answer", "path"),
    [
        (Incoming("quick_reply", "Prices", "PRICES"), ("m", "prices", "e")),
        (Incoming("text", "prices"), ("m", "prices", "e")),
        (Incoming("text", "Opening hours?"), ("m", "other", "e")),
        (Incoming("quick_reply", "Hours", "Hours"), ("m", "other", "e")),
    ],
)
def test_a_branching_message_takes_each_answer_its_way(
    answer: Incoming, path: tuple[Any, ...]
) -> None:
    first, second = turns(BRANCHING, TYPED, answer)
    assert first.state.status == "waiting"
    assert second.path == path
    assert second.state.status == "ended"


def test_a_referral_while_a_message_waits_sends_it_again() -> None:
    first, again = turns(BRANCHING, TYPED, Incoming("referral", ref="ad"))
    assert again.path == ("m",)
    assert again.effects == first.effects[-1:]
    assert again.state == State("m", SYSTEM, 3, "waiting", 0)


def test_a_message_waiting_in_a_draft_that_changed_goes_on_by_next() -> None:
    """A test chat runs the draft as it is now: the reply handle was disconnected meanwhile."""
    first = run(BRANCHING, None, TYPED, system=SYSTEM)
    changed = {
        **BRANCHING,
        "edges": [e for e in BRANCHING["edges"] if e["sourceHandle"] != "reply-prices"],
    }
    result = run(changed, first.state, Incoming("text", "Prices"), system=SYSTEM)
    assert result.path == ("m", "other", "e")


def test_lead_template_any_other_contact_answer_asks_for_a_phone() -> None:
    *_, channel = turns(
        LEAD,
        TYPED,
        Incoming("text", "A quote"),
        Incoming("text", "Later"),
        Incoming("text", "text me"),
    )
    assert channel.path == ("ask_channel", "ask_phone")
    assert channel.state.variables["channel"] == "text me"


# Random menus and answers: the answer leaves by the handle an independent reading of the rule
# gives (payload match first, then title ignoring case; its handle if connected, else next).
ITEM_TITLES = ["Yes", "No", "yes", "Maybe", "Later"]
ITEM_PAYLOADS = ["", "YES", "NO", "Yes", "X"]


@st.composite
def menus(draw: st.DrawFn) -> dict[str, Any]:
    replies = draw(
        st.lists(
            st.fixed_dictionaries(
                {"title": st.sampled_from(ITEM_TITLES)},
                optional={
                    "payload": st.sampled_from(ITEM_PAYLOADS),
                    "id": st.sampled_from(["a", "b", "c"]),
                },
            ),
            max_size=4,
        )
    )
    buttons = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["postback", "web_url"]),
                    "title": st.sampled_from(ITEM_TITLES),
                    "payload": st.sampled_from(["YES", "NO", "Z"]),
                    "url": st.just("https://example.com"),
                },
                optional={"id": st.sampled_from(["a", "d", "e"])},
            ),
            max_size=3,
        )
    )
    return {"text": "Well?", "quick_replies": replies, "buttons": buttons}


def expected_handle(data: dict[str, Any], connected: frozenset[str], answer: Incoming) -> str:
    options = [
        (r["title"], r.get("payload") or r["title"], f"reply-{r['id']}" if "id" in r else None)
        for r in data["quick_replies"]
    ] + [
        (b["title"], b["payload"], f"button-{b['id']}" if "id" in b else None)
        for b in data["buttons"]
        if b["type"] == "postback"
    ]
    picked = None
    if answer.kind != "text" and answer.payload:
        picked = next((o for o in options if o[1] == answer.payload), None)
    if picked is None and answer.text.strip():
        picked = next((o for o in options if o[0].lower() == answer.text.strip().lower()), None)
    if picked is not None and picked[2] in connected:
        return picked[2]
    return "next"


@settings(max_examples=300, deadline=None)
@given(
    data=menus(),
    connected=st.sets(st.sampled_from(["reply-a", "reply-b", "reply-c", "button-a", "button-d"])),
    answer=st.one_of(
        st.builds(
            Incoming, kind=st.just("text"), text=st.sampled_from([*ITEM_TITLES, " yes ", "?"])
        ),
        st.builds(
            Incoming,
            kind=st.sampled_from(["quick_reply", "postback"]),
            text=st.sampled_from([*ITEM_TITLES, ""]),
            payload=st.sampled_from([*ITEM_PAYLOADS, "Z"]),
        ),
    ),
)
def test_an_answer_always_leaves_by_the_handle_the_rule_gives(
    data: dict[str, Any], connected: set[str], answer: Incoming
) -> None:
    handles = frozenset({"next", *connected})
    waiting = step("send_message", data, connected=handles)
    item_handles = {h.id for h in REGISTRY["send_message"].handles_for(data)} - {"next"}
    assert (waiting.status == "waiting") is bool(item_handles & handles)
    answered = step("send_message", data, connected=handles, answer=answer)
    assert answered == StepResult(handle=expected_handle(data, handles, answer))
