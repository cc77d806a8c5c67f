"""The marketer's overview against a seeded data set: every number equals a recount through the
delivery log's own filter (and the raw conversations), with and without the daily aggregates."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.db.models import QuerySet
from django.test import Client

from events.models import EventSource, EventStatus, LoggedEvent
from events.selectors import events_filtered
from flows.models import Conversation, ConversationStatus, FlowVersion
from insights import aggregates, selectors
from insights.aggregates import day_start
from insights.models import (
    AggregatedDay,
    EventDaily,
)
from tenants.models import ConnectedPage, Tenant
from tenants.permissions import Role
from tests.events.factories import LoggedEventFactory
from tests.flows.factories import ConversationFactory, published_flow
from tests.insights.factories import TODAY, ads_seed
from tests.tenants.factories import ConnectedPageFactory, member

if TYPE_CHECKING:
    from tests.client_types import TestResponse

pytestmark = pytest.mark.django_db


def at(days_ago: int, hour: int = 12) -> datetime:
    return day_start(TODAY - timedelta(days=days_ago)) + timedelta(hours=hour)


@pytest.fixture
def seeded(tenant: Tenant) -> dict[str, Any]:
    """Two Pages, a flow on each, leads and purchases over 40 days, test events, API events."""
    bakery = ConnectedPageFactory.create(tenant=tenant, name="Bakery")
    bikes = ConnectedPageFactory.create(tenant=tenant, name="Bikes")
    lead_flow = published_flow(tenant, page=bakery, name="Lead flow")
    shop_flow = published_flow(tenant, page=bikes, name="Shop flow")
    lead_version = lead_flow.versions.get()
    shop_version = shop_flow.versions.get()
    psid = iter(range(6_100_000_000_000_000, 6_200_000_000_000_000))

    def event(
        page: ConnectedPage, version: FlowVersion | None, name: str, days_ago: int, **fields: Any
    ) -> LoggedEvent:
        return LoggedEventFactory.create(
            tenant=tenant,
            page=page,
            psid=str(next(psid)),
            event=name,
            source=EventSource.FLOW if version else EventSource.API,
            source_ref=f"{version.pk}:log_{name}" if version else "api_key:1",
            created_at=at(days_ago),
            **fields,
        )

    for days_ago, status in [
        (0, EventStatus.DELIVERED),
        (0, EventStatus.RETRYING),
        (3, EventStatus.FAILED),
        (12, EventStatus.DELIVERED),
        (40, EventStatus.DELIVERED),
    ]:
        event(
            bakery, lead_version, "lead_submitted", days_ago, status=status, value=None, currency=""
        )
    event(bakery, None, "lead_submitted", 1, value=None, currency="")  # from the API
    event(bakery, lead_version, "lead_submitted", 0, value=None, currency="", test=True)
    for days_ago, value, currency in [
        (0, "10.50", "USD"),
        (2, "20", "EUR"),
        (8, "5.25", "USD"),
        (29, "7", "USD"),
        (31, "100", "USD"),
    ]:
        event(bikes, shop_version, "purchase", days_ago, value=Decimal(value), currency=currency)
    event(bikes, shop_version, "purchase", 0, value=Decimal("999"), currency="USD", test=True)
    event(bikes, shop_version, "add_to_cart", 0, value=None, currency="")

    for days_ago, page, version, conversation_status in [
        (0, bakery, lead_version, ConversationStatus.WAITING),
        (0, bikes, shop_version, ConversationStatus.HANDED_OFF),
        (5, bakery, lead_version, ConversationStatus.ENDED),
        (5, bakery, lead_version, ConversationStatus.HANDED_OFF),
        (35, bikes, shop_version, ConversationStatus.ENDED),
    ]:
        ConversationFactory.create(
            tenant=tenant,
            page=page,
            flow_version=version,
            flow=version.flow,
            psid=str(next(psid)),
            status=conversation_status,
            created_at=at(days_ago),
            variables={"email": "ana@example.com"} if page == bakery else {},
        )
    ConversationFactory.create(
        tenant=tenant,
        page=bakery,
        flow_version=lead_version,
        flow=lead_flow,
        psid=str(next(psid)),
        is_test=True,
        created_at=at(0),
    )
    return {"bakery": bakery, "bikes": bikes, "lead_flow": lead_flow, "shop_flow": shop_flow}


def streamed(response: TestResponse) -> str:
    """The text of a streamed response (the CSV downloads)."""
    assert response.streaming
    return response.getvalue().decode()


def log_count(tenant: Tenant, days: int, **params: str) -> QuerySet[LoggedEvent]:
    """What the delivery log lists for these filters over the last `days` days."""
    since = day_start(TODAY - timedelta(days=days - 1))
    until = day_start(TODAY + timedelta(days=1))
    return events_filtered(
        tenant=tenant,
        params={"created_after": since.isoformat(), "created_before": until.isoformat(), **params},
    ).qs


def conversation_count(tenant: Tenant, days: int, **filters: Any) -> int:
    since = day_start(TODAY - timedelta(days=days - 1))
    return Conversation.objects.filter(
        tenant=tenant, is_test=False, created_at__gte=since, **filters
    ).count()


@pytest.mark.parametrize("aggregated", [False, True], ids=["raw", "aggregated"])
def test_the_overview_equals_a_recount_of_the_delivery_log(
    tenant: Tenant, seeded: dict[str, Any], aggregated: bool
) -> None:
    if aggregated:
        assert aggregates.aggregate_closed_days(TODAY) == 40  # from the first event, 40 days ago
        assert AggregatedDay.objects.filter(tenant=tenant, date=TODAY).count() == 0
        assert EventDaily.objects.filter(tenant=tenant).exists()

    data = selectors.overview(tenant=tenant, today=TODAY)

    for key, _, totals in data.periods:
        days = {"today": 1, "7d": 7, "30d": 30}[key]
        purchases = log_count(tenant, days, event="purchase")
        revenue: dict[str, Decimal] = {}
        for e in purchases:
            assert e.value is not None  # a purchase has a value
            revenue[e.currency] = revenue.get(e.currency, Decimal(0)) + e.value
        assert totals.leads == log_count(tenant, days, event="lead_submitted").count()
        assert totals.purchases == purchases.count()
        assert totals.revenue == revenue
        assert totals.conversations == conversation_count(tenant, days)
    # The seed is not trivial: these are the figures a person would count by hand.
    today, week, month = (t for _, _, t in data.periods)
    assert (today.leads, week.leads, month.leads) == (2, 4, 5)
    assert (today.purchases, week.purchases, month.purchases) == (1, 2, 4)
    assert month.revenue == {"USD": Decimal("22.75"), "EUR": Decimal("20")}
    assert (today.conversations, week.conversations, month.conversations) == (2, 4, 4)
    assert (
        data.handoffs_waiting
        == Conversation.objects.filter(
            tenant=tenant, status=ConversationStatus.HANDED_OFF, is_test=False
        ).count()
        == 2
    )

    by_page = {row.label: row for row in data.by_page}
    for name in ("bakery", "bikes"):
        page = seeded[name]
        row = by_page[page.name]
        assert (
            row.totals.leads == log_count(tenant, 30, event="lead_submitted", page=page.pk).count()
        )
        assert row.totals.purchases == log_count(tenant, 30, event="purchase", page=page.pk).count()
        assert row.totals.conversations == conversation_count(tenant, 30, page=page)
    by_flow = {row.label: row for row in data.by_flow}
    assert by_flow["Lead flow"].totals.leads == 4  # the API lead is not the flow's
    assert by_flow["Not from a flow (API)"].totals.leads == 1
    assert by_flow["Shop flow"].totals.revenue == {"USD": Decimal("22.75"), "EUR": Decimal("20")}
    assert by_flow["Lead flow"].handoffs_waiting == 1
    assert sum(count for _, count in data.daily_leads) == month.leads
    assert len(data.daily_leads) == 30


def test_aggregated_and_raw_answers_are_identical(tenant: Tenant, seeded: dict[str, Any]) -> None:
    raw = selectors.overview(tenant=tenant, today=TODAY)
    aggregates.aggregate_closed_days(TODAY)
    assert selectors.overview(tenant=tenant, today=TODAY) == raw


def test_todays_events_count_at_once_after_the_days_before_were_folded(
    tenant: Tenant, seeded: dict[str, Any]
) -> None:
    aggregates.aggregate_closed_days(TODAY)
    before = selectors.overview(tenant=tenant, today=TODAY).periods[0][2].leads
    LoggedEventFactory.create(
        tenant=tenant, page=seeded["bakery"], event="lead_submitted", value=None, currency=""
    )
    assert selectors.overview(tenant=tenant, today=TODAY).periods[0][2].leads == before + 1


def test_folding_is_incremental_and_idempotent(tenant: Tenant, seeded: dict[str, Any]) -> None:
    assert aggregates.aggregate_closed_days(TODAY) == 40
    assert aggregates.aggregate_closed_days(TODAY) == 0
    rows = EventDaily.objects.filter(tenant=tenant).count()
    assert aggregates.aggregate_closed_days(TODAY + timedelta(days=1)) == 1  # today closed
    assert EventDaily.objects.filter(tenant=tenant).count() > rows


def test_the_overview_page_shows_the_numbers(
    client: Client, tenant: Tenant, seeded: dict[str, Any]
) -> None:
    client.force_login(member(tenant, Role.VIEWER).user)
    page = client.get(f"/t/{tenant.slug}/").content.decode()
    assert "Last 30 days" in page
    assert "22.75 USD" in page
    assert "20.00 EUR" in page
    assert "Lead flow" in page
    assert "Shop flow" in page
    assert "handoffs waiting for a person" in page
    assert 'aria-label="Leads logged per day, last 30 days"' in page
    assert "Connect ad accounts" in page
    # The admin things stay reachable, below.
    assert f'href="/t/{tenant.slug}/members/"' in page


def test_the_leads_csv_has_what_the_flow_gathered(
    client: Client, tenant: Tenant, seeded: dict[str, Any]
) -> None:
    client.force_login(member(tenant, Role.VIEWER).user)
    response = client.get(f"/t/{tenant.slug}/overview/leads.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(streamed(response))))
    assert len(rows) == log_count(tenant, 30, event="lead_submitted").count() == 5
    flow_rows = [row for row in rows if row["flow"] == "Lead flow"]
    assert len(flow_rows) == 4
    assert {row["status"] for row in rows} == {"delivered", "retrying", "failed", "pending"}


def test_the_leads_csv_carries_the_conversations_variables(
    client: Client, tenant: Tenant, seeded: dict[str, Any]
) -> None:
    version = seeded["lead_flow"].versions.get()
    conversation = ConversationFactory.create(
        tenant=tenant,
        page=seeded["bakery"],
        flow_version=version,
        flow=seeded["lead_flow"],
        psid="6100000000000999",
        variables={"email": "=cmd|x", "name": "Ana"},
    )
    LoggedEventFactory.create(
        tenant=tenant,
        page=seeded["bakery"],
        psid=conversation.psid,
        event="lead_submitted",
        source=EventSource.FLOW,
        source_ref=f"{version.pk}:lead",
        value=None,
        currency="",
    )
    client.force_login(member(tenant, Role.VIEWER).user)
    body = streamed(client.get(f"/t/{tenant.slug}/overview/leads.csv"))
    row = next(r for r in csv.DictReader(io.StringIO(body)) if r["psid"] == conversation.psid)
    assert json.loads(row["variables"]) == {"email": "=cmd|x", "name": "Ana"}


def test_the_ads_table_and_its_csv(client: Client, tenant: Tenant, seeded: dict[str, Any]) -> None:
    ads_seed(tenant)
    [row] = selectors.ad_rows(tenant=tenant, first=TODAY - timedelta(days=29), last=TODAY)
    assert (row.fb_leads, row.fb_conversations, row.spend, row.cost_per_lead) == (
        3,
        8,
        Decimal("5.50"),
        Decimal("1.83"),
    )
    client.force_login(member(tenant, Role.VIEWER).user)
    page = client.get(f"/t/{tenant.slug}/").content.decode()
    assert "Why the two lead counts can differ" in page
    assert "5.50 EUR" in page
    assert "1.83 EUR" in page
    body = streamed(client.get(f"/t/{tenant.slug}/overview/ads.csv"))
    [line] = list(csv.DictReader(io.StringIO(body)))
    assert line["ad_name"] == "'=Croissant video"  # no formula reaches a spreadsheet
    assert (line["leads_ads_manager"], line["spend"], line["cost_per_lead"], line["currency"]) == (
        "3",
        "5.50",
        "1.83",
        "EUR",
    )


def test_leads_we_logged_per_ad_join_our_rows(
    client: Client, tenant: Tenant, seeded: dict[str, Any]
) -> None:
    ads_seed(tenant)
    version = seeded["lead_flow"].versions.get()
    for n, ad_id in enumerate(["600", "600", "601"]):
        conversation = ConversationFactory.create(
            tenant=tenant,
            page=seeded["bakery"],
            flow_version=version,
            flow=seeded["lead_flow"],
            psid=f"61000000000007{n}",
            ad_id=ad_id,
        )
        LoggedEventFactory.create(
            tenant=tenant,
            page=seeded["bakery"],
            psid=conversation.psid,
            event="lead_submitted",
            value=None,
            currency="",
            ad_id=ad_id,
        )
    LoggedEventFactory.create(
        tenant=tenant,
        page=seeded["bakery"],
        event="lead_submitted",
        value=None,
        currency="",
        ad_id="600",
        test=True,
    )
    LoggedEventFactory.create(
        tenant=tenant,
        page=seeded["bakery"],
        event="purchase",
        ad_id="600",
    )

    ours = selectors.leads_logged_per_ad(
        tenant=tenant, first=TODAY - timedelta(days=29), last=TODAY
    )
    [row] = selectors.ad_rows(tenant=tenant, first=TODAY - timedelta(days=29), last=TODAY)

    assert ours["600"] == selectors.OurAdNumbers(conversations=2, leads=2)
    assert (row.our_conversations, row.our_leads, row.fb_leads) == (2, 2, 3)
    assert row.differs
    client.force_login(member(tenant, Role.VIEWER).user)
    body = streamed(client.get(f"/t/{tenant.slug}/overview/ads.csv"))
    [line] = list(csv.DictReader(io.StringIO(body)))
    assert (line["leads_pagepulse"], line["conversations_started_pagepulse"]) == ("2", "2")


@pytest.mark.parametrize("aggregated", [False, True], ids=["raw", "aggregated"])
def test_a_flows_totals_equal_its_line_in_the_overview(
    tenant: Tenant, seeded: dict[str, Any], aggregated: bool
) -> None:
    if aggregated:
        aggregates.aggregate_closed_days(TODAY)
    for name in ("lead_flow", "shop_flow"):
        flow = seeded[name]
        periods = selectors.flow_totals(tenant=tenant, flow=flow, today=TODAY)
        [line] = [
            r
            for r in selectors.overview(tenant=tenant, today=TODAY).by_flow
            if r.label == flow.name
        ]
        assert periods[2][2] == line.totals
    today, week, month = (
        t for _, _, t in selectors.flow_totals(tenant=tenant, flow=seeded["lead_flow"], today=TODAY)
    )
    assert (today.leads, week.leads, month.leads, month.conversations) == (2, 3, 4, 3)


def test_a_deleted_flows_numbers_stay_and_both_paths_agree(
    tenant: Tenant, seeded: dict[str, Any]
) -> None:
    aggregates.aggregate_closed_days(TODAY)
    before = selectors.overview(tenant=tenant, today=TODAY).periods[2][2]
    seeded["shop_flow"].delete()

    aggregated = selectors.overview(tenant=tenant, today=TODAY)
    assert aggregated == selectors.overview(tenant=tenant, today=TODAY, use_aggregates=False)
    assert aggregated.periods[2][2].purchases == before.purchases
    assert "Shop flow" not in {row.label for row in aggregated.by_flow}
