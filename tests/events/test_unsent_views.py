"""Events that were not sent, where a person sees them: the delivery log's own counts and
filters, the flow's page banner, the overviews' attention list, GET events/, and the sweep
that turns waiting test events into "Test, not sent"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import DjangoAssertNumQueries
from rest_framework.test import APIClient

from events import selectors
from events.delivery import sweep_due
from events.models import EventSource, EventStatus, LoggedEvent
from flows.models import Flow
from tenants.models import Tenant, Transport
from tenants.permissions import Role
from tests.events.factories import LoggedEventFactory
from tests.flows.factories import published_flow
from tests.tenants.factories import ConnectedPageFactory, member

pytestmark = pytest.mark.django_db

CUSTOM_KEPT = (
    "table_booked is a custom event. The Conversions API takes only its 14 standard events, "
    "so Pagepulse keeps this one in Pagepulse only."
)
NO_NUMBER = "The value is a number, such as 49.90, not a str."


def client_of(tenant: Tenant, role: str = Role.VIEWER) -> Client:
    client = Client()
    client.force_login(member(tenant, role).user)
    return client


@pytest.fixture
def flow(tenant: Tenant) -> Flow:
    page = ConnectedPageFactory.create(tenant=tenant, name="Ada's Bakery")
    return published_flow(tenant, page=page, name="Table booking")


def flow_event(
    flow: Flow, status: str, reason: str, *, ago: timedelta = timedelta(minutes=5), **kw: Any
) -> LoggedEvent:
    version = flow.versions.get()
    return LoggedEventFactory.create(
        page=flow.page,
        source=EventSource.FLOW,
        source_ref=f"{version.pk}:log",
        status=status,
        last_error=reason,
        created_at=timezone.now() - ago,
        **kw,
    )


def test_the_flow_summary_counts_what_was_not_sent_by_reason(
    tenant: Tenant, flow: Flow, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for _ in range(2):
        flow_event(flow, EventStatus.NOT_SENT, NO_NUMBER)
    flow_event(flow, EventStatus.BLOCKED, "The Page is disconnected from Pagepulse.")
    flow_event(flow, EventStatus.KEPT, CUSTOM_KEPT, event="table_booked")
    flow_event(flow, EventStatus.NOT_SENT, NO_NUMBER, ago=timedelta(hours=25))  # too old
    flow_event(flow, EventStatus.NOT_SENT, NO_NUMBER, test=True)  # the test chat's
    flow_event(flow, EventStatus.DELIVERED, "")
    other = published_flow(tenant, page=flow.page, name="Other")
    flow_event(other, EventStatus.NOT_SENT, NO_NUMBER)  # another flow's

    version_ids = [flow.versions.get().pk]
    with django_assert_num_queries(1):
        summary = selectors.flow_unsent_summary(tenant=tenant, version_ids=version_ids)

    assert (summary.not_sent, summary.blocked, summary.kept, summary.total) == (2, 1, 1, 3)
    assert [(r.status, r.reason, r.count) for r in summary.reasons] == [
        (EventStatus.NOT_SENT, NO_NUMBER, 2),
        (EventStatus.BLOCKED, "The Page is disconnected from Pagepulse.", 1),
        (EventStatus.KEPT, CUSTOM_KEPT, 1),
    ]


def test_the_flows_page_shows_the_banner(tenant: Tenant, flow: Flow) -> None:
    for _ in range(3):
        flow_event(flow, EventStatus.NOT_SENT, NO_NUMBER)
    html = client_of(tenant).get(f"/t/{tenant.slug}/flows/{flow.pk}/").content.decode()
    assert "3 events from this flow were not sent in the last 24 h" in html
    assert f"<strong>3</strong>: {NO_NUMBER}" in html
    assert "See them in the delivery log" in html


def test_no_banner_when_everything_was_sent(tenant: Tenant, flow: Flow) -> None:
    flow_event(flow, EventStatus.DELIVERED, "")
    html = client_of(tenant).get(f"/t/{tenant.slug}/flows/{flow.pk}/").content.decode()
    assert "not sent in the last 24 h" not in html


def test_the_delivery_log_counts_and_filters_unsent_events(tenant: Tenant, flow: Flow) -> None:
    flow_event(flow, EventStatus.NOT_SENT, NO_NUMBER)
    kept = flow_event(flow, EventStatus.KEPT, CUSTOM_KEPT, event="table_booked")
    flow_event(flow, EventStatus.DELIVERED, "")
    client = client_of(tenant)

    response = client.get(f"/t/{tenant.slug}/events/?status=kept")

    counts = {tab["status"]: tab["count"] for tab in response.context["tabs"]}
    assert (counts["not_sent"], counts["kept"], counts["delivered"]) == (1, 1, 1)
    assert "test" not in counts  # test events have their own filter
    assert [row.event.pk for row in response.context["rows"]] == [kept.pk]
    html = response.content.decode()
    assert "Kept in Pagepulse" in html
    assert f'<small class="reason">{CUSTOM_KEPT[:139]}' in html


def test_test_events_are_listed_as_test_not_sent(tenant: Tenant, flow: Flow) -> None:
    event = LoggedEventFactory.create(
        page=flow.page, test=True, status=EventStatus.TEST, last_error="x"
    )
    client = client_of(tenant)
    by_status = client.get(f"/t/{tenant.slug}/events/?status=test")
    assert [row.event.pk for row in by_status.context["rows"]] == [event.pk]
    tests = client.get(f"/t/{tenant.slug}/events/?test=true")
    assert {tab["status"]: tab["count"] for tab in tests.context["tabs"]}["test"] == 1
    assert "Test, not sent" in tests.content.decode()


def test_get_events_filters_by_the_new_statuses(
    client_for: Callable[..., APIClient], tenant: Tenant, flow: Flow
) -> None:
    flow_event(flow, EventStatus.NOT_SENT, NO_NUMBER)
    flow_event(flow, EventStatus.DELIVERED, "")
    body = (
        client_for(tenant, Role.VIEWER)
        .get(f"/api/v1/tenants/{tenant.slug}/events/?status=not_sent")
        .json()
    )
    assert [(e["status"], e["last_error"]) for e in body["results"]] == [("not_sent", NO_NUMBER)]


def test_the_overviews_list_what_needs_attention(tenant: Tenant, flow: Flow) -> None:
    flow_event(flow, EventStatus.NOT_SENT, NO_NUMBER)
    flow_event(flow, EventStatus.KEPT, CUSTOM_KEPT, event="table_booked")
    ConnectedPageFactory.create(tenant=tenant, name="Old Shop", transport=Transport.PAGE_ACTIVITIES)
    client = client_of(tenant, Role.ADMIN)
    for url in (f"/t/{tenant.slug}/", f"/t/{tenant.slug}/events/overview/"):
        html = client.get(url).content.decode()
        assert "Needs attention" in html, url
        assert "<strong>1</strong> event not sent in the last 24 h" in html
        assert f"1 \u00d7 {NO_NUMBER}" in html
        assert "<strong>1</strong> event kept in Pagepulse only" in html
        assert "<strong>Old Shop</strong>: Facebook stopped serving the Events API" in html


def test_no_attention_list_when_nothing_needs_it(tenant: Tenant, flow: Flow) -> None:
    flow_event(flow, EventStatus.DELIVERED, "")
    assert "Needs attention" not in client_of(tenant).get(f"/t/{tenant.slug}/").content.decode()


def test_the_sweep_says_waiting_test_events_will_not_be_sent(tenant: Tenant, flow: Flow) -> None:
    waiting = LoggedEventFactory.create(page=flow.page, test=True, status=EventStatus.PENDING)
    real = LoggedEventFactory.create(page=flow.page, status=EventStatus.PENDING)
    sweep_due()
    assert LoggedEvent.objects.get(pk=waiting.pk).status == EventStatus.TEST
    assert LoggedEvent.objects.get(pk=real.pk).status == EventStatus.PENDING
