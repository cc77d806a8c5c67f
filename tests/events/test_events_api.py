"""The integrator events API: POST events/ (every bad input, the 202, idempotency), GET events/
(filters, cursor pages, query count), GET events/<id>/ (attempts without secrets), and replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import DjangoAssertNumQueries
from rest_framework.test import APIClient

from events.models import AttemptOutcome, EventSource, EventStatus, LoggedEvent
from tenants.models import ConnectedPage, PageStatus, Tenant, Transport
from tenants.permissions import Role
from tests.events.factories import DeliveryAttemptFactory, LoggedEventFactory
from tests.events.helpers import PSID, events_url, post_events, refused
from tests.tenants.factories import ConnectedPageFactory, TenantFactory, api_key

if TYPE_CHECKING:
    from tests.client_types import TestResponse

pytestmark = pytest.mark.django_db

OTHER_PSID = "31298476510293"
TOKEN = "EAA" + "FakePageTokenOfTheTests" * 2  # built: no real-looking token is committed
PROOF = "3f1c5e0d9a7b2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"


@pytest.fixture
def pa_page(tenant: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(
        tenant=tenant,
        page_id="104729384756999",
        transport=Transport.PAGE_ACTIVITIES,
        dataset_id="",
    )


def _body(page: ConnectedPage, *events: object, psid: str = PSID) -> dict[str, Any]:
    return {"page_id": page.page_id, "psid": psid, "events": list(events)}


# --- POST events/: accepted -----------------------------------------------------------------


def test_logs_events_and_answers_202_with_ids_and_status(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage, key: str
) -> None:
    response = post_events(
        api,
        tenant,
        _body(
            capi_page,
            {"event": "Purchase", "value": 57.23, "currency": "USD"},
            {"event": "lead_submitted", "params": {"lead_source": "chat"}},
        ),
    )

    assert response.status_code == 202, response.content
    rows = list(LoggedEvent.objects.order_by("id"))
    assert response.json() == {
        "events": [
            {
                "id": row.pk,
                "psid": PSID,
                "event": row.event,
                "status": "pending",
                "reason": "",
                "test": False,
                "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
            }
            for row in rows
        ]
    }
    # Facebook's names are stored as the catalog's logical key.
    assert [(row.event, str(row.value), row.currency) for row in rows] == [
        ("purchase", "57.230000", "USD"),
        ("lead_submitted", "None", ""),
    ]
    assert {(row.source, row.page_id, row.tenant_id) for row in rows} == {
        (EventSource.API, capi_page.pk, tenant.pk)
    }
    assert rows[0].api_key is not None
    assert rows[0].api_key.tenant_id == tenant.pk
    assert rows[0].source_ref == f"api_key:{rows[0].api_key.pk}"


@pytest.mark.parametrize("name", ["purchase", "fb_mobile_purchase", "Purchase"])
def test_an_event_may_be_named_by_its_key_or_either_transports_name(
    api: APIClient, tenant: Tenant, pa_page: ConnectedPage, name: str
) -> None:
    response = post_events(api, tenant, _body(pa_page, {"event": name}))
    assert response.status_code == 202, response.content
    assert LoggedEvent.objects.get().event == "purchase"


def test_a_custom_event_is_accepted_on_page_activities(
    api: APIClient, tenant: Tenant, pa_page: ConnectedPage
) -> None:
    response = post_events(
        api, tenant, _body(pa_page, {"event": "table_booked", "params": {"seats": 4}})
    )
    assert response.status_code == 202, response.content
    assert LoggedEvent.objects.get().event == "table_booked"


def test_a_batch_logs_every_users_events_in_order(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    body = {
        "page_id": capi_page.page_id,
        "batch": [
            {"psid": PSID, "events": [{"event": "add_to_cart"}, {"event": "Purchase"}]},
            {"psid": OTHER_PSID, "events": [{"event": "LeadSubmitted"}]},
        ],
    }
    response = post_events(api, tenant, body)

    assert response.status_code == 202, response.content
    assert [(e["psid"], e["event"]) for e in response.json()["events"]] == [
        (PSID, "add_to_cart"),
        (PSID, "purchase"),
        (OTHER_PSID, "lead_submitted"),
    ]
    assert LoggedEvent.objects.count() == 3


def test_a_signed_in_editor_may_log_events_too(
    client_for: Callable[..., APIClient], tenant: Tenant, capi_page: ConnectedPage
) -> None:
    client = client_for(tenant, Role.EDITOR)
    response = post_events(client, tenant, _body(capi_page, {"event": "Purchase"}))
    assert response.status_code == 202, response.content
    assert LoggedEvent.objects.get().api_key is None


def test_an_event_time_in_the_last_7_days_is_kept(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    when = (timezone.now() - timedelta(days=6)).replace(microsecond=0)
    response = post_events(
        api, tenant, _body(capi_page, {"event": "Purchase", "event_time": when.isoformat()})
    )
    assert response.status_code == 202, response.content
    assert LoggedEvent.objects.get().event_time == when


def test_test_events_are_stored_marked_as_tests(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    response = post_events(api, tenant, {**_body(capi_page, {"event": "Purchase"}), "test": True})
    assert response.status_code == 202, response.content
    assert response.json()["events"][0]["test"] is True
    assert LoggedEvent.objects.get().test is True


def test_events_for_a_page_needing_reauth_are_accepted_and_held(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    capi_page.status = PageStatus.NEEDS_REAUTH
    capi_page.save()
    response = post_events(api, tenant, _body(capi_page, {"event": "Purchase"}))
    assert response.status_code == 202, response.content
    assert response.json()["events"][0]["status"] == "blocked"


# --- POST events/: idempotency ----------------------------------------------------------------


def test_the_same_idempotency_key_returns_the_first_events_and_writes_nothing(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    body = _body(capi_page, {"event": "Purchase"}, {"event": "lead_submitted"})
    first = post_events(api, tenant, body, HTTP_IDEMPOTENCY_KEY="order-7f3a")
    again = post_events(api, tenant, body, HTTP_IDEMPOTENCY_KEY="order-7f3a")

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert LoggedEvent.objects.count() == 2
    other = post_events(api, tenant, body, HTTP_IDEMPOTENCY_KEY="order-7f3b")
    assert other.status_code == 202
    assert LoggedEvent.objects.count() == 4


def test_an_idempotency_key_is_per_workspace(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage, client_for: Callable[..., APIClient]
) -> None:
    other_tenant = TenantFactory.create(slug="globex")
    other_page = ConnectedPageFactory.create(tenant=other_tenant)
    other_api = client_for(key=api_key(other_tenant))
    post_events(api, tenant, _body(capi_page, {"event": "Purchase"}), HTTP_IDEMPOTENCY_KEY="k-1")
    response = post_events(
        other_api,
        other_tenant,
        _body(other_page, {"event": "Purchase"}),
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 202
    assert LoggedEvent.objects.filter(tenant=other_tenant).count() == 1


@pytest.mark.parametrize("value", ["", "has space", "x" * 256, "naïve"])
def test_a_malformed_idempotency_key_is_refused(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage, value: str
) -> None:
    response = api.post(
        events_url(tenant),
        json.dumps(_body(capi_page, {"event": "Purchase"})),
        content_type="application/json",
        headers={"Idempotency-Key": value},
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "Idempotency-Key": ["Give 1 to 255 visible ASCII characters (no spaces), e.g. a UUID."]
    }
    assert LoggedEvent.objects.count() == 0


# --- POST events/: refused, and nothing written -------------------------------------------------


def test_an_unknown_page_and_another_workspaces_page_answer_alike(
    api: APIClient, tenant: Tenant
) -> None:
    foreign = ConnectedPageFactory.create(
        tenant=TenantFactory.create(slug="globex"), page_id="555000111"
    )
    unknown = refused(
        post_events(
            api, tenant, {"page_id": "555000222", "psid": PSID, "events": [{"event": "Purchase"}]}
        )
    )
    other = refused(post_events(api, tenant, _body(foreign, {"event": "Purchase"})))

    assert unknown["code"] == other["code"] == "invalid"
    assert other["details"] == {
        "page_id": [
            "No Page 555000111 is connected to this workspace. Connect it on the Pages "
            "screen, or use the id of one that is (GET pages/)."
        ]
    }
    assert unknown["details"] == {
        "page_id": [other["details"]["page_id"][0].replace("555000111", "555000222")]
    }
    assert "globex" not in json.dumps(other)


def test_a_disconnected_page_is_refused(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    capi_page.status = PageStatus.DISCONNECTED
    capi_page.save()
    error = refused(post_events(api, tenant, _body(capi_page, {"event": "Purchase"})))
    assert error["details"] == {
        "page_id": [
            f"The Page {capi_page.page_id} was disconnected, so it cannot log events. "
            "Connect it again on the Pages screen."
        ]
    }


def test_one_invalid_event_refuses_the_whole_request(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    response = post_events(
        api,
        tenant,
        _body(capi_page, {"event": "Purchase"}, {"event": "bad name!"}, {"event": "Purchase"}),
    )
    error = refused(response)
    assert error["code"] == "invalid_events"
    assert list(error["details"]["events"]) == ["1"]
    assert [p["field"] for p in error["details"]["events"]["1"]] == ["event"]
    assert error["message"].startswith("1 event cannot be logged, so none was: events[1].event: ")


def test_a_custom_event_on_the_conversions_api_is_kept_and_says_why(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    response = post_events(api, tenant, _body(capi_page, {"event": "table_booked"}))

    assert response.status_code == 202, response.content
    [event] = response.json()["events"]
    assert event["status"] == "kept"
    assert event["reason"].startswith(
        "table_booked is a custom event. The Conversions API takes only its 14 standard events"
    )
    row = LoggedEvent.objects.get()
    assert (row.status, row.last_error) == (EventStatus.KEPT, event["reason"])


def test_problems_are_indexed_across_a_batch(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    body = {
        "page_id": capi_page.page_id,
        "batch": [
            {"psid": PSID, "events": [{"event": "Purchase"}, {"event": "Purchase"}]},
            {"psid": OTHER_PSID, "events": [{"event": "Purchase", "value": "lots"}]},
        ],
    }
    error = refused(post_events(api, tenant, body))
    assert error["code"] == "invalid_events"
    assert error["details"]["events"] == {
        "2": [{"field": "value", "message": "A valid number is required.", "code": "invalid"}]
    }


@pytest.mark.parametrize(
    ("event", "field", "code"),
    [
        ({"params": {}}, "event", "required"),
        ({"event": "Purchase", "params": "size=9"}, "params", "not_a_dict"),
        ({"event": "Purchase", "value": "lots"}, "value", "invalid"),
        ({"event": "Purchase", "value": 1.1234567}, "value", "max_decimal_places"),
        ({"event": "Purchase", "logging_target": "everywhere"}, "logging_target", "invalid_choice"),
        ({"event": "Purchase", "event_time": "yesterday"}, "event_time", "invalid"),
    ],
)
def test_a_malformed_event_is_reported_at_its_index(
    api: APIClient,
    tenant: Tenant,
    capi_page: ConnectedPage,
    event: dict[str, Any],
    field: str,
    code: str,
) -> None:
    error = refused(post_events(api, tenant, _body(capi_page, {"event": "Purchase"}, event)))
    assert error["code"] == "invalid_events"
    assert [(p["field"], p["code"]) for p in error["details"]["events"]["1"]] == [(field, code)]


def test_an_event_that_is_not_an_object_is_reported_at_its_index(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    error = refused(post_events(api, tenant, _body(capi_page, {"event": "Purchase"}, "Purchase")))
    assert error["details"]["events"] == {
        "1": [
            {
                "field": "",
                "message": "Invalid data. Expected a dictionary, but got str.",
                "code": "invalid",
            }
        ]
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"_secret": "x"}, "params._secret"),
        ({"note": "x" * 101}, "params.note"),
    ],
)
def test_an_invalid_parameter_is_refused(
    api: APIClient, tenant: Tenant, pa_page: ConnectedPage, params: dict[str, Any], field: str
) -> None:
    error = refused(
        post_events(api, tenant, _body(pa_page, {"event": "table_booked", "params": params}))
    )
    assert error["code"] == "invalid_events"
    assert [p["field"] for p in error["details"]["events"]["0"]] == [field]


def test_a_currency_that_is_not_iso_4217_is_refused(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    error = refused(
        post_events(
            api, tenant, _body(capi_page, {"event": "Purchase", "value": 5, "currency": "XYZ"})
        )
    )
    assert [p["field"] for p in error["details"]["events"]["0"]] == ["currency"]


def test_a_psid_that_is_not_a_psid_is_refused(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    error = refused(post_events(api, tenant, _body(capi_page, {"event": "Purchase"}, psid="alice")))
    assert [p["code"] for p in error["details"]["events"]["0"]] == ["invalid_psid"]


@pytest.mark.parametrize(
    ("transport", "offset", "code"),
    [
        (Transport.CONVERSIONS_API, timedelta(hours=2), "in_future"),
        (Transport.PAGE_ACTIVITIES, timedelta(hours=2), "in_future"),
        (Transport.CONVERSIONS_API, -timedelta(days=8), "too_old"),
    ],
)
def test_an_event_time_in_the_future_or_too_old_for_capi_is_refused(
    api: APIClient,
    tenant: Tenant,
    capi_page: ConnectedPage,
    pa_page: ConnectedPage,
    transport: Transport,
    offset: timedelta,
    code: str,
) -> None:
    page = capi_page if transport == Transport.CONVERSIONS_API else pa_page
    when = (timezone.now() + offset).isoformat()
    error = refused(
        post_events(api, tenant, _body(page, {"event": "Purchase", "event_time": when}))
    )
    assert [(p["field"], p["code"]) for p in error["details"]["events"]["0"]] == [
        ("event_time", code)
    ]


def test_an_old_event_time_is_fine_on_page_activities(
    api: APIClient, tenant: Tenant, pa_page: ConnectedPage
) -> None:
    when = (timezone.now() - timedelta(days=30)).isoformat()
    response = post_events(api, tenant, _body(pa_page, {"event": "Purchase", "event_time": when}))
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("shape", ["single", "batch"])
def test_more_than_1000_events_are_too_many(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage, shape: str
) -> None:
    events = [{"event": "Purchase"}] * 1001
    body = (
        _body(capi_page, *events)
        if shape == "single"
        else {
            "page_id": capi_page.page_id,
            "batch": [
                {"psid": PSID, "events": events[:600]},
                {"psid": OTHER_PSID, "events": events[600:]},
            ],
        }
    )
    error = refused(post_events(api, tenant, body))
    assert error == {
        "code": "too_many_events",
        "message": "1001 events is too many for one request: send at most 1,000, and the rest "
        "in further requests.",
        "details": {"count": 1001, "max": 1000},
    }


def test_exactly_1000_events_are_accepted(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    response = post_events(api, tenant, _body(capi_page, *[{"event": "Purchase"}] * 1000))
    assert response.status_code == 202
    assert LoggedEvent.objects.count() == 1000


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            {
                "page_id": "104729384756102",
                "psid": PSID,
                "events": [{"event": "Purchase"}],
                "batch": [{"psid": PSID, "events": [{"event": "Purchase"}]}],
            },
            {
                "non_field_errors": [
                    "Send either `psid` with `events` (one user) or `batch` (several users), not both."
                ]
            },
        ),
        (
            {"page_id": "104729384756102"},
            {
                "non_field_errors": [
                    "Send `psid` with `events` (one user), or `batch`: [{psid, events}] (several)."
                ]
            },
        ),
        (
            {"page_id": "104729384756102", "events": [{"event": "Purchase"}]},
            {"psid": ["This field is required with `psid`/`events` (or send `batch`)."]},
        ),
        (
            {"psid": PSID, "events": [{"event": "Purchase"}]},
            {"page_id": ["This field is required."]},
        ),
        (
            {"page_id": "my-page", "psid": PSID, "events": [{"event": "Purchase"}]},
            {"page_id": ["This value does not match the required pattern."]},
        ),
        (
            {"page_id": "104729384756102", "psid": PSID, "events": []},
            {"events": {"non_field_errors": ["This list may not be empty."]}},
        ),
        (
            {"page_id": "104729384756102", "psid": PSID, "events": {"event": "Purchase"}},
            {"events": {"non_field_errors": ['Expected a list of items but got type "dict".']}},
        ),
        (
            ["not", "an", "object"],
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        ),
    ],
    ids=[
        "both",
        "neither",
        "events-without-psid",
        "no-page",
        "page-id-not-digits",
        "empty",
        "not-a-list",
        "not-an-object",
    ],
)
def test_a_malformed_request_is_refused_saying_why(
    api: APIClient,
    tenant: Tenant,
    capi_page: ConnectedPage,
    body: dict[str, Any] | list[Any],
    details: dict[str, Any],
) -> None:
    error = refused(post_events(api, tenant, body))
    assert error["code"] == "invalid"
    assert error["details"] == details


def test_malformed_json_is_refused(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    response = api.post(
        events_url(tenant), '{"page_id": "1", "psid": ', content_type="application/json"
    )
    error = refused(response)
    assert error["code"] == "parse_error"
    assert error["message"].startswith("JSON parse error")


def test_the_shape_of_the_request_is_checked_before_single_events(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    body = {**_body(capi_page, {"event": "bad name!", "value": "x"}), "batch": []}
    error = refused(post_events(api, tenant, body))
    assert error["code"] == "invalid"


def test_an_unknown_page_is_reported_before_invalid_events(api: APIClient, tenant: Tenant) -> None:
    body = {"page_id": "555000222", "psid": PSID, "events": [{"event": "Purchase", "value": "x"}]}
    error = refused(post_events(api, tenant, body))
    assert list(error["details"]) == ["page_id"]


def test_a_viewer_may_not_log_events(
    client_for: Callable[..., APIClient], tenant: Tenant, capi_page: ConnectedPage
) -> None:
    response = post_events(
        client_for(tenant, Role.VIEWER), tenant, _body(capi_page, {"event": "Purchase"})
    )
    refused(response, 403)


# --- GET events/ ------------------------------------------------------------------------------


def test_lists_the_workspaces_events_newest_first(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    older = LoggedEventFactory.create(page=capi_page, psid=PSID)
    newer = LoggedEventFactory.create(page=capi_page, psid=OTHER_PSID, event="lead_submitted")
    LoggedEventFactory.create()  # another workspace's

    body = api.get(events_url(tenant)).json()

    assert [row["id"] for row in body["results"]] == [newer.pk, older.pk]
    assert body["next"] is None
    assert body["previous"] is None
    assert body["results"][0] == {
        "id": newer.pk,
        "page": capi_page.pk,
        "page_id": capi_page.page_id,
        "psid": OTHER_PSID,
        "event": "lead_submitted",
        "params": {},
        "value": 57.23,
        "currency": "USD",
        "logging_target": "page",
        "event_time": newer.event_time.isoformat().replace("+00:00", "Z"),
        "source": "api",
        "source_ref": "",
        "source_flow_version": None,
        "source_node": "",
        "ad_id": "",
        "api_key": None,
        "test": False,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": newer.next_attempt_at.isoformat().replace("+00:00", "Z"),
        "last_error": "",
        "replayable": False,
        "created_at": newer.created_at.isoformat().replace("+00:00", "Z"),
        "delivered_at": None,
    }


def test_the_list_costs_the_same_queries_for_many_events(
    api: APIClient,
    tenant: Tenant,
    capi_page: ConnectedPage,
    pa_page: ConnectedPage,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    for page in (capi_page, pa_page) * 10:
        LoggedEventFactory.create(page=page)
    api.get(events_url(tenant))  # the key's first use, audited once (api_key.first_used)
    # The API key's lookup (its last use was just written), the workspace, the key's role, then
    # one page of rows.
    with django_assert_num_queries(3):
        response = api.get(events_url(tenant))
    assert len(response.json()["results"]) == 20


def _ids(api: APIClient, tenant: Tenant, query: str) -> list[int]:
    response = api.get(events_url(tenant) + "?" + query)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_filters(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage, pa_page: ConnectedPage
) -> None:
    now = timezone.now()
    old = LoggedEventFactory.create(page=capi_page, psid=PSID, created_at=now - timedelta(days=3))
    delivered = LoggedEventFactory.create(page=capi_page, psid=PSID, status=EventStatus.DELIVERED)
    dead = LoggedEventFactory.create(
        page=pa_page, psid=OTHER_PSID, status=EventStatus.DEAD, event="table_booked"
    )
    flow = LoggedEventFactory.create(
        page=capi_page, psid=OTHER_PSID, source=EventSource.FLOW, event="lead_submitted"
    )
    test = LoggedEventFactory.create(
        page=capi_page, psid=PSID, test=True, source=EventSource.TEST_CHAT
    )

    # Newest first: the order they were logged in.
    assert _ids(api, tenant, "") == [flow.pk, dead.pk, delivered.pk, old.pk]
    assert _ids(api, tenant, "status=dead") == [dead.pk]
    assert _ids(api, tenant, "status=dead&status=delivered") == [dead.pk, delivered.pk]
    assert _ids(api, tenant, "event=table_booked") == [dead.pk]
    assert _ids(api, tenant, "event=Purchase") == [delivered.pk, old.pk]  # Facebook's name
    assert _ids(api, tenant, "event=fb_mobile_purchase") == [delivered.pk, old.pk]
    assert _ids(api, tenant, f"page={pa_page.pk}") == [dead.pk]
    assert _ids(api, tenant, f"page_id={pa_page.page_id}") == [dead.pk]
    assert _ids(api, tenant, f"psid={PSID}") == [delivered.pk, old.pk]
    assert _ids(api, tenant, "source=flow") == [flow.pk]
    assert _ids(api, tenant, "test=true") == [test.pk]
    assert _ids(api, tenant, "test=false") == [flow.pk, dead.pk, delivered.pk, old.pk]
    day_ago = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert _ids(api, tenant, f"created_before={day_ago}") == [old.pk]
    assert _ids(api, tenant, f"created_after={day_ago}") == [flow.pk, dead.pk, delivered.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("event=bad!name", "event"),
        ("page=0", "page"),
        ("page_id=abc", "page_id"),
        ("psid=a%20b", "psid"),
        ("source=email", "source"),
        ("test=yes", "test"),
        ("created_after=yesterday", "created_after"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("cursor=%C3%A9t%C3%A9", "cursor"),  # not base64
        ("cursor=cD1hYmM%3D", "cursor"),  # a well-formed cursor at position "abc"
    ],
)
def test_a_bad_filter_is_a_400_naming_it(
    api: APIClient, tenant: Tenant, query: str, field: str
) -> None:
    response = api.get(events_url(tenant) + "?" + query)
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == [field]


def test_cursor_pages_neither_skip_nor_repeat_while_events_arrive(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    first_ids = [LoggedEventFactory.create(page=capi_page).pk for _ in range(5)]
    page_one = api.get(events_url(tenant) + "?page_size=2").json()
    LoggedEventFactory.create(page=capi_page)  # arrives while the client pages
    page_two = api.get(page_one["next"]).json()
    page_three = api.get(page_two["next"]).json()

    seen = [row["id"] for page in (page_one, page_two, page_three) for row in page["results"]]
    assert seen == sorted(first_ids, reverse=True)
    assert page_three["next"] is None


# --- GET events/<id>/ -----------------------------------------------------------------------


def test_an_event_with_its_attempts_and_no_secret(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    event = LoggedEventFactory.create(
        page=capi_page,
        status=EventStatus.FAILED,
        attempts=2,
        last_error=f"Invalid parameter: access_token={TOKEN} for this Page",
    )
    first = DeliveryAttemptFactory.create(
        page=capi_page,
        events=[event],
        outcome=AttemptOutcome.TRANSIENT,
        http_status=500,
        graph_code=2,
        fbtrace_id="AbCdEf123",
        request={
            "path": f"v25.0/1/events?access_token={TOKEN}&appsecret_proof={PROOF}",
            "body": {
                "access_token": TOKEN,
                "appsecret_proof": PROOF,
                "data": [{"event_name": "Purchase"}],
            },
        },
        response={"error": {"message": f"Malformed access token {TOKEN}", "code": 2}},
        error_message=f"Service temporarily unavailable {TOKEN}",
        created_at=timezone.now() - timedelta(minutes=5),
    )
    second = DeliveryAttemptFactory.create(
        page=capi_page,
        events=[event],
        outcome=AttemptOutcome.INVALID,
        http_status=400,
        graph_code=100,
        graph_subcode=2804003,
    )
    DeliveryAttemptFactory.create(page=capi_page)  # another event's

    response = api.get(events_url(tenant, f"{event.pk}/"))

    assert response.status_code == 200
    text = response.content.decode()
    assert TOKEN not in text
    assert PROOF not in text
    body = response.json()
    assert body["last_error"] == "Invalid parameter: access_token=[redacted] for this Page"
    assert [a["id"] for a in body["delivery_attempts"]] == [first.pk, second.pk]
    attempt = body["delivery_attempts"][0]
    assert attempt["request"] == {
        "path": "v25.0/1/events?access_token=[redacted]&appsecret_proof=[redacted]",
        "body": {
            "access_token": "[redacted]",
            "appsecret_proof": "[redacted]",
            "data": [{"event_name": "Purchase"}],
        },
    }
    assert attempt["response"] == {
        "error": {"message": "Malformed access token [redacted]", "code": 2}
    }
    assert attempt["error_message"] == "Service temporarily unavailable [redacted]"
    assert (
        attempt["http_status"],
        attempt["graph_code"],
        attempt["fbtrace_id"],
        attempt["outcome"],
    ) == (500, 2, "AbCdEf123", "transient")
    assert body["delivery_attempts"][1]["graph_subcode"] == 2804003


def test_another_workspaces_event_is_a_404(api: APIClient, tenant: Tenant) -> None:
    foreign = LoggedEventFactory.create()
    response = api.get(events_url(tenant, f"{foreign.pk}/"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- POST events/replay/ --------------------------------------------------------------------


@pytest.fixture
def admin(client_for: Callable[..., APIClient], tenant: Tenant) -> APIClient:
    return client_for(tenant, Role.ADMIN)


def _replay(client: Client, tenant: Tenant, body: object) -> TestResponse:
    return client.post(events_url(tenant, "replay/"), body, format="json")


def _statuses(*events: LoggedEvent) -> list[str]:
    return [LoggedEvent.objects.get(pk=e.pk).status for e in events]


def test_replay_by_ids_sends_dead_failed_and_blocked_only_and_once(
    admin: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    dead, failed, blocked, delivered, pending = (
        LoggedEventFactory.create(page=capi_page, status=status, attempts=3)
        for status in ("dead", "failed", "blocked", "delivered", "pending")
    )
    foreign = LoggedEventFactory.create(status=EventStatus.DEAD)
    ids = [e.pk for e in (dead, failed, blocked, delivered, pending, foreign)]

    first = _replay(admin, tenant, {"ids": ids})
    again = _replay(admin, tenant, {"ids": ids})

    assert (first.status_code, first.json()) == (200, {"replayed": 3})
    assert (again.status_code, again.json()) == (200, {"replayed": 0})
    assert _statuses(dead, failed, blocked, delivered, pending, foreign) == [
        "pending",
        "pending",
        "pending",
        "delivered",
        "pending",
        "dead",
    ]


def test_replay_by_filter(
    admin: APIClient, tenant: Tenant, capi_page: ConnectedPage, pa_page: ConnectedPage
) -> None:
    on_capi = LoggedEventFactory.create(page=capi_page, status=EventStatus.DEAD)
    on_pa = LoggedEventFactory.create(page=pa_page, status=EventStatus.DEAD)
    failed = LoggedEventFactory.create(page=capi_page, status=EventStatus.FAILED)
    test = LoggedEventFactory.create(page=capi_page, status=EventStatus.DEAD, test=True)

    response = _replay(admin, tenant, {"filter": {"page": capi_page.pk, "status": ["dead"]}})

    assert response.json() == {"replayed": 1}
    assert _statuses(on_capi, on_pa, failed, test) == ["pending", "dead", "failed", "dead"]
    assert _replay(admin, tenant, {"filter": {}}).json() == {"replayed": 2}
    assert _replay(admin, tenant, {"filter": {"test": True}}).json() == {"replayed": 1}


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"non_field_errors": ["Send either `ids` or `filter`, one of the two."]}),
        (
            {"ids": [1], "filter": {}},
            {"non_field_errors": ["Send either `ids` or `filter`, one of the two."]},
        ),
        ({"ids": []}, {"ids": ["This list may not be empty."]}),
        ({"ids": ["one"]}, {"ids": {"0": ["A valid integer is required."]}}),
        (
            {"filter": {"status": "lost"}},
            {
                "filter": {
                    "status": ["Select a valid choice. lost is not one of the available choices."]
                }
            },
        ),
    ],
)
def test_a_bad_replay_request_is_refused(
    admin: APIClient, tenant: Tenant, body: dict[str, Any], details: dict[str, Any]
) -> None:
    response = _replay(admin, tenant, body)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == details


@pytest.mark.parametrize("credential", [Role.EDITOR, "api_key"])
def test_only_admins_replay(
    client_for: Callable[..., APIClient], tenant: Tenant, capi_page: ConnectedPage, credential: str
) -> None:

    dead = LoggedEventFactory.create(page=capi_page, status=EventStatus.DEAD)
    client = (
        client_for(key=api_key(tenant))
        if credential == "api_key"
        else client_for(tenant, credential)
    )
    response = _replay(client, tenant, {"ids": [dead.pk]})
    assert response.status_code == 403
    assert _statuses(dead) == ["dead"]
