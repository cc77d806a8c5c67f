"""Event validation: Facebook's naming rules, parameters, value and currency, transports."""

from __future__ import annotations

import json
import string
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from events import catalog
from events.validation import (
    EVENT_NAME_RE,
    MAX_PARAMS,
    Problem,
    event_warnings,
    is_valid_currency,
    kept_reason,
    validate_event,
)

PA, CAPI = "page_activities", "conversions_api"


def codes(**kwargs: Any) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in validate_event(**kwargs)]


# --- names -------------------------------------------------------------------------------

VALID_CHARS = string.ascii_letters + string.digits + "_ -"
FIRST_CHARS = string.ascii_letters + string.digits + "_"
valid_names = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(FIRST_CHARS),
    st.text(alphabet=VALID_CHARS, max_size=39),
)


def is_plain_custom(name: str) -> bool:
    """Not a catalog name in any case, nor fb_-prefixed: the names kept back on purpose."""
    lowered = name.lower()
    return not lowered.startswith("fb_") and all(
        n.lower() != lowered
        for e in catalog.all_events()
        for n in (e.key, *filter(None, e.names.values()))
    )


@given(valid_names)
def test_every_name_matching_the_regex_is_a_valid_custom_name_on_page_activities(name: str) -> None:
    assume(is_plain_custom(name))
    assert EVENT_NAME_RE.fullmatch(name)
    assert validate_event(event=name, transport=PA) == []
    assert validate_event(event=name) == []


@given(valid_names)
def test_every_name_matching_the_regex_is_a_valid_parameter_key(name: str) -> None:
    assume(
        not name.startswith("_") and name != "fb_currency" and catalog.standard_param(name) is None
    )
    assert validate_event(event="Booked", params={name: "x"}, transport=PA) == []


bad_char = st.characters(exclude_characters=VALID_CHARS, exclude_categories=["Cs"])


@given(
    st.text(alphabet=VALID_CHARS, max_size=20), bad_char, st.text(alphabet=VALID_CHARS, max_size=18)
)
def test_a_name_with_any_other_character_is_refused(before: str, char: str, after: str) -> None:
    name = "a" + before + char + after
    assert codes(event=name, transport=PA) == [("event", "invalid_name")]
    assert codes(event="Booked", params={name: 1}) == [(f"params.{name}", "invalid_key")]


@given(st.text(alphabet=VALID_CHARS, min_size=41, max_size=80))
def test_a_name_over_40_characters_is_refused(name: str) -> None:
    assume(name[0] not in " -")
    assert codes(event=name) == [("event", "invalid_name")]


@given(st.sampled_from(" -"), st.text(alphabet=VALID_CHARS, max_size=39))
def test_a_name_starting_with_a_space_or_hyphen_is_refused(first: str, rest: str) -> None:
    name = first + rest
    expected = "invalid_name" if name.strip() else "required"
    assert codes(event=name) == [("event", expected)]


@pytest.mark.parametrize(
    ("event", "transport", "expected"),
    [
        ("lead_submitted", PA, []),
        ("lead_submitted", CAPI, []),
        ("LeadSubmitted", PA, []),
        ("fb_mobile_purchase", CAPI, []),
        ("OrderShipped", CAPI, []),
        ("OrderShipped", PA, [("event", "not_on_transport")]),
        ("fb_mobile_search", CAPI, []),  # no Conversions API name: kept, not refused
        ("Booked a demo", PA, []),
        ("Booked a demo", CAPI, []),  # a custom name there is kept, not refused
        ("Booked a demo", None, []),
        ("", PA, [("event", "required")]),
        ("   ", None, [("event", "required")]),
        ("fb_messenger_bot_stopped", PA, [("event", "logged_by_facebook")]),
        ("FB_MESSENGER_BOT_started", None, [("event", "logged_by_facebook")]),
        ("fb_mobile_activate_app", PA, [("event", "reserved")]),
        ("SubscriptionFailed", PA, [("event", "reserved")]),
        ("fb_my_thing", PA, [("event", "reserved_prefix")]),
        ("LEAD_SUBMITTED", PA, [("event", "case_mismatch")]),
        ("purchased!", PA, [("event", "invalid_name")]),
        ("Booked\n", PA, [("event", "invalid_name")]),  # `$` alone matches before a final newline
        ("a" * 40, PA, []),
        ("a" * 41, PA, [("event", "invalid_name")]),
    ],
)
def test_event_names(event: str, transport: str | None, expected: list[Any]) -> None:
    assert codes(event=event, transport=transport) == expected


def test_messages_say_how_to_fix_it() -> None:
    assert kept_reason("Booked a demo", CAPI) == (
        "Booked a demo is a custom event. The Conversions API takes only its 14 standard "
        "events, so Pagepulse keeps this one in Pagepulse only: it is counted in the delivery "
        "log and exports, never sent to Facebook. To send it, pick a standard event such as "
        "Lead submitted (LeadSubmitted)."
    )
    [order] = validate_event(event="OrderShipped", transport=PA)
    assert order == Problem(
        "event",
        "Order shipped (OrderShipped) cannot be sent on page_activities: only conversions_api "
        "carries it. Log a custom event with a name of your own, or switch the page's "
        "transport to conversions_api.",
        "not_on_transport",
    )
    search = kept_reason("search", CAPI)
    assert search is not None
    assert search.startswith(
        "Searched (search) has no Conversions API name, so Pagepulse keeps it in Pagepulse only"
    )
    assert "To send it, pick an event conversions_api carries, such as " in search


@pytest.mark.parametrize(
    ("event", "transport", "kept"),
    [
        ("Booked a demo", CAPI, True),
        ("search", CAPI, True),
        ("fb_mobile_search", CAPI, True),
        ("Purchase", CAPI, False),
        ("fb_mobile_purchase", CAPI, False),  # maps to Purchase
        ("Booked a demo", PA, False),  # sent as it is
        ("Booked a demo", None, False),
        ("OrderShipped", PA, False),  # an error there, not kept
        ("fb_my_thing", CAPI, False),  # invalid everywhere: validate_event says why
        ("purchased!", CAPI, False),
        ("LEAD_SUBMITTED", CAPI, False),
        ("fb_messenger_bot_stopped", CAPI, False),
        ("", CAPI, False),
    ],
)
def test_what_the_conversions_api_keeps(event: str, transport: str | None, kept: bool) -> None:
    assert (kept_reason(event, transport) is not None) is kept
    warnings = event_warnings(event=event, transport=transport)
    assert [(w.field, w.code) for w in warnings] == (
        [("event", "kept_in_pagepulse")] if kept else []
    )


def test_a_kept_event_is_checked_only_by_the_rules_that_hold_everywhere() -> None:
    # Its parameters and logging target go nowhere, so page_activities-only ones are fine;
    # a key Facebook reserves is still refused.
    assert codes(
        event="search",
        params={"fb_search_string": "croissants", "_x": 1},
        transport=CAPI,
        logging_target="app",
    ) == [("params._x", "reserved_key")]


# --- parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "transport", "expected"),
    [
        ({"fb_content_type": "product", "fb_num_items": 2, "fb_content_id": "SKU-1"}, PA, []),
        ({"fb_num_items": "3"}, PA, []),
        ({"fb_num_items": "three"}, PA, [("params.fb_num_items", "invalid_value")]),
        ({"fb_num_items": 2.5}, PA, [("params.fb_num_items", "invalid_value")]),
        ({"fb_content_type": "service"}, PA, [("params.fb_content_type", "invalid_value")]),
        ({"fb_content": '[{"id": "1234", "quantity": 2}]'}, PA, []),
        ({"fb_content": "[{id: 1234}"}, PA, [("params.fb_content", "invalid_value")]),
        ({"fb_content_type": "product"}, CAPI, [("params.fb_content_type", "not_on_transport")]),
        ({"fb_content_type": "product"}, None, []),
        ({"size": "XL", "colour": "red"}, CAPI, []),
        ({"_valueToSum": 5}, PA, [("params._valueToSum", "reserved_key")]),
        ({"fb_currency": "USD"}, PA, [("params.fb_currency", "use_currency_field")]),
        ({"bad key!": "x"}, PA, [("params.bad key!", "invalid_key")]),
        ({"flag": True}, PA, [("params.flag", "invalid_value")]),
        ({"empty": None}, PA, [("params.empty", "invalid_value")]),
        ({"list": ["a"]}, PA, [("params.list", "invalid_value")]),
        ({"obj": {"a": 1}}, PA, [("params.obj", "invalid_value")]),
        ({"nan": float("nan")}, PA, [("params.nan", "invalid_value")]),
        ({"long": "x" * 100}, PA, []),
        ({"long": "x" * 101}, PA, [("params.long", "too_long")]),
        ({"amount": Decimal("12.50"), "count": 3}, PA, []),
    ],
)
def test_parameters_of_a_purchase(
    params: dict[str, Any], transport: str | None, expected: list[Any]
) -> None:
    assert codes(event="purchase", params=params, transport=transport) == expected


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("fb_success", [1, 0, "1", "0"], [2, "yes"]),
        ("fb_payment_info_available", [1, "0"], ["true"]),
        ("fb_max_rating_value", [5, "10"], ["5 stars"]),
    ],
)
def test_parameter_types(key: str, good: list[Any], bad: list[Any]) -> None:
    event = next(e.key for e in catalog.all_events() if e.param(key))
    for value in good:
        assert codes(event=event, params={key: value}) == [], value
    for value in bad:
        assert codes(event=event, params={key: value}) == [(f"params.{key}", "invalid_value")]


def test_at_most_25_parameters() -> None:
    params = {f"p{i}": i for i in range(MAX_PARAMS)}
    assert validate_event(event="Booked", params=params) == []
    params["one_more"] = 1
    [problem] = validate_event(event="Booked", params=params)
    assert problem == Problem(
        "params",
        "26 parameters is too many: Facebook takes at most 25 an event. Remove 1.",
        "too_many",
    )


def test_params_must_be_an_object() -> None:
    assert codes(event="Booked", params=["a", "b"]) == [("params", "invalid_type")]


def test_required_parameters_must_be_present(monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(catalog.DATA_PATH.read_text(encoding="utf-8"))
    subscribe = next(e for e in data["events"] if e["key"] == "subscribe")
    subscribe["params"]["fb_order_id"] = "required"
    monkeypatch.setattr(catalog, "_CATALOG", catalog.build(data))
    [problem] = validate_event(event="Subscribe", value=9, currency="EUR")
    assert problem == Problem(
        "params.fb_order_id",
        "Subscribed needs Order or subscription ID (fb_order_id): add it.",
        "required",
    )
    assert (
        validate_event(event="Subscribe", params={"fb_order_id": "S-1"}, value=9, currency="EUR")
        == []
    )


# --- templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "value", "expected"),
    [
        ({"fb_num_items": "{{count}}"}, "{{total}}", [("currency", "currency_required")]),
        ({"note": "Hello {{ first_name }}, " + "x" * 100}, None, []),
        ({"fb_num_items": "{{}}"}, None, [("params.fb_num_items", "invalid_value")]),
        ({"flag": True}, None, [("params.flag", "invalid_value")]),
        ({}, "{{total}}", [("currency", "currency_required")]),
    ],
)
def test_templated_values_skip_length_and_number_checks(
    params: dict[str, Any], value: str | None, expected: list[Any]
) -> None:
    assert codes(event="purchase", params=params, value=value, templated=True) == expected


def test_templates_are_checked_as_plain_text_when_not_templated() -> None:
    assert codes(event="purchase", params={"fb_num_items": "{{count}}"}) == [
        ("params.fb_num_items", "invalid_value")
    ]
    assert codes(event="purchase", value="{{total}}", currency="USD") == [
        ("value", "invalid_value")
    ]


# --- value and currency ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "value", "currency", "expected"),
    [
        ("purchase", Decimal("19.99"), "USD", []),
        ("purchase", 20, "JPY", []),
        ("purchase", "19.99", "EUR", []),
        ("purchase", None, None, []),
        ("purchase", None, "", []),
        ("purchase", 20, None, [("currency", "currency_required")]),
        ("purchase", 20, "", [("currency", "currency_required")]),
        ("purchase", 20, "usd", [("currency", "invalid_currency")]),
        ("purchase", 20, "ABC", [("currency", "invalid_currency")]),
        ("purchase", None, "ABC", [("currency", "invalid_currency")]),
        ("purchase", True, "USD", [("value", "invalid_value")]),
        ("purchase", "twenty", "USD", [("value", "invalid_value")]),
        ("purchase", float("inf"), "USD", [("value", "invalid_value")]),
        ("purchase", [1], "USD", [("value", "invalid_value")]),
        ("rate", 4, None, []),  # a rating is not money
        ("lead_submitted", 50, None, [("currency", "currency_required")]),
        ("Booked a demo", 50, None, [("currency", "currency_required")]),
        ("Booked a demo", 50, "GBP", []),
    ],
)
def test_value_and_currency(
    event: str, value: Any, currency: str | None, expected: list[Any]
) -> None:
    assert codes(event=event, value=value, currency=currency, transport=PA) == expected


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("USD", True),
        ("EUR", True),
        ("JPY", True),
        ("usd", False),
        ("XXX", False),
        ("XTS", False),
        ("US", False),
        ("", False),
    ],
)
def test_is_valid_currency(code: str, valid: bool) -> None:
    assert is_valid_currency(code) is valid


# --- logging target ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logging_target", "transport", "expected"),
    [
        (None, PA, []),
        ("page", PA, []),
        ("app_and_page", PA, []),
        ("app", PA, []),
        ("app", None, []),
        ("page", CAPI, []),
        ("app_and_page", CAPI, [("logging_target", "not_on_transport")]),
        ("PAGE", PA, [("logging_target", "invalid_choice")]),
        ("everywhere", None, [("logging_target", "invalid_choice")]),
    ],
)
def test_logging_target(
    logging_target: str | None, transport: str | None, expected: list[Any]
) -> None:
    assert (
        codes(event="lead_submitted", logging_target=logging_target, transport=transport)
        == expected
    )


def test_all_problems_are_reported_at_once() -> None:
    problems = validate_event(
        event="Booked a demo!",
        params={"_x": 1, "ok": "fine", "bad": None},
        value=5,
        transport=CAPI,
        logging_target="app",
    )
    assert [(p.field, p.code) for p in problems] == [
        ("event", "invalid_name"),
        ("params._x", "reserved_key"),
        ("params.bad", "invalid_value"),
        ("currency", "currency_required"),
        ("logging_target", "not_on_transport"),
    ]
    assert problems[0].as_dict()["field"] == "event"


def test_an_unknown_transport_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown transport 'fax'"):
        validate_event(event="purchase", transport="fax")
