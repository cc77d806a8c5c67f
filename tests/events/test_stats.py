"""events.stats: counts by status, timelines with every bucket, top names, leads; one query each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import DjangoAssertNumQueries

from events import stats
from events.models import EventStatus, LoggedEvent
from tenants.models import ConnectedPage, Tenant
from tests.events.factories import LoggedEventFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
WEEK = stats.PERIODS["7d"]
DAY = stats.PERIODS["24h"]


def _event(capi_page: ConnectedPage, *, ago: timedelta, **fields: Any) -> LoggedEvent:
    return LoggedEventFactory.create(page=capi_page, created_at=NOW - ago, **fields)


def test_status_counts_has_every_status(
    tenant: Tenant, capi_page: ConnectedPage, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for status in ("delivered", "delivered", "dead"):
        LoggedEventFactory.create(page=capi_page, status=status)
    LoggedEventFactory.create(status=EventStatus.FAILED)  # another workspace's
    with django_assert_num_queries(1):
        counts = stats.status_counts(LoggedEvent.objects.for_tenant(tenant))
    assert counts == {
        "delivered": 2,
        "pending": 0,
        "sending": 0,
        "retrying": 0,
        "blocked": 0,
        "failed": 0,
        "dead": 1,
        "not_sent": 0,
        "kept": 0,
        "test": 0,
    }
    assert list(counts) == list(stats.STATUS_ORDER)


def test_a_period_ends_with_the_bucket_holding_now() -> None:
    assert WEEK.window(NOW) == (
        datetime(2026, 11, 25, tzinfo=UTC),
        datetime(2026, 12, 2, tzinfo=UTC),
    )
    assert DAY.window(NOW) == (
        datetime(2026, 11, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 1, 16, tzinfo=UTC),
    )


def test_timeline_fills_every_bucket_and_leaves_test_events_out(
    tenant: Tenant, capi_page: ConnectedPage, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    _event(capi_page, ago=timedelta(hours=1), status=EventStatus.DELIVERED)
    _event(capi_page, ago=timedelta(hours=2), status=EventStatus.FAILED)
    _event(capi_page, ago=timedelta(days=3), status=EventStatus.DELIVERED)
    _event(capi_page, ago=timedelta(days=9), status=EventStatus.DELIVERED)  # before the window
    _event(capi_page, ago=timedelta(hours=1), status=EventStatus.DELIVERED, test=True)

    with django_assert_num_queries(1):
        buckets = stats.timeline(tenant=tenant, period=WEEK, now=NOW)

    assert [b.start.date().isoformat() for b in buckets] == [
        f"2026-11-{d}" for d in range(25, 31)
    ] + ["2026-12-01"]
    assert [b.total for b in buckets] == [0, 0, 0, 1, 0, 0, 2]
    assert buckets[-1].counts["failed"] == 1
    assert stats.timeline(tenant=tenant, period=WEEK, now=NOW, test=None)[-1].total == 3


def test_hourly_timeline(tenant: Tenant, capi_page: ConnectedPage) -> None:
    _event(capi_page, ago=timedelta(minutes=10))
    _event(capi_page, ago=timedelta(hours=5, minutes=10))
    buckets = stats.timeline(tenant=tenant, period=DAY, now=NOW)
    assert len(buckets) == 24
    assert [(b.start.hour, b.total) for b in buckets if b.total] == [(10, 1), (15, 1)]


def test_leads_timeline_counts_lead_submitted_only(
    tenant: Tenant, capi_page: ConnectedPage
) -> None:
    _event(capi_page, ago=timedelta(hours=1), event="lead_submitted")
    _event(capi_page, ago=timedelta(days=1, hours=1), event="lead_submitted")
    _event(capi_page, ago=timedelta(hours=1), event="purchase")
    _event(capi_page, ago=timedelta(hours=1), event="lead_submitted", test=True)
    leads = stats.leads_timeline(tenant=tenant, period=WEEK, now=NOW)
    assert [count for _, count in leads] == [0, 0, 0, 0, 0, 1, 1]


def test_top_event_names_by_count_then_name_with_statuses(
    tenant: Tenant, capi_page: ConnectedPage, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    for name, status in [
        ("purchase", "delivered"),
        ("purchase", "failed"),
        ("lead_submitted", "delivered"),
        ("add_to_cart", "delivered"),
        ("lead_submitted", "dead"),
        ("view_content", "delivered"),
    ]:
        _event(capi_page, ago=timedelta(hours=1), event=name, status=status)
    with django_assert_num_queries(2):
        names = stats.top_event_names(tenant=tenant, period=WEEK, now=NOW, limit=3)
    assert [(n.event, n.total) for n in names] == [
        ("lead_submitted", 2),
        ("purchase", 2),
        ("add_to_cart", 1),
    ]
    assert names[0].counts["dead"] == 1


def test_stats_respect_the_current_time_zone(tenant: Tenant, capi_page: ConnectedPage) -> None:
    with timezone.override("America/New_York"):
        _event(capi_page, ago=timedelta(hours=14))  # 01:30 on 1 Dec in UTC, 20:30 on 30 Nov there
        buckets = stats.timeline(tenant=tenant, period=WEEK, now=NOW)
    assert [b.start.day for b in buckets if b.total] == [30]
    assert [
        b.start.day for b in stats.timeline(tenant=tenant, period=WEEK, now=NOW) if b.total
    ] == [1]
