"""The outbox's readers are served by its indexes, fewer and partial since events 0006.

Every row is written once and settled at least once, each write costing an entry in each index
whose condition it meets; so the table keeps no index that another one already starts with,
and the indexes for one kind of row (from a flow, from an ad, due or held) leave the others
out. A partial index serves a query only when PostgreSQL can prove the query's condition
implies the index's: these tests run the real readers, then ask PostgreSQL to plan each of
their statements with sequential scans priced out, so a reader whose filter no longer matches
its index (a status added to the sweep, say) fails here rather than scanning every tenant's
history in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events import delivery
from events.models import EventSource, EventStatus, LoggedEvent
from events.selectors import flow_node_events
from insights.selectors import leads_logged_per_ad
from tenants.models import ApiKey, ConnectedPage, Tenant
from tests.events.factories import LoggedEventFactory
from tests.tenants.factories import api_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("partial indexes and their plans are PostgreSQL's")


@pytest.fixture
def no_seq_scans() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET enable_seqscan")


def outbox_plans(run: Callable[[], object]) -> list[tuple[str, str]]:
    """(statement, plan) of each statement ``run`` sends that reads events_loggedevent."""
    with CaptureQueriesContext(connection) as queries:
        run()
    plans = []
    for query in queries.captured_queries:
        sql = query["sql"]
        if '"events_loggedevent"' not in sql or sql.lstrip().upper().startswith("INSERT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql)
            plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    assert plans, "the reader sent no statement on the outbox"
    return plans


def assert_indexed(plans: list[tuple[str, str]], *indexes: str) -> None:
    for sql, plan in plans:
        assert "Seq Scan on events_loggedevent" not in plan, f"{sql}\n{plan}"
    used = "\n".join(plan for _, plan in plans)
    for index in indexes:
        assert index in used, f"{index} not used:\n{used}"


@pytest.mark.usefixtures("no_seq_scans")
def test_the_beat_sweep_reads_only_the_partial_sweep_index(capi_page: ConnectedPage) -> None:
    past = timezone.now() - timedelta(minutes=5)
    LoggedEventFactory(page=capi_page, status=EventStatus.SENDING, next_attempt_at=past)
    LoggedEventFactory(page=capi_page, status=EventStatus.BLOCKED)
    LoggedEventFactory(page=capi_page, status=EventStatus.RETRYING, next_attempt_at=past)
    LoggedEventFactory(page=capi_page, status=EventStatus.DELIVERED)

    plans = outbox_plans(delivery.sweep_due)

    assert_indexed(plans, "loggedevent_sweep")


@pytest.mark.usefixtures("no_seq_scans")
def test_a_claim_reads_the_pages_claim_index(capi_page: ConnectedPage) -> None:
    LoggedEventFactory.create_batch(3, page=capi_page)

    plans = outbox_plans(lambda: delivery.claim(capi_page, limit=50))

    assert_indexed(plans, "loggedevent_page_claim")


@pytest.mark.usefixtures("no_seq_scans")
def test_the_per_ad_overview_and_the_funnel_read_their_partial_indexes(
    tenant: Tenant, capi_page: ConnectedPage
) -> None:
    LoggedEventFactory(page=capi_page, event="lead", ad_id="120210000000001")
    LoggedEventFactory(page=capi_page, source=EventSource.FLOW, source_flow_version=7)
    today = timezone.localdate()

    ads = outbox_plans(
        lambda: leads_logged_per_ad(tenant=tenant, first=today - timedelta(days=30), last=today)
    )
    funnel = outbox_plans(
        lambda: flow_node_events(
            tenant=tenant,
            version_ids=[7, 8],
            since=timezone.now() - timedelta(days=7),
            until=timezone.now(),
        )
    )

    assert_indexed(ads, "loggedevent_tenant_ad")
    assert_indexed(funnel, "loggedevent_tenant_node")


@pytest.mark.usefixtures("no_seq_scans")
def test_deleting_a_page_or_a_key_finds_their_events_by_index(
    tenant: Tenant, capi_page: ConnectedPage
) -> None:
    api_key(tenant)
    key = ApiKey.objects.get(tenant=tenant)
    LoggedEventFactory(page=capi_page, api_key=key)

    keys = outbox_plans(key.delete)
    pages = outbox_plans(
        lambda: list(LoggedEvent.objects.filter(page__in=[capi_page]).values_list("pk"))
    )

    assert_indexed(keys, "loggedevent_api_key")
    assert_indexed(pages, "loggedevent_page_claim")


def test_rows_of_the_events_api_and_ended_rows_leave_the_partial_indexes_out(
    capi_page: ConnectedPage,
) -> None:
    LoggedEventFactory.create_batch(4, page=capi_page, status=EventStatus.DELIVERED)
    LoggedEventFactory(page=capi_page, source=EventSource.FLOW, source_flow_version=7)
    LoggedEventFactory(page=capi_page, ad_id="120210000000001")
    LoggedEventFactory(page=capi_page, status=EventStatus.PENDING)

    def entries(index: str) -> int:
        # The index's own condition, as PostgreSQL stores it, counted over the table.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_expr(indpred, indrelid) FROM pg_index"
                " WHERE indexrelid = %s::regclass",
                [index],
            )
            (condition,) = cursor.fetchone()
            cursor.execute(f"SELECT count(*) FROM events_loggedevent WHERE {condition}")  # noqa: S608
            return int(cursor.fetchone()[0])

    assert LoggedEvent.objects.count() == 7
    assert entries("loggedevent_sweep") == 3  # pending: the last one, the flow's and the ad's
    assert entries("loggedevent_tenant_node") == 1
    assert entries("loggedevent_tenant_ad") == 1
