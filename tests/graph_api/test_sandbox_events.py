"""The sandbox's event endpoints: page_activities, datasets, the Conversions API, insights."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from tests.sandbox_fixtures import (
    AD_ACCOUNT,
    ADA,
    ADA_PAGE,
    ADA_PAGE_2,
    ADA_PAGE_NO_ANALYZE,
    CAMPAIGN,
    CLEO,
    GraphSandbox,
    error_of,
)

PSID = "6100000000000042"


def guide_body(**overrides: Any) -> dict[str, Any]:
    """The guide's own example request (reference events-api-for-business-messaging.txt)."""
    body: dict[str, Any] = {
        "custom_events": [
            {"_eventName": "fb_mobile_purchase", "_valueToSum": 57.23, "fb_currency": "USD"}
        ],
        "advertiser_tracking_enabled": 1,
        "application_tracking_enabled": 1,
        "page_id": ADA_PAGE,
        "page_scoped_user_id": PSID,
        "logging_source": "messenger_bot",
        "logging_target": "page",
    }
    body.update(overrides)
    return body


def post_activities(
    sandbox: GraphSandbox, token: str, version: str | None = "v20.0", **kwargs: Any
) -> requests.Response:
    return sandbox.post(f"/{sandbox.app_id}/page_activities", token, version=version, **kwargs)


# --- page_activities ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v11.0", "v18.0", "v20.0"])
def test_guide_request_is_accepted_and_recorded(
    graph_sandbox: GraphSandbox, page_token: str, version: str
) -> None:
    response = post_activities(graph_sandbox, page_token, version, json=guide_body())

    assert response.status_code == 200
    assert response.json() == {"success": True}
    [event] = graph_sandbox.events()
    assert event | {"received_at": None, "request_id": None} == {
        "id": 1,
        "transport": "page_activities",
        "page_id": ADA_PAGE,
        "psid": PSID,
        "event_name": "fb_mobile_purchase",
        "event_id": None,
        "params": {"fb_currency": "USD"},
        "custom_data": None,
        "value": 57.23,
        "currency": "USD",
        "logging_target": "page",
        "logging_source": "messenger_bot",
        "advertiser_tracking_enabled": True,
        "application_tracking_enabled": True,
        "event_time": None,
        "meta": {},
        "dataset_id": None,
        "api_version": version,
        "request_id": None,
        "received_at": None,
    }


def test_form_body_with_json_encoded_custom_events(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    body = guide_body(
        custom_events=json.dumps([{"_eventName": "lead_submitted"}, {"_eventName": "Contact"}])
    )
    response = post_activities(graph_sandbox, page_token, data=body)

    assert response.json() == {"success": True}
    assert [e["event_name"] for e in graph_sandbox.events()] == ["lead_submitted", "Contact"]


def test_uppercase_enums_and_boolean_flags_are_accepted(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    body = guide_body(
        logging_source="MESSENGER_BOT",
        logging_target="APP_AND_PAGE",
        advertiser_tracking_enabled="false",
        application_tracking_enabled=True,
    )
    assert post_activities(graph_sandbox, page_token, json=body).status_code == 200
    [event] = graph_sandbox.events()
    assert (event["logging_target"], event["advertiser_tracking_enabled"]) == (
        "app_and_page",
        False,
    )


def test_omitted_logging_target_defaults_to_app(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    body = guide_body()
    del body["logging_target"]
    assert post_activities(graph_sandbox, page_token, json=body).status_code == 200
    assert graph_sandbox.events()[0]["logging_target"] == "app"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"page_scoped_user_id": None}, "(#100) The parameter page_scoped_user_id is required"),
        (
            {"page_scoped_user_id": "psid-abc"},
            "(#100) Param page_scoped_user_id must be a valid unsigned integer",
        ),
        (
            {"page_scoped_user_id": -5},
            "(#100) Param page_scoped_user_id must be a valid unsigned integer",
        ),
        ({"page_id": None}, "(#100) The parameter page_id is required"),
        (
            {"logging_source": "web"},
            '(#100) Param logging_source must be one of {MESSENGER_BOT, DETECTION} - got "web"',
        ),
        (
            {"logging_target": "pages"},
            '(#100) Param logging_target must be one of {APP, APP_AND_PAGE, PAGE} - got "pages"',
        ),
        (
            {"advertiser_tracking_enabled": 2},
            "(#100) Param advertiser_tracking_enabled must be a boolean (0, 1, true or false)",
        ),
        ({"custom_events": None}, "(#100) The parameter custom_events is required"),
        ({"custom_events": []}, "(#100) Param custom_events must be a non-empty array"),
        ({"custom_events": {"_eventName": "x"}}, "(#100) Param custom_events must be an array"),
        ({"custom_events": ["purchase"]}, "(#100) Param custom_events[0] must be an object"),
        (
            {"custom_events": [{"_valueToSum": 1}]},
            "(#100) The parameter custom_events[0][_eventName] is required",
        ),
        (
            {"custom_events": [{"_eventName": "-starts-with-hyphen"}]},
            "(#100) Param custom_events[0][_eventName] must match the regular expression "
            '/^[0-9a-zA-Z_][0-9a-zA-Z _-]{0,39}$/ - got "-starts-with-hyphen"',
        ),
        (
            {"custom_events": [{"_eventName": "x" * 41}]},
            "(#100) Param custom_events[0][_eventName] must match the regular expression "
            f'/^[0-9a-zA-Z_][0-9a-zA-Z _-]{{0,39}}$/ - got "{"x" * 41}"',
        ),
        (
            {"custom_events": [{"_eventName": "ok", "_valueToSum": "a lot"}]},
            "(#100) Param custom_events[0][_valueToSum] must be a number",
        ),
        (
            {"custom_events": [{"_eventName": "ok", "bad.key": "v"}]},
            '(#100) Param custom_events[0] has an invalid parameter name "bad.key": names must '
            "match /^[0-9a-zA-Z_][0-9a-zA-Z _-]{0,39}$/",
        ),
        (
            {"custom_events": [{"_eventName": "ok", "fb_content": {"id": 1}}]},
            "(#100) Param custom_events[0][fb_content]: parameter values must be a string or a number",
        ),
        (
            {"custom_events": [{"_eventName": "ok"}, {"_eventName": "ok", "flag": True}]},
            "(#100) Param custom_events[1][flag]: parameter values must be a string or a number",
        ),
    ],
)
def test_invalid_requests_are_rejected_with_100(
    graph_sandbox: GraphSandbox, page_token: str, change: dict[str, Any], message: str
) -> None:
    body = {k: v for k, v in guide_body(**change).items() if v is not None}
    response = post_activities(graph_sandbox, page_token, json=body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["message"] == message
    assert (error["type"], error["code"], error["is_transient"]) == ("OAuthException", 100, False)
    assert "error_subcode" not in error
    assert graph_sandbox.events() == []


def test_page_token_of_another_page_is_refused(graph_sandbox: GraphSandbox) -> None:
    other_page_token = graph_sandbox.page_token(ADA, ADA_PAGE_2)

    error = error_of(post_activities(graph_sandbox, other_page_token, json=guide_body()))

    assert error["code"] == 200
    assert error["message"] == (
        f"(#200) The access token is the Page access token of Page {ADA_PAGE_2}, not of page_id {ADA_PAGE}: use that Page's token"
    )


def test_user_token_is_refused(graph_sandbox: GraphSandbox) -> None:
    error = error_of(post_activities(graph_sandbox, graph_sandbox.login(), json=guide_body()))
    assert (error["code"], error["message"]) == (
        210,
        "(#210) A page access token is required to request this resource.",
    )


def test_page_without_analyze_task_is_refused(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.page_token(ADA, ADA_PAGE_NO_ANALYZE)
    error = error_of(
        post_activities(graph_sandbox, token, json=guide_body(page_id=ADA_PAGE_NO_ANALYZE))
    )
    assert error["code"] == 10
    assert error["message"] == (
        f"(#10) The person who granted this access token cannot perform the ANALYZE task on Page {ADA_PAGE_NO_ANALYZE}"
    )


def test_missing_page_events_is_refused(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.page_token(ADA, ADA_PAGE, decline=("page_events",))
    error = error_of(post_activities(graph_sandbox, token, json=guide_body()))
    assert (error["code"], error["message"]) == (
        200,
        "(#200) Requires page_events permission to manage the object",
    )


@pytest.mark.parametrize("version", ["v21.0", "v25.0", "v26.0", None])
def test_page_activities_does_not_exist_after_v20(
    graph_sandbox: GraphSandbox, page_token: str, version: str | None
) -> None:
    response = post_activities(graph_sandbox, page_token, version, json=guide_body())

    assert response.status_code == 400
    error = error_of(response)
    assert error | {"fbtrace_id": "x"} == {
        "message": "Unknown path components: /page_activities",
        "type": "OAuthException",
        "code": 2500,
        "is_transient": False,
        "fbtrace_id": "x",
    }
    assert graph_sandbox.events() == []


def test_page_activities_of_another_app_is_an_unknown_object(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    response = graph_sandbox.post(
        "/999999999999999/page_activities", page_token, version="v20.0", json=guide_body()
    )
    error = error_of(response)
    assert (error["code"], error["error_subcode"], error["type"]) == (
        100,
        33,
        "GraphMethodException",
    )
    assert error["message"].startswith(
        "Unsupported post request. Object with ID '999999999999999' does not exist"
    )


# --- Datasets and the Conversions API ------------------------------------------------------------


def capi_event(**overrides: Any) -> dict[str, Any]:
    """The reference's Messenger sample event (§3.3), with a fresh event_time."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 60,
        "action_source": "business_messaging",
        "messaging_channel": "messenger",
        "user_data": {"page_id": ADA_PAGE, "page_scoped_user_id": PSID},
        "custom_data": {"currency": "USD", "value": 123},
    }
    event.update(overrides)
    return event


@pytest.fixture
def dataset_id(graph_sandbox: GraphSandbox, page_token: str) -> str:
    response = graph_sandbox.post(f"/{ADA_PAGE}/dataset", page_token)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_dataset_is_one_per_page(graph_sandbox: GraphSandbox, page_token: str) -> None:
    first = graph_sandbox.post(f"/{ADA_PAGE}/dataset", page_token).json()
    again = graph_sandbox.get(f"/{ADA_PAGE}/dataset", page_token).json()
    by_user = graph_sandbox.post(f"/{ADA_PAGE}/dataset", graph_sandbox.login(ADA)).json()
    other = graph_sandbox.post(f"/{ADA_PAGE_2}/dataset", graph_sandbox.login(ADA)).json()

    assert first == again == by_user
    assert set(first) == {"id"}
    assert first["id"] not in (ADA_PAGE, other["id"])


@pytest.mark.parametrize(
    ("decline", "message"),
    [
        (("page_events",), "(#200) Requires page_events permission to manage the object"),
        (
            ("business_management", "ads_read"),
            "(#200) Requires business_management permission to manage the object",
        ),
    ],
)
def test_dataset_needs_page_events_and_business_management(
    graph_sandbox: GraphSandbox, decline: tuple[str, ...], message: str
) -> None:
    token = graph_sandbox.login(ADA, decline=decline)
    response = graph_sandbox.post(f"/{ADA_PAGE}/dataset", token)
    assert response.status_code == 400
    assert error_of(response)["message"] == message


def test_dataset_refuses_other_pages_token_and_non_managers(graph_sandbox: GraphSandbox) -> None:
    other = graph_sandbox.page_token(ADA, ADA_PAGE_2)
    assert error_of(graph_sandbox.post(f"/{ADA_PAGE}/dataset", other))["error_subcode"] == 33

    cleo = graph_sandbox.login(CLEO, rerequest=True)  # even with page_events granted
    assert error_of(graph_sandbox.post(f"/{ADA_PAGE}/dataset", cleo))["code"] == 10


def test_capi_accepts_the_reference_sample(
    graph_sandbox: GraphSandbox, page_token: str, dataset_id: str
) -> None:
    body: dict[str, Any] = {
        "data": [
            capi_event(event_id="evt-1"),
            capi_event(event_name="LeadSubmitted", custom_data=None),
        ],
        "partner_agent": "pagepulse",
    }
    body["data"][1].pop("custom_data")
    response = graph_sandbox.post(f"/{dataset_id}/events", page_token, json=body)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["events_received"] == 2
    assert answer["messages"] == []
    assert len(answer["fbtrace_id"]) == 11
    first, second = graph_sandbox.events(transport="conversions_api")
    assert (first["event_id"], first["value"], first["currency"], first["dataset_id"]) == (
        "evt-1",
        123.0,
        "USD",
        dataset_id,
    )
    assert (first["psid"], first["page_id"], first["partner_agent"]) == (
        PSID,
        ADA_PAGE,
        "pagepulse",
    )
    assert (second["event_name"], second["custom_data"], second["value"]) == (
        "LeadSubmitted",
        None,
        None,
    )


def test_capi_accepts_a_managing_users_token(graph_sandbox: GraphSandbox, dataset_id: str) -> None:
    token = graph_sandbox.login(ADA)
    assert (
        graph_sandbox.post(f"/{dataset_id}/events", token, json={"data": [capi_event()]}).json()[
            "events_received"
        ]
        == 1
    )


def test_capi_form_body_with_json_encoded_data(
    graph_sandbox: GraphSandbox, page_token: str, dataset_id: str
) -> None:
    response = graph_sandbox.post(
        f"/{dataset_id}/events", page_token, data={"data": json.dumps([capi_event()])}
    )
    assert response.json()["events_received"] == 1


@pytest.mark.parametrize(
    ("change", "title", "message"),
    [
        (
            {"event_time": int(time.time()) - 8 * 24 * 3600},
            "Event Timestamp Too Old",
            "data[1]: the timestamp for this event is too far in the past. Events need to be sent from your server within 7 days of when they occurred.",
        ),
        (
            {"event_time": int(time.time() * 1000)},
            "Event Timestamp In The Future",
            None,
        ),
        (
            {"messaging_channel": None},
            "Missing Messaging Channel Parameter",
            "A messaging channel parameter is required when provided action source is business_messaging. Valid value could be messenger, whatsapp and instagram.",
        ),
        ({"messaging_channel": "sms"}, "Invalid Messaging Channel Parameter", None),
        ({"event_name": "lead_submitted"}, "Unsupported Event Name", None),
        ({"action_source": "website"}, "Invalid Action Source", None),
        ({"event_time": "yesterday"}, "Invalid Event Time", None),
        ({"user_data": {"page_scoped_user_id": PSID}}, "Missing Page ID", None),
        (
            {"user_data": {"page_id": ADA_PAGE_2, "page_scoped_user_id": PSID}},
            "Page ID Mismatch",
            None,
        ),
        ({"user_data": {"page_id": ADA_PAGE}}, "Missing Page Scoped User ID", None),
        ({"custom_data": {"currency": "DOLLARS", "value": 1}}, "Invalid Currency Code", None),
        ({"custom_data": {"currency": "USD", "value": "12"}}, "Invalid Value", None),
    ],
)
def test_one_invalid_event_rejects_the_whole_request(
    graph_sandbox: GraphSandbox,
    page_token: str,
    dataset_id: str,
    change: dict[str, Any],
    title: str,
    message: str | None,
) -> None:
    bad = {k: v for k, v in capi_event(**change).items() if v is not None}
    response = graph_sandbox.post(
        f"/{dataset_id}/events", page_token, json={"data": [capi_event(), bad]}
    )

    assert response.status_code == 400
    error = error_of(response)
    assert (error["message"], error["code"], error["type"]) == (
        "Invalid parameter",
        100,
        "OAuthException",
    )
    assert error["error_user_title"] == title
    if message:
        assert error["error_user_msg"] == message
    assert graph_sandbox.events() == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "(#100) The parameter data is required"),
        ([], "(#100) Param data must be a non-empty array of events"),
        ("many", "(#100) Param data must be a valid JSON value"),
    ],
)
def test_capi_data_must_be_a_non_empty_list(
    graph_sandbox: GraphSandbox,
    page_token: str,
    dataset_id: str,
    data: list[Any] | str | None,
    message: str,
) -> None:
    body = {} if data is None else {"data": data}
    response = graph_sandbox.post(
        f"/{dataset_id}/events",
        page_token,
        **({"data": body} if data == "many" else {"json": body}),
    )
    assert error_of(response)["message"] == message


def test_capi_takes_at_most_1000_events(
    graph_sandbox: GraphSandbox, page_token: str, dataset_id: str
) -> None:
    assert (
        graph_sandbox.post(
            f"/{dataset_id}/events", page_token, json={"data": [capi_event()] * 1000}
        ).json()["events_received"]
        == 1000
    )
    too_many = graph_sandbox.post(
        f"/{dataset_id}/events", page_token, json={"data": [capi_event()] * 1001}
    )
    assert (
        error_of(too_many)["message"]
        == "(#100) Param data must contain at most 1000 events, got 1001"
    )


def test_capi_refuses_other_pages_token_and_missing_page_events(
    graph_sandbox: GraphSandbox, dataset_id: str
) -> None:
    other = graph_sandbox.page_token(ADA, ADA_PAGE_2)
    assert (
        error_of(graph_sandbox.post(f"/{dataset_id}/events", other, json={"data": [capi_event()]}))[
            "error_subcode"
        ]
        == 33
    )

    # Minted: the person already granted page_events in this test, and Facebook does not ask
    # again for a granted permission, so the dialog cannot take it back.
    no_events = graph_sandbox.mint(
        type="page", user_id=ADA, page_id=ADA_PAGE, scopes=["pages_messaging"]
    )
    assert (
        error_of(
            graph_sandbox.post(f"/{dataset_id}/events", no_events, json={"data": [capi_event()]})
        )["code"]
        == 200
    )


def test_page_id_is_not_a_dataset_id(graph_sandbox: GraphSandbox, page_token: str) -> None:
    error = error_of(
        graph_sandbox.post(f"/{ADA_PAGE}/events", page_token, json={"data": [capi_event()]})
    )
    assert (error["code"], error["message"]) == (2500, "Unknown path components: /events")


# --- Insights --------------------------------------------------------------------------------------


def test_insights_count_leads_from_both_transports(
    graph_sandbox: GraphSandbox, page_token: str, dataset_id: str
) -> None:
    user_token = graph_sandbox.login(ADA)
    empty = graph_sandbox.get(
        f"/{CAMPAIGN}/insights", user_token, params={"fields": "actions", "date_preset": "last_7d"}
    ).json()
    assert "actions" not in empty["data"][0]

    lead = [{"_eventName": "lead_submitted"}]
    post_activities(graph_sandbox, page_token, json=guide_body(custom_events=lead))
    post_activities(graph_sandbox, page_token, json=guide_body(custom_events=lead))
    graph_sandbox.post(
        f"/{dataset_id}/events", page_token, json={"data": [capi_event(event_name="LeadSubmitted")]}
    )
    other_page = graph_sandbox.page_token(ADA, ADA_PAGE_2)
    post_activities(
        graph_sandbox, other_page, json=guide_body(page_id=ADA_PAGE_2, custom_events=lead)
    )

    campaign = graph_sandbox.get(
        f"/{CAMPAIGN}/insights", user_token, params={"fields": "actions", "date_preset": "last_7d"}
    ).json()
    account = graph_sandbox.get(
        f"/{AD_ACCOUNT}/insights", user_token, params={"fields": "actions", "date_preset": "today"}
    ).json()

    assert campaign["data"][0]["actions"] == [
        {"action_type": "onsite_conversion.lead_grouped", "value": "3"}
    ]
    assert account["data"][0]["actions"] == [
        {"action_type": "onsite_conversion.lead_grouped", "value": "4"}
    ]
    yesterday = graph_sandbox.get(
        f"/{AD_ACCOUNT}/insights",
        user_token,
        params={"fields": "actions", "date_preset": "yesterday"},
    ).json()
    assert "actions" not in yesterday["data"][0]


def test_insights_needs_ads_read_and_a_valid_preset(graph_sandbox: GraphSandbox) -> None:
    no_ads = graph_sandbox.login(ADA, decline=("ads_read",))
    assert error_of(
        graph_sandbox.get(f"/{CAMPAIGN}/insights", no_ads, params={"fields": "actions"})
    )["message"] == ("(#200) Requires ads_read permission to manage the object")
    token = graph_sandbox.login(ADA, rerequest=True)
    bad = graph_sandbox.get(
        f"/{CAMPAIGN}/insights", token, params={"fields": "actions", "date_preset": "last_6d"}
    )
    assert error_of(bad)["message"].startswith(
        "(#100) Param date_preset must be one of {data_maximum, last_14d,"
    )

    cleo = graph_sandbox.login(CLEO)
    assert error_of(graph_sandbox.get(f"/{AD_ACCOUNT}/insights", cleo))["error_subcode"] == 33
