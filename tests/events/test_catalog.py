"""The standard-event catalog: its data against the reference, and its lookups."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from events import catalog

# reference/graph-api-facts.md section 3.4, verbatim.
CAPI_NAMES = [
    "Purchase",
    "LeadSubmitted",
    "InitiateCheckout",
    "AddToCart",
    "ViewContent",
    "OrderCreated",
    "OrderShipped",
    "OrderDelivered",
    "OrderCanceled",
    "OrderReturned",
    "CartAbandoned",
    "QualifiedLead",
    "RatingProvided",
    "ReviewProvided",
]

# reference section 10: the pairs that exist on both transports.
BOTH = [
    ("purchase", "fb_mobile_purchase", "Purchase"),
    ("lead_submitted", "lead_submitted", "LeadSubmitted"),
    ("add_to_cart", "fb_mobile_add_to_cart", "AddToCart"),
    ("initiate_checkout", "fb_mobile_initiated_checkout", "InitiateCheckout"),
    ("view_content", "fb_mobile_content_view", "ViewContent"),
    ("rate", "fb_mobile_rate", "RatingProvided"),
]
CAPI_ONLY = [
    "OrderCreated",
    "OrderShipped",
    "OrderDelivered",
    "OrderCanceled",
    "OrderReturned",
    "CartAbandoned",
    "QualifiedLead",
    "ReviewProvided",
]

# reference section 2.1: every standard App Events name that is not internal or automatic.
APP_EVENT_NAMES = [
    "fb_mobile_complete_registration",
    "fb_mobile_content_view",
    "fb_mobile_search",
    "fb_mobile_rate",
    "fb_mobile_tutorial_completion",
    "fb_mobile_add_to_cart",
    "fb_mobile_add_to_wishlist",
    "fb_mobile_initiated_checkout",
    "fb_mobile_add_payment_info",
    "fb_mobile_purchase",
    "fb_mobile_level_achieved",
    "fb_mobile_achievement_unlocked",
    "fb_mobile_spent_credits",
    "Contact",
    "CustomizeProduct",
    "Donate",
    "FindLocation",
    "Schedule",
    "StartTrial",
    "SubmitApplication",
    "Subscribe",
    "AdImpression",
    "AdClick",
    "lead_submitted",
]
LEFT_OUT = [
    "fb_mobile_activate_app",
    "fb_mobile_deactivate_app",
    "fb_mobile_app_interruptions",
    "fb_mobile_time_between_sessions",
    "fb_mobile_obtain_push_token",
    "fb_mobile_catalog_update",
    "fb_mobile_purchase_failed",
    "fb_mobile_purchase_restored",
    "SubscriptionInitiatedCheckout",
    "SubscriptionFailed",
    "SubscriptionRestore",
    "fb_mobile_push_opened",
    "fb_sdk_initialize",
    "fb_messenger_bot_stopped",
    "fb_messenger_bot_message_received",
]


def names_on(transport: str) -> list[str]:
    return [name for e in catalog.all_events() if (name := e.names[transport]) is not None]


def test_every_conversions_api_name_is_there_exactly_once() -> None:
    assert sorted(names_on("conversions_api")) == sorted(CAPI_NAMES)


def test_every_standard_app_event_is_there_exactly_once() -> None:
    assert sorted(names_on("page_activities")) == sorted(APP_EVENT_NAMES)


@pytest.mark.parametrize("name", LEFT_OUT)
def test_internal_and_automatic_events_are_left_out(name: str) -> None:
    assert catalog.resolve(name) is None
    assert catalog.reserved_reason(name) in {"internal", "logged_by_facebook"}


@pytest.mark.parametrize(("key", "app_event", "capi"), BOTH)
def test_events_on_both_transports_map_to_each_other(key: str, app_event: str, capi: str) -> None:
    event = catalog.get(key)
    assert event is not None
    assert dict(event.names) == {"page_activities": app_event, "conversions_api": capi}
    for name in (key, app_event, capi):
        assert catalog.resolve(name) is event
        assert catalog.canonical_event(name) == key
        assert catalog.facebook_name(name, "page_activities") == app_event
        assert catalog.facebook_name(name, "conversions_api") == capi


@pytest.mark.parametrize("capi", CAPI_ONLY)
def test_conversions_api_only_events_have_no_app_event_name(capi: str) -> None:
    event = catalog.resolve(capi)
    assert event is not None
    assert event.name_for("page_activities") is None
    assert catalog.facebook_name(capi, "page_activities") is None
    assert event.transports() == ("conversions_api",)


def test_app_event_only_events_have_no_conversions_api_name() -> None:
    pairs = {app_event for _, app_event, _ in BOTH}
    for name in set(APP_EVENT_NAMES) - pairs:
        event = catalog.resolve(name)
        assert event is not None
        assert event.name_for("conversions_api") is None, name


def test_lead_submitted_comes_first_in_leads() -> None:
    first = catalog.all_events()[0]
    assert (first.key, first.category, first.label) == ("lead_submitted", "Leads", "Lead submitted")
    assert catalog.categories()[0] == "Leads"


def test_every_name_resolves_to_one_event_and_every_key_by_get() -> None:
    for event in catalog.all_events():
        assert catalog.get(event.key) is event
        for name in filter(None, event.names.values()):
            assert catalog.resolve(name) is event
    assert catalog.get("fb_mobile_purchase") is None  # get() takes logical keys only


@pytest.mark.parametrize(
    ("key", "params"),
    [
        ("purchase", ["fb_num_items", "fb_content_type", "fb_content_id", "fb_content"]),
        ("search", ["fb_content_type", "fb_search_string", "fb_success"]),
        ("rate", ["fb_content_type", "fb_content_id", "fb_content", "fb_max_rating_value"]),
        ("subscribe", ["fb_order_id"]),
        ("ad_click", ["ad_type"]),
        ("lead_submitted", []),
        ("order_shipped", []),
    ],
)
def test_recommended_parameters_follow_the_reference(key: str, params: list[Any]) -> None:
    event = catalog.get(key)
    assert event is not None
    assert [p.key for p in event.params] == params
    assert {p.requirement for p in event.params} <= {"recommended"}


def test_parameter_definitions() -> None:
    content_type = catalog.standard_param("fb_content_type")
    assert content_type is not None
    assert (content_type.type, content_type.choices, content_type.transports) == (
        "string",
        ("product", "product_group"),
        ("page_activities",),
    )
    assert catalog.standard_param("fb_success").type == "flag"  # type: ignore[union-attr]
    assert catalog.standard_param("fb_num_items").type == "integer"  # type: ignore[union-attr]
    assert catalog.standard_param("fb_content").type == "json"  # type: ignore[union-attr]
    assert catalog.standard_param("fb_currency") is None  # the currency has its own field


@pytest.mark.parametrize(
    ("key", "takes_value", "takes_currency"),
    [
        ("purchase", True, True),
        ("rate", True, False),
        ("lead_submitted", False, False),
        ("order_created", True, True),
        ("contact", False, False),
    ],
)
def test_value_and_currency(key: str, takes_value: bool, takes_currency: bool) -> None:
    event = catalog.get(key)
    assert event is not None
    assert (event.takes_value, event.takes_currency) == (takes_value, takes_currency)


def test_for_transport_filters_in_catalog_order() -> None:
    capi = catalog.for_transport("conversions_api")
    assert len(capi) == 14
    assert all(e.name_for("conversions_api") for e in capi)
    page = catalog.for_transport("page_activities")
    assert len(page) == len(APP_EVENT_NAMES)
    assert [e.key for e in page] == [
        e.key for e in catalog.all_events() if e.name_for("page_activities")
    ]
    with pytest.raises(ValueError, match="unknown transport 'carrier_pigeon'"):
        catalog.for_transport("carrier_pigeon")


def test_custom_names_exist_only_on_page_activities() -> None:
    assert catalog.custom_events_allowed("page_activities") is True
    assert catalog.custom_events_allowed("conversions_api") is False
    assert catalog.facebook_name("Booked a demo", "page_activities") == "Booked a demo"
    assert catalog.facebook_name("Booked a demo", "conversions_api") is None
    assert catalog.canonical_event("Booked a demo") == "Booked a demo"


def raw_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(catalog.DATA_PATH.read_text(encoding="utf-8"))
    return data


def test_etag_is_stable_and_changes_with_the_data() -> None:
    assert catalog.catalog_etag() == catalog.load().etag == catalog.build(raw_data()).etag
    assert len(catalog.catalog_etag()) == 32
    changed = raw_data()
    changed["events"][0]["label"] = "Lead sent"
    assert catalog.build(changed).etag != catalog.catalog_etag()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["events"][1]["names"].update(conversions_api="LeadSubmitted"), "used by"),
        (lambda d: d["events"][0].update(category="Nope"), "category"),
        (lambda d: d["events"][0]["names"].update(carrier="x"), "bad transport"),
        (lambda d: d["params"]["fb_level"].update(type="date"), "bad type"),
        (
            lambda d: d["events"][0]["names"].update(page_activities=None, conversions_api=None),
            "no transport",
        ),
    ],
)
def test_inconsistent_data_is_refused(change: Callable[..., Any], message: str) -> None:
    data = copy.deepcopy(raw_data())
    change(data)
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.build(data)


def test_the_transports_are_the_ones_a_page_can_have() -> None:
    from tenants.models import Transport

    assert set(catalog.TRANSPORTS) == set(Transport.values)
