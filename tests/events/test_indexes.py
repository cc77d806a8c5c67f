"""The outbox's readers are served by its indexes, fewer and partial since events 0006.

Every row is written once and settled at least once, each write costing an entry in each index
whose condition it meets; so the table keeps no index that another one already starts with,
and the indexes for one kind of row (from a flow, from an ad, due or held) leave the others
out. A partial index serves a query only when PostgreSQL can prove the query's condition
implies the index's: these tests run the real readers, then ask PostgreSQL to plan each of
their statements with only the reader's index (and the primary key) left and sequential scans
priced out, so a reader whose filter no longer matches its index (a status added to the sweep,
say) fails here rather than scanning every tenant's history in production. (Which index the
planner picks among several depends on the rows' statistics; whether it can use this one does
not.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.db import connection, transaction
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


def outbox_statements(run: Callable[[], object]) -> list[str]:
    """The statements ``run`` sends that read events_loggedevent (inserts aside)."""
    with CaptureQueriesContext(connection) as queries:
        run()
    statements = [
        query["sql"]
        for query in queries.captured_queries
        if '"events_loggedevent"' in query["sql"]
        and not query["sql"].lstrip().upper().startswith(("INSERT", "SAVEPOINT", "RELEASE"))
    ]
    assert statements, "the reader sent no statement on the outbox"
    return statements


def assert_served_by(index: str, statements: list[str]) -> None:
    """Each statement planned with ``index`` the table's only index but its primary key (the
    others dropped inside a savepoint, rolled back): none scans the table, and ``index`` is used."""
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text FROM pg_index"
            " WHERE indrelid = 'events_loggedevent'::regclass AND NOT indisprimary"
        )
        others = [name for (name,) in cursor.fetchall() if name != index]
        assert len(others) >= 10, others  # the table's own indexes, all but this one
        for name in others:
            cursor.execute(f'DROP INDEX "{name}"')
        for sql in statements:
            cursor.execute("EXPLAIN " + sql)
            plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
        transaction.set_rollback(True)  # the dropped indexes come back with the savepoint
    for sql, plan in plans:
        assert "Seq Scan on events_loggedevent" not in plan, f"{sql}\n{plan}"
    assert any(index in plan for _, plan in plans), plans


@pytest.mark.usefixtures("no_seq_scans")
def test_the_beat_sweep_reads_only_the_partial_sweep_index(capi_page: ConnectedPage) -> None:
    past = timezone.now() - timedelta(minutes=5)
    LoggedEventFactory(page=capi_page, status=EventStatus.SENDING, next_attempt_at=past)
    LoggedEventFactory(page=capi_page, status=EventStatus.BLOCKED)
    LoggedEventFactory(page=capi_page, status=EventStatus.RETRYING, next_attempt_at=past)
    LoggedEventFactory(page=capi_page, status=EventStatus.DELIVERED)

    statements = outbox_statements(delivery.sweep_due)

    assert_served_by("loggedevent_sweep", statements)


@pytest.mark.usefixtures("no_seq_scans")
def test_a_claim_reads_the_pages_claim_index(capi_page: ConnectedPage) -> None:
    LoggedEventFactory.create_batch(3, page=capi_page)

    statements = outbox_statements(lambda: delivery.claim(capi_page, limit=50))

    assert_served_by("loggedevent_page_claim", statements)


@pytest.mark.usefixtures("no_seq_scans")
def test_the_per_ad_overview_and_the_funnel_read_their_partial_indexes(
    tenant: Tenant, capi_page: ConnectedPage
) -> None:
    LoggedEventFactory(page=capi_page, event="lead", ad_id="120210000000001")
    LoggedEventFactory(page=capi_page, source=EventSource.FLOW, source_flow_version=7)
    today = timezone.localdate()

    ads = outbox_statements(
        lambda: leads_logged_per_ad(tenant=tenant, first=today - timedelta(days=30), last=today)
    )
    funnel = outbox_statements(
        lambda: flow_node_events(
            tenant=tenant,
            version_ids=[7, 8],
            since=timezone.now() - timedelta(days=7),
            until=timezone.now(),
        )
    )

    assert_served_by("loggedevent_tenant_ad", ads)
    assert_served_by("loggedevent_tenant_node", funnel)


@pytest.mark.usefixtures("no_seq_scans")
def test_deleting_a_page_or_a_key_finds_their_events_by_index(
    tenant: Tenant, capi_page: ConnectedPage
) -> None:
    api_key(tenant)
    key = ApiKey.objects.get(tenant=tenant)
    LoggedEventFactory(page=capi_page, api_key=key)

    keys = outbox_statements(key.delete)
    pages = outbox_statements(
        lambda: list(LoggedEvent.objects.filter(page__in=[capi_page]).values_list("pk"))
    )

    assert_served_by("loggedevent_api_key", keys)
    assert_served_by("loggedevent_page_claim", pages)


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
