"""Transports: golden payloads against the reference, grouping, batches of 50, the 7-day rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from django.test import override_settings
from django.utils import timezone

from events.models import LoggedEvent
from events.policy import TOO_OLD_REASON
from events.transports import conversions_api, page_activities, unsendable_reason
from graph_api.client import GraphClient
from tests.graph_api.golden import (
    CAPI_EXAMPLE,
    LEAD_EXAMPLE,
    PAGE_ID,
    PAGE_TOKEN,
    PARTNER,
    PSID,
    PURCHASE_EXAMPLE,
    repair,
    substitute,
)
from tests.graph_stub import APP_ID, BASE, sent_form, sent_json, sent_query


def _event(**fields: Any) -> LoggedEvent:
    """An unsaved outbox row (the builders are pure)."""
    defaults = {
        "pk": 41,
        "psid": PSID,
        "event": "purchase",
        "params": {},
        "value": None,
        "currency": "",
        "logging_target": "page",
        "event_time": timezone.now(),
    }
    return LoggedEvent(**{**defaults, **fields})


GUIDE_EVENTS = {
    "purchase": _event(event="purchase", value=Decimal("57.23"), currency="USD"),
    "lead": _event(event="lead_submitted"),
}


@pytest.mark.parametrize(
    ("example", "name"), [(PURCHASE_EXAMPLE, "purchase"), (LEAD_EXAMPLE, "lead")]
)
def test_page_activities_body_is_the_guides_example_field_by_field(example: str, name: str) -> None:
    expected, _ = repair(example)

    sent = page_activities.body(page_id=PAGE_ID, events=[GUIDE_EVENTS[name]])

    assert list(sent) == list(expected)
    for field, value in expected.items():
        assert sent[field] == value, field
        assert type(sent[field]) is type(value), field


@pytest.mark.parametrize(
    ("example", "name"), [(PURCHASE_EXAMPLE, "purchase"), (LEAD_EXAMPLE, "lead")]
)
def test_page_activities_request_goes_to_the_pinned_version_with_the_page_token(
    graph_client: GraphClient, example: str, name: str
) -> None:
    expected, guide_url = repair(example)
    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v20.0/{APP_ID}/page_activities", json={"success": True})
        (result,) = page_activities.send(
            graph=graph_client,
            page_id=PAGE_ID,
            token=PAGE_TOKEN,
            calls=[[GUIDE_EVENTS[name]]],
        )
        request = mocked.calls[0].request

    assert sent_json(request) == expected
    assert sent_query(request)["access_token"] == PAGE_TOKEN
    assert urlsplit(guide_url).path.endswith(f"/{APP_ID}/page_activities")
    assert (result.ok, result.http_status, result.response) == (True, 200, {"success": True})
    assert result.request == {
        "method": "POST",
        "path": f"v20.0/{APP_ID}/page_activities",
        "body": expected,
    }


def test_custom_event_puts_parameters_after_the_guides_keys() -> None:
    event = _event(
        event="add_to_cart",
        value=Decimal(12),
        currency="EUR",
        params={"fb_content_id": "SKU-1", "fb_num_items": 2},
    )

    assert list(page_activities.custom_event(event).items()) == [
        ("_eventName", "fb_mobile_add_to_cart"),
        ("_valueToSum", 12),
        ("fb_currency", "EUR"),
        ("fb_content_id", "SKU-1"),
        ("fb_num_items", 2),
    ]


def test_custom_names_go_out_unchanged_on_page_activities() -> None:
    assert page_activities.custom_event(_event(event="Booked a table")) == {
        "_eventName": "Booked a table"
    }


def test_events_of_one_user_and_target_share_a_call() -> None:
    a1, a2 = _event(pk=1, psid="11"), _event(pk=2, psid="11")
    a_app = _event(pk=3, psid="11", logging_target="app_and_page")
    b = _event(pk=4, psid="22")
    a3 = _event(pk=5, psid="11")

    calls = page_activities.group([a1, b, a_app, a2, a3])

    assert [[e.pk for e in call] for call in calls] == [[1, 2, 5], [4], [3]]
    body = page_activities.body(page_id=PAGE_ID, events=calls[2])
    assert (body["page_scoped_user_id"], body["logging_target"]) == (11, "app_and_page")


def test_a_call_carries_at_most_100_events() -> None:
    events = [_event(pk=n) for n in range(1, 251)]

    assert [len(call) for call in page_activities.group(events)] == [100, 100, 50]


def test_several_users_go_out_as_one_batch_and_each_operation_answers_for_its_events(
    graph_client: GraphClient,
) -> None:
    calls = [[_event(pk=n, psid=str(1000 + n))] for n in range(1, 4)]
    answers = [
        {"code": 200, "body": '{"success": true}'},
        {"code": 400, "body": json.dumps({"error": {"code": 100, "message": "Invalid parameter"}})},
        {"code": 200, "body": '{"success": true}'},
    ]
    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v20.0/", json=answers)
        results = page_activities.send(
            graph=graph_client, page_id=PAGE_ID, token=PAGE_TOKEN, calls=calls
        )
        form = sent_form(mocked.calls[0].request)

    operations = json.loads(form["batch"])
    assert len(operations) == 3
    assert [dict(parse_qsl(op["body"]))["page_scoped_user_id"] for op in operations] == [
        "1001",
        "1002",
        "1003",
    ]
    assert [(r.events[0].pk, r.ok, r.http_status) for r in results] == [
        (1, True, 200),
        (2, False, 400),
        (3, True, 200),
    ]
    assert results[1].response["error"]["code"] == 100
    stored = results[0].request
    assert stored["batch"] is True
    assert stored["body"] == {  # the form body, without the token and its proof
        "custom_events": [{"_eventName": "fb_mobile_purchase"}],
        "advertiser_tracking_enabled": "1",
        "application_tracking_enabled": "1",
        "page_id": PAGE_ID,
        "page_scoped_user_id": "1001",
        "logging_source": "messenger_bot",
        "logging_target": "page",
    }


def test_a_batch_takes_at_most_50_calls(graph_client: GraphClient) -> None:
    calls = [[_event(pk=n, psid=str(n))] for n in range(1, 52)]

    with pytest.raises(ValueError, match="at most 50"):
        page_activities.send(graph=graph_client, page_id=PAGE_ID, token=PAGE_TOKEN, calls=calls)


@override_settings(EVENTS_CAPI_PARTNER_AGENT=PARTNER)
def test_conversions_api_body_is_the_reference_sample_plus_our_event_id() -> None:
    expected = json.loads(substitute(CAPI_EXAMPLE))
    event = _event(
        pk=77,
        value=Decimal(123),
        currency="USD",
        event_time=datetime.fromtimestamp(1675999999, tz=UTC),
    )

    sent = conversions_api.body(page_id=PAGE_ID, events=[event])

    (item,) = sent["data"]
    assert item.pop("event_id") == "pagepulse-77"
    assert sent == expected
    assert list(item) == list(expected["data"][0])
    assert list(item["custom_data"]) == ["currency", "value"]
    assert type(item["user_data"]["page_id"]) is int
    assert type(item["user_data"]["page_scoped_user_id"]) is int
    assert type(item["custom_data"]["value"]) is int


def test_conversions_api_event_id_is_the_same_on_every_attempt() -> None:
    event = _event(pk=5)

    assert (
        conversions_api.server_event(event, page_id=PAGE_ID)["event_id"]
        == (conversions_api.server_event(event, page_id=PAGE_ID)["event_id"])
    )


def test_conversions_api_custom_data_carries_parameters_after_currency_and_value() -> None:
    event = _event(event="lead_submitted", params={"lead_type": "callback"})

    item = conversions_api.server_event(event, page_id=PAGE_ID)

    assert (item["event_name"], item["custom_data"]) == (
        "LeadSubmitted",
        {"lead_type": "callback"},
    )


def test_conversions_api_takes_1000_events_a_call() -> None:
    events = [_event(pk=n) for n in range(1, 2502)]

    assert [len(call) for call in conversions_api.chunks(events)] == [1000, 1000, 501]


@override_settings(EVENTS_CAPI_PARTNER_AGENT=PARTNER)
def test_conversions_api_request_path_and_answer(graph_client: GraphClient) -> None:
    with responses.RequestsMock() as mocked:
        mocked.post(
            f"{BASE}/v25.0/500000000000005/events",
            json={"events_received": 1, "messages": [], "fbtrace_id": "Abc"},
        )
        result = conversions_api.send(
            graph=graph_client,
            page_id=PAGE_ID,
            dataset_id="500000000000005",
            token=PAGE_TOKEN,
            events=[_event()],
        )
        query = sent_query(mocked.calls[0].request)

    assert query["access_token"] == PAGE_TOKEN
    assert result.response == {"events_received": 1, "messages": [], "fbtrace_id": "Abc"}
    assert result.request["path"] == "v25.0/500000000000005/events"
    assert PAGE_TOKEN not in json.dumps(result.request)


@pytest.mark.parametrize(
    ("transport", "fields", "expected"),
    [
        ("conversions_api", {"event_time": timezone.now() - timedelta(days=7)}, TOO_OLD_REASON),
        ("conversions_api", {"event_time": timezone.now() - timedelta(days=6)}, ""),
        ("page_activities", {"event_time": timezone.now() - timedelta(days=30)}, ""),
        ("conversions_api", {"event": "Booked a table"}, "custom event"),
        ("page_activities", {"event": "qualified_lead"}, "cannot be sent on page_activities"),
    ],
)
def test_unsendable_reason(transport: str, fields: dict[str, Any], expected: str) -> None:
    reason = unsendable_reason(_event(**fields), transport=transport, now=timezone.now())

    if expected:
        assert expected in reason
    else:
        assert reason == ""
