"""Moving a Page to the Conversions API (flows/transport_move.py) and every transport switch
refused while it would break a published flow: the API, the dry run, the refusal, the tick to
keep, waiting events mapped, the audit record."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import responses
from django.test import Client, override_settings
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from events.models import EventStatus, LoggedEvent
from flows.models import Flow, FlowStatus
from tenants.models import AuditAction, AuditEvent, ConnectedPage, Tenant, Transport
from tenants.permissions import Role
from tests.events.factories import LoggedEventFactory
from tests.flows.factories import FlowFactory, edge, node, published_flow
from tests.tenants.factories import ConnectedPageFactory, member
from tests.tenants.helpers import GRAPH

if TYPE_CHECKING:
    from tests.client_types import TestResponse

pytestmark = pytest.mark.django_db

PAGE_ID = "300000000000001"
DATASET = "880000000000001"
PSID = "24571937185104"


def document(*blocks: dict[str, Any]) -> dict[str, Any]:
    """start -> each log_event block in turn -> end."""
    nodes = [node("s", "start"), *(node(b.pop("id"), "log_event", **b) for b in blocks)]
    nodes.append(node("e", "end"))
    ids = [n["id"] for n in nodes]
    return {"nodes": nodes, "edges": [edge(a, b) for a, b in itertools.pairwise(ids)]}


@pytest.fixture
def bakery(tenant: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(
        tenant=tenant,
        page_id=PAGE_ID,
        name="Ada's Bakery",
        transport=Transport.PAGE_ACTIVITIES,
        dataset_id="",
    )


@pytest.fixture
def dataset() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mocked:
        mocked.post(f"{GRAPH}/{PAGE_ID}/dataset", json={"id": DATASET})
        yield mocked


def url(tenant: Tenant, page: ConnectedPage) -> str:
    return f"/api/v1/tenants/{tenant.slug}/pages/{page.pk}/move-transport/"


def move(client: Client, tenant: Tenant, page: ConnectedPage, **body: Any) -> TestResponse:
    return client.post(url(tenant, page), {"transport": "conversions_api", **body}, format="json")


@pytest.fixture
def bookings(tenant: Tenant, bakery: ConnectedPage) -> Flow:
    """A published flow logging a purchase and the custom table_booked, and a draft that logs
    a lead; the published flow's draft has moved on to a search."""
    flow = published_flow(
        tenant,
        page=bakery,
        name="Table booking",
        document=document(
            {"id": "paid", "event": "fb_mobile_purchase", "value": "12", "currency": "EUR"},
            {"id": "booked", "event": "table_booked", "params": {"party": "{{size}}"}},
        ),
    )
    flow.document = document({"id": "looked", "event": "search"})
    flow.save(update_fields=["document"])
    FlowFactory.create(
        tenant=tenant,
        page=bakery,
        name="Leads",
        status=FlowStatus.DRAFT,
        document=document({"id": "lead", "event": "lead_submitted"}),
    )
    return flow


def test_the_dry_run_lists_per_flow_and_block_what_maps_and_what_cannot(
    client_for: Callable[..., APIClient],
    tenant: Tenant,
    bakery: ConnectedPage,
    bookings: Flow,
    dataset: responses.RequestsMock,
) -> None:
    response = move(client_for(tenant, Role.ADMIN), tenant, bakery)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from"], body["to"], body["dry_run"], body["moved"]) == (
        "page_activities",
        "conversions_api",
        True,
        False,
    )
    assert body["dataset_id"] == DATASET  # created or fetched, even in a dry run
    assert [
        (b["flow_name"], b["where"], b["node_id"], b["from_name"], b["to_name"], b["outcome"])
        for b in body["blocks"]
    ] == [
        ("Leads", "draft", "lead", "lead_submitted", "LeadSubmitted", "maps"),
        ("Table booking", "published version 1", "paid", "fb_mobile_purchase", "Purchase", "maps"),
        ("Table booking", "published version 1", "booked", "table_booked", None, "cannot_map"),
        ("Table booking", "draft", "looked", "fb_mobile_search", None, "cannot_map"),
    ]
    booked = body["blocks"][2]
    assert booked["message"].startswith("table_booked is a custom event. The Conversions API")
    assert booked["fix"].endswith(
        "or tick “Keep those events in Pagepulse only” and they are counted there, never sent."
    )
    assert (body["can_move"], body["can_move_keeping"]) == (False, True)
    assert body["summary"]["published_at_risk"] == 1
    # Nothing moved: the Page, its flows and its events are as they were.
    bakery.refresh_from_db()
    assert (bakery.transport, bakery.dataset_id) == (Transport.PAGE_ACTIVITIES, DATASET)
    assert not AuditEvent.objects.filter(action=AuditAction.PAGE_TRANSPORT_CHANGED).exists()


def test_the_move_is_refused_while_a_published_block_cannot_move(
    client_for: Callable[..., APIClient],
    tenant: Tenant,
    bakery: ConnectedPage,
    bookings: Flow,
    dataset: responses.RequestsMock,
) -> None:
    response = move(client_for(tenant, Role.ADMIN), tenant, bakery, dry_run=False)

    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "transport_move_blocked"
    assert error["message"] == (
        "“Ada's Bakery” was not moved: 1 published flow has events the Conversions API cannot "
        "take as they are. These have no Conversions API name: “Table booking” (block booked: "
        "table_booked); tick “Keep those events in Pagepulse only” to move anyway and keep them "
        "in Pagepulse, or pick standard events for them."
    )
    assert [(b["flow_name"], b["node_id"]) for b in error["details"]["blocks"]] == [
        ("Table booking", "booked")
    ]
    bakery.refresh_from_db()
    assert bakery.transport == Transport.PAGE_ACTIVITIES


def test_ticking_keep_moves_maps_waiting_events_and_audits(
    client_for: Callable[..., APIClient],
    tenant: Tenant,
    bakery: ConnectedPage,
    bookings: Flow,
    dataset: responses.RequestsMock,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    purchase = LoggedEventFactory.create(page=bakery, event="purchase", psid=PSID)
    custom = LoggedEventFactory.create(page=bakery, event="table_booked", psid=PSID)
    held = LoggedEventFactory.create(
        page=bakery, event="lead_submitted", psid=PSID, status=EventStatus.BLOCKED
    )
    odd = LoggedEventFactory.create(
        page=bakery, event="purchase", psid=PSID, params={"fb_content_type": "product"}
    )
    sent = LoggedEventFactory.create(
        page=bakery, event="table_booked", status=EventStatus.DELIVERED
    )

    with django_capture_on_commit_callbacks() as callbacks:
        response = move(
            client_for(tenant, Role.ADMIN), tenant, bakery, dry_run=False, keep_unsendable=True
        )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["moved"], body["dry_run"]) == (True, False)
    assert body["events_moved"] == {"mapped": 2, "kept": 1, "not_sent": 1}
    bakery.refresh_from_db()
    assert (bakery.transport, bakery.dataset_id) == (Transport.CONVERSIONS_API, DATASET)
    statuses = {e.pk: (e.status, e.event) for e in LoggedEvent.objects.all()}
    assert statuses == {
        purchase.pk: (EventStatus.PENDING, "purchase"),  # goes out as Purchase
        custom.pk: (EventStatus.KEPT, "table_booked"),
        held.pk: (EventStatus.BLOCKED, "lead_submitted"),  # released by the delivery run
        odd.pk: (EventStatus.NOT_SENT, "purchase"),
        sent.pk: (EventStatus.DELIVERED, "table_booked"),  # history stays as it was
    }
    assert LoggedEvent.objects.get(pk=custom.pk).last_error.startswith(
        "table_booked is a custom event."
    )
    assert LoggedEvent.objects.get(pk=odd.pk).last_error == (
        "fb_content_type (Kind of item) is a parameter of page_activities; conversions_api "
        "does not take it. Remove it."
    )
    assert len(callbacks) == 1  # delivery enqueued once, on commit
    [audit] = AuditEvent.objects.filter(action=AuditAction.PAGE_TRANSPORT_CHANGED)
    assert audit.target == "Ada's Bakery"
    assert audit.details == {
        "transport": ["page_activities", "conversions_api"],
        "via": "move",
        "kept_in_pagepulse": ["Table booking: booked"],
        "events_mapped": 2,
        "events_kept": 1,
        "events_not_sent": 1,
    }
    # The flows are as they were: nothing rewritten behind the person's back.
    bookings.refresh_from_db()
    assert bookings.document["nodes"][1]["data"]["event"] == "search"
    assert bookings.versions.get().document["nodes"][2]["data"]["event"] == "table_booked"


def test_a_block_that_needs_a_change_refuses_the_move_even_when_keeping(
    client_for: Callable[..., APIClient],
    tenant: Tenant,
    bakery: ConnectedPage,
    dataset: responses.RequestsMock,
) -> None:
    published_flow(
        tenant,
        page=bakery,
        name="Shop",
        document=document({"id": "app", "event": "purchase", "logging_target": "app_and_page"}),
    )
    response = move(
        client_for(tenant, Role.ADMIN), tenant, bakery, dry_run=False, keep_unsendable=True
    )
    assert response.status_code == 409
    message = response.json()["error"]["message"]
    assert "Change these blocks and publish again first: “Shop” (block app: purchase)." in message
    bakery.refresh_from_db()
    assert bakery.transport == Transport.PAGE_ACTIVITIES


def test_nothing_to_move_and_bad_input_are_400s(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    capi = ConnectedPageFactory.create(tenant=tenant, name="Bike Shop")
    client = client_for(tenant, Role.ADMIN)
    response = move(client, tenant, capi)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "“Bike Shop” already sends its events through the Conversions API: there is nothing "
        "to move."
    )
    wrong = client.post(url(tenant, capi), {"transport": "page_activities"}, format="json")
    assert wrong.status_code == 400
    assert "transport" in wrong.json()["error"]["details"]


def test_an_editor_may_not_move_and_another_workspace_sees_a_404(
    client_for: Callable[..., APIClient],
    tenant: Tenant,
    other_tenant: Tenant,
    bakery: ConnectedPage,
) -> None:
    assert move(client_for(tenant, Role.EDITOR), tenant, bakery).status_code == 403
    theirs = ConnectedPageFactory.create(tenant=other_tenant, transport=Transport.PAGE_ACTIVITIES)
    assert move(client_for(tenant, Role.ADMIN), tenant, theirs).status_code == 404
    theirs.refresh_from_db()
    assert theirs.transport == Transport.PAGE_ACTIVITIES


# --- any switch: refused while a published flow would stop delivering ----------------------------


def test_switching_on_the_api_is_refused_naming_flows_and_blocks(
    client_for: Callable[..., APIClient], tenant: Tenant, bakery: ConnectedPage
) -> None:
    bakery.dataset_id = DATASET
    bakery.save()
    published_flow(
        tenant,
        page=bakery,
        name="Table booking",
        document=document({"id": "b", "event": "table_booked"}),
    )
    response = client_for(tenant, Role.ADMIN).patch(
        f"/api/v1/tenants/{tenant.slug}/pages/{bakery.pk}/",
        {"transport": "conversions_api"},
        format="json",
    )
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "transport_switch_breaks_flows"
    assert error["message"] == (
        "Switching “Ada's Bakery” to the Conversions API would stop 1 published flow from "
        "delivering its events: “Table booking” (block b: table_booked). details.blocks says "
        "why for each, and how to fix it. Change those blocks and publish again, or use “Move "
        "to the Conversions API” and tick “Keep those events in Pagepulse only”."
    )
    bakery.refresh_from_db()
    assert bakery.transport == Transport.PAGE_ACTIVITIES
    assert not AuditEvent.objects.filter(action=AuditAction.PAGE_TRANSPORT_CHANGED).exists()


def test_switching_back_to_page_activities_is_refused_too(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    shop = ConnectedPageFactory.create(tenant=tenant, name="Bike Shop")
    published_flow(
        tenant, page=shop, name="Orders", document=document({"id": "o", "event": "OrderShipped"})
    )
    response = client_for(tenant, Role.ADMIN).patch(
        f"/api/v1/tenants/{tenant.slug}/pages/{shop.pk}/",
        {"transport": "page_activities"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"].endswith(
        "Change those blocks and publish again, then switch."
    )


def test_a_switch_that_breaks_nothing_goes_through(
    client_for: Callable[..., APIClient], tenant: Tenant, bakery: ConnectedPage
) -> None:
    bakery.dataset_id = DATASET
    bakery.save()
    published_flow(
        tenant, page=bakery, document=document({"id": "p", "event": "fb_mobile_purchase"})
    )
    FlowFactory.create(
        tenant=tenant,
        page=bakery,
        status=FlowStatus.DRAFT,
        document=document({"id": "c", "event": "x"}),
    )  # a draft does not stop a switch
    response = client_for(tenant, Role.ADMIN).patch(
        f"/api/v1/tenants/{tenant.slug}/pages/{bakery.pk}/",
        {"transport": "conversions_api"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["transport_status"]["state"] == "active"


def test_the_pages_screen_refuses_the_switch_with_the_same_words(
    client: Client, tenant: Tenant, bakery: ConnectedPage
) -> None:

    bakery.dataset_id = DATASET
    bakery.save()
    published_flow(
        tenant,
        page=bakery,
        name="Table booking",
        document=document({"id": "b", "event": "table_booked"}),
    )
    client.force_login(member(tenant, Role.ADMIN).user)
    response = client.post(
        f"/t/{tenant.slug}/pages/{bakery.pk}/transport/",
        {"transport": "conversions_api", "confirm": "yes"},
        follow=True,
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Switching “Ada's Bakery” to the Conversions API would stop 1")
    bakery.refresh_from_db()
    assert bakery.transport == Transport.PAGE_ACTIVITIES


# --- page_activities against Facebook's real host ------------------------------------------------


@override_settings(GRAPH_API_URL="https://graph.facebook.com")
def test_page_activities_is_refused_on_facebooks_host_after_its_end(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    shop = ConnectedPageFactory.create(tenant=tenant, name="Bike Shop")
    response = client_for(tenant, Role.ADMIN).patch(
        f"/api/v1/tenants/{tenant.slug}/pages/{shop.pk}/",
        {"transport": "page_activities"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "Facebook stopped serving the Events API for Business Messaging (page_activities) on "
        "24 September 2026, so a Page cannot use it any more. Choose the Conversions API, "
        "which Facebook serves today."
    )
    shop.refresh_from_db()
    assert shop.transport == Transport.CONVERSIONS_API


def test_the_sandbox_still_allows_page_activities(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    shop = ConnectedPageFactory.create(tenant=tenant, name="Bike Shop")
    response = client_for(tenant, Role.ADMIN).patch(
        f"/api/v1/tenants/{tenant.slug}/pages/{shop.pk}/",
        {"transport": "page_activities"},
        format="json",
    )
    assert response.status_code == 200, response.content
    status = response.json()["transport_status"]
    assert (status["state"], status["delivered"], status["use_instead"]) == (
        "retired",
        True,
        "conversions_api",
    )


def test_the_pages_api_says_each_pages_transport_status(
    client_for: Callable[..., APIClient], tenant: Tenant, bakery: ConnectedPage
) -> None:
    ConnectedPageFactory.create(tenant=tenant, name="Bike Shop")
    rows = client_for(tenant, Role.VIEWER).get(f"/api/v1/tenants/{tenant.slug}/pages/").json()
    statuses = {r["name"]: r["transport_status"] for r in rows["results"]}
    assert statuses["Bike Shop"]["state"] == "active"
    assert statuses["Bike Shop"]["custom_events"] == "kept"
    assert statuses["Ada's Bakery"]["state"] == "retired"
    assert statuses["Ada's Bakery"]["retired_on"] == "2026-09-24"
    with override_settings(GRAPH_API_URL="https://graph.facebook.com"):
        rows = client_for(tenant, Role.VIEWER).get(f"/api/v1/tenants/{tenant.slug}/pages/").json()
    held = {r["name"]: r["transport_status"] for r in rows["results"]}["Ada's Bakery"]
    assert held["delivered"] is False
    assert "held in Pagepulse, not sent" in held["message"]


@override_settings(GRAPH_API_URL="https://graph.facebook.com")
def test_events_of_a_retired_page_are_held_with_the_reason(
    tenant: Tenant, bakery: ConnectedPage
) -> None:
    from events.services import EventInput, log_events

    [event] = log_events(
        tenant=tenant,
        page=bakery,
        psid=PSID,
        events=[EventInput(event="lead_submitted")],
        source="api",
    )
    assert event.status == EventStatus.BLOCKED
    assert event.last_error.startswith(
        "Facebook stopped serving the Events API for Business Messaging (page_activities)"
    )
    assert ConnectedPage.objects.get(pk=bakery.pk).transport == Transport.PAGE_ACTIVITIES


def test_the_move_screen_lists_the_dry_run_and_is_404_for_another_workspace(
    client: Client, tenant: Tenant, other_tenant: Tenant, bakery: ConnectedPage, bookings: Flow
) -> None:

    client.force_login(member(tenant, Role.ADMIN).user)
    response = client.get(f"/t/{tenant.slug}/pages/{bakery.pk}/move/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Move “Ada&#x27;s Bakery” to the Conversions API" in html
    assert html.count('data-outcome="cannot_map"') == 2
    assert "Keep those events in Pagepulse only" in html
    bakery.refresh_from_db()
    assert bakery.dataset_id == ""  # looking changes nothing; the dry run proper is a POST

    theirs = ConnectedPageFactory.create(tenant=other_tenant, transport=Transport.PAGE_ACTIVITIES)
    assert client.get(f"/t/{tenant.slug}/pages/{theirs.pk}/move/").status_code == 404
    assert (
        client.post(f"/t/{tenant.slug}/pages/{theirs.pk}/move/", {"confirm": "1"}).status_code
        == 404
    )
    viewer = Client()
    viewer.force_login(member(tenant, Role.VIEWER).user)
    assert viewer.get(f"/t/{tenant.slug}/pages/{bakery.pk}/move/").status_code == 403
