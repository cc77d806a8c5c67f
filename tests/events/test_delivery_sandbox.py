"""Delivery against the real Graph sandbox (a subprocess): payloads Facebook-strict checks accept."""

from __future__ import annotations

from decimal import Decimal

import pytest

from events import delivery
from events.models import EventStatus, LoggedEvent
from graph_api.client import GraphClient
from tenants.crypto import encrypt_token
from tenants.models import ConnectedPage, Tenant, Transport
from tests.events.factories import LoggedEventFactory
from tests.sandbox_fixtures import ADA_PAGE, GraphSandbox
from tests.tenants.factories import ConnectedPageFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("runtime_redis", "no_deferred_event_reads"),
]


def _page(
    graph_sandbox: GraphSandbox, sandbox_graph: GraphClient, tenant: Tenant, transport: str
) -> ConnectedPage:
    token = graph_sandbox.page_token()
    dataset_id = sandbox_graph.get_or_create_dataset(page_id=ADA_PAGE, token=token)
    return ConnectedPageFactory.create(
        tenant=tenant,
        page_id=ADA_PAGE,
        transport=transport,
        dataset_id=dataset_id,
        token_encrypted=encrypt_token(token),
    )


def test_page_activities_batches_reach_the_sandbox_once_each(
    graph_sandbox: GraphSandbox, sandbox_graph: GraphClient, tenant: Tenant
) -> None:
    page = _page(graph_sandbox, sandbox_graph, tenant, Transport.PAGE_ACTIVITIES)
    events = [
        LoggedEventFactory.create(page=page, psid=str(7000 + n % 3), event=name, params=params)
        for n, (name, params) in enumerate(
            [
                ("purchase", {"fb_content_id": "SKU-1"}),
                ("lead_submitted", {}),
                ("Booked a table", {"party": 4}),
                ("add_to_cart", {}),
            ]
        )
    ]

    report = delivery.page_deliver(tenant_id=page.tenant_id, page_id=page.pk, graph=sandbox_graph)

    assert report.delivered == 4
    received = graph_sandbox.events(page_id=ADA_PAGE)
    assert sorted((e["psid"], e["event_name"]) for e in received) == [
        ("7000", "fb_mobile_add_to_cart"),
        ("7000", "fb_mobile_purchase"),
        ("7001", "lead_submitted"),
        ("7002", "Booked a table"),
    ]
    assert {e["logging_target"] for e in received} == {"page"}
    assert {r.status for r in LoggedEvent.objects.filter(pk__in=[e.pk for e in events])} == {
        EventStatus.DELIVERED
    }


def test_conversions_api_events_reach_the_sandbox_with_their_event_ids(
    graph_sandbox: GraphSandbox, sandbox_graph: GraphClient, tenant: Tenant
) -> None:
    page = _page(graph_sandbox, sandbox_graph, tenant, Transport.CONVERSIONS_API)
    events = [
        LoggedEventFactory.create(page=page, value=Decimal("123"), currency="USD"),
        LoggedEventFactory.create(page=page, event="lead_submitted", value=None, currency=""),
    ]

    report = delivery.page_deliver(tenant_id=page.tenant_id, page_id=page.pk, graph=sandbox_graph)

    assert (report.delivered, report.calls) == (2, 1)
    received = sorted(graph_sandbox.events(page_id=ADA_PAGE), key=lambda e: e["event_id"])
    assert [(e["event_name"], e["event_id"], e["value"]) for e in received] == sorted(
        [
            ("Purchase", f"pagepulse-{events[0].pk}", 123.0),
            ("LeadSubmitted", f"pagepulse-{events[1].pk}", None),
        ],
        key=lambda item: item[1],
    )
