"""The funnel counters: what a turn counts, the upsert, and GET …/flows/<id>/stats/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, NoReturn

import pytest
import responses
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import EventSource, EventStatus, LoggedEvent
from flows import counters, interpreter
from flows.blocks.steps import START, TEXT
from flows.models import (
    Conversation,
    ConversationStatus,
    Flow,
    FlowVersion,
    NodeDailyCount,
    TriggerKind,
)
from messenger import runtime
from tenants.models import ConnectedPage, Tenant
from tenants.permissions import Role
from tenants.services import Actor
from tests.flows.factories import FlowVersionFactory, edge, node, published_flow
from tests.messenger.runtime_support import (
    InlineWorker,
    entry,
    envelope,
    text,
)
from tests.tenants.factories import member

pytestmark = pytest.mark.django_db

PAGE = "300000000000077"
SYSTEM = {"psid": "1", "page_id": PAGE, "ref": ""}


def lead_document() -> dict[str, Any]:
    """start -> ask name -> [condition name contains "x": true -> human, false -> lead -> end]."""
    return {
        "nodes": [
            node("start", "start"),
            node("ask", "ask", question="Your name?", variable="name", check="text"),
            node(
                "check",
                "condition",
                match="all",
                rules=[{"variable": "name", "operator": "contains", "value": "x"}],
            ),
            node("human", "handoff", note="{{name}} wants a person"),
            node("lead", "log_event", event="lead_submitted", params={"name": "{{name}}"}),
            node("end", "end"),
        ],
        "edges": [
            edge("start", "ask"),
            edge("ask", "check"),
            edge("check", "human", "true"),
            edge("check", "lead", "false"),
            edge("lead", "end"),
        ],
    }


def counts_of(version: FlowVersion) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """The version's counters of every day, summed per (node, handle)."""
    total: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for row in NodeDailyCount.objects.filter(flow_version=version):
        old = total.get((row.node_id, row.handle), (0, 0, 0, 0))
        new = (row.entered, row.exited, row.ended, row.handed_off)
        total[(row.node_id, row.handle)] = (
            old[0] + new[0],
            old[1] + new[1],
            old[2] + new[2],
            old[3] + new[3],
        )
    return total


# --- What one turn counts ---------------------------------------------------------------------


def test_a_turn_names_the_blocks_arrived_at_and_the_handles_left_by() -> None:
    first = interpreter.run(lead_document(), None, interpreter.Incoming(kind=START), system=SYSTEM)
    assert (first.entered, first.exits) == (("start", "ask"), (("start", "next"),))

    answer = interpreter.run(
        lead_document(), first.state, interpreter.Incoming(kind=TEXT, text="Ada"), system=SYSTEM
    )
    # The ask it waited at is not arrived at again; it is left by "next".
    assert answer.entered == ("check", "lead", "end")
    assert answer.exits == (("ask", "next"), ("check", "false"), ("lead", "next"))
    assert counters.turn_counts(
        counters.TurnPath(answer.entered, answer.exits, answer.state.status, answer.state.node_id)
    ) == {
        ("check", ""): {"entered": 1},
        ("lead", ""): {"entered": 1},
        ("end", ""): {"entered": 1, "ended": 1},
        ("ask", "next"): {"exited": 1},
        ("check", "false"): {"exited": 1},
        ("lead", "next"): {"exited": 1},
    }


def test_a_failed_answer_asks_again_without_arriving_again() -> None:
    document = lead_document()
    document["nodes"][1]["data"]["check"] = "email"
    first = interpreter.run(document, None, interpreter.Incoming(kind=START), system=SYSTEM)
    again = interpreter.run(
        document, first.state, interpreter.Incoming(kind=TEXT, text="no email"), system=SYSTEM
    )
    assert again.state.status == interpreter.WAITING
    assert (again.entered, again.exits) == ((), ())


def test_the_upsert_adds_to_the_days_rows(tenant: Tenant) -> None:
    version = FlowVersionFactory.create(flow__tenant=tenant)
    day = date(2026, 12, 1)
    for _ in range(2):
        counters.counts_add(
            tenant_id=tenant.pk,
            flow_version_id=version.pk,
            counts={("a", ""): {"entered": 2, "ended": 1}, ("a", "next"): {"exited": 1}},
            day=day,
        )
    counters.counts_add(
        tenant_id=tenant.pk,
        flow_version_id=version.pk,
        counts={("a", ""): {"entered": 1}},
        day=day + timedelta(days=1),
    )
    rows = NodeDailyCount.objects.filter(flow_version=version).order_by("day", "handle")
    assert [(r.day, r.handle, r.entered, r.exited, r.ended) for r in rows] == [
        (day, "", 4, 0, 2),
        (day, "next", 0, 2, 0),
        (day + timedelta(days=1), "", 1, 0, 0),
    ]


# --- Through the runtime ----------------------------------------------------------------------


@pytest.fixture
def lead_flow(tenant: Tenant, bakery_page: ConnectedPage) -> Flow:
    return published_flow(
        tenant,
        page=bakery_page,
        name="Leads",
        trigger_kind=TriggerKind.KEYWORDS,
        trigger_keywords=["quote"],
        document=lead_document(),
    )


def converse(client: Client, worker: InlineWorker, messages: list[tuple[str, str]]) -> None:
    for psid, body in messages:
        worker.deliver(client, envelope(entry(PAGE, text(PAGE, psid, body))))


@pytest.mark.usefixtures("runtime_redis")
def test_each_turn_adds_to_the_counters_in_its_transaction(
    client: Client, worker: InlineWorker, send_api: responses.RequestsMock, lead_flow: Flow
) -> None:
    converse(
        client,
        worker,
        [
            ("71001", "quote please"),
            ("71002", "quote please"),
            ("71003", "quote please"),
            ("71001", "Ada"),  # -> lead -> end
            ("71002", "Max"),  # contains x -> handed off
        ],
    )
    version = lead_flow.versions.get()
    assert counts_of(version) == {
        ("start", ""): (3, 0, 0, 0),
        ("start", "next"): (0, 3, 0, 0),
        ("ask", ""): (3, 0, 0, 0),  # 71003 is still waiting there
        ("ask", "next"): (0, 2, 0, 0),
        ("check", ""): (2, 0, 0, 0),
        ("check", "true"): (0, 1, 0, 0),
        ("check", "false"): (0, 1, 0, 0),
        ("human", ""): (1, 0, 0, 1),
        ("lead", ""): (1, 0, 0, 0),
        ("lead", "next"): (0, 1, 0, 0),
        ("end", ""): (1, 0, 1, 0),
    }
    event = LoggedEvent.objects.get()
    assert (event.source_flow_version, event.source_node) == (version.pk, "lead")
    # The handoff resolved: the block is left by "next" (nothing there: it ends).
    conversation = Conversation.objects.get(psid="71002")
    owner = member(lead_flow.tenant, Role.OWNER)
    runtime.handoff_resolve(
        tenant=lead_flow.tenant, actor=Actor(user=owner.user), conversation_id=conversation.pk
    )
    assert counts_of(version)[("human", "")] == (1, 0, 1, 1)


@pytest.mark.usefixtures("runtime_redis")
def test_a_turn_that_rolls_back_counts_nothing(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    lead_flow: Flow,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runtime, "log_events", boom)
    converse(client, worker, [("71001", "quote please"), ("71001", "Ada")])
    version = lead_flow.versions.get()
    # The first turn committed; the second raised while logging and rolled back, counters too.
    assert counts_of(version) == {
        ("start", ""): (1, 0, 0, 0),
        ("start", "next"): (0, 1, 0, 0),
        ("ask", ""): (1, 0, 0, 0),
    }
    assert Conversation.objects.get().status == ConversationStatus.WAITING


# --- GET …/flows/<id>/stats/ -----------------------------------------------------------------


def stats_url(flow: Flow, query: str = "") -> str:
    return f"/api/v1/tenants/{flow.tenant.slug}/flows/{flow.pk}/stats/{query}"


def logged(
    flow: Flow,
    version: FlowVersion,
    node_id: str,
    status: str,
    *,
    error: str = "",
    when: datetime | None = None,
) -> LoggedEvent:
    return LoggedEvent.objects.create(
        tenant=flow.tenant,
        page=flow.page,
        psid="71001",
        event="lead_submitted",
        source=EventSource.FLOW,
        source_ref=f"{version.pk}:{node_id}",
        source_flow_version=version.pk,
        source_node=node_id,
        status=status,
        last_error=error,
        created_at=when or timezone.now(),
    )


def test_stats_sum_the_days_and_handles_of_the_latest_version(
    viewer_client: APIClient, lead_flow: Flow
) -> None:
    old = lead_flow.versions.get()
    new = FlowVersionFactory.create(flow=lead_flow, number=2)
    today = datetime.now(UTC).date()
    for day in (today, today - timedelta(days=3)):
        counters.counts_add(
            tenant_id=lead_flow.tenant_id,
            flow_version_id=new.pk,
            counts={
                ("start", ""): {"entered": 5},
                ("check", ""): {"entered": 4},
                ("check", "true"): {"exited": 1},
                ("check", "false"): {"exited": 2},
                ("end", ""): {"entered": 2, "ended": 2},
            },
            day=day,
        )
    counters.counts_add(  # version 1, and a day out of range: neither counted
        tenant_id=lead_flow.tenant_id,
        flow_version_id=old.pk,
        counts={("start", ""): {"entered": 100}},
        day=today,
    )
    counters.counts_add(
        tenant_id=lead_flow.tenant_id,
        flow_version_id=new.pk,
        counts={("start", ""): {"entered": 100}},
        day=today - timedelta(days=40),
    )
    logged(lead_flow, new, "lead", EventStatus.DELIVERED)
    logged(lead_flow, new, "lead", EventStatus.DELIVERED)
    logged(lead_flow, new, "lead", EventStatus.FAILED, error="(#100) Invalid parameter")
    logged(lead_flow, new, "lead", EventStatus.NOT_SENT, error="No such event on this transport")
    logged(lead_flow, old, "lead", EventStatus.DELIVERED)  # another version

    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get(stats_url(lead_flow))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 2
    assert body["versions"] == [2, 1]
    assert body["from"] == str(today - timedelta(days=29))
    assert body["to"] == str(today)
    assert body["started"] == 10
    nodes = {n["node_id"]: n for n in body["nodes"]}
    assert nodes["check"] == {
        "node_id": "check",
        "entered": 8,
        "exited": 6,
        "ended": 0,
        "handed_off": 0,
        "exits": [{"handle": "false", "count": 4}, {"handle": "true", "count": 2}],
        "events": None,
    }
    assert nodes["end"]["ended"] == 4
    events = nodes["lead"]["events"]
    assert {k: events[k] for k in ("delivered", "failed", "not_sent", "pending")} == {
        "delivered": 2,
        "failed": 1,
        "not_sent": 1,
        "pending": 0,
    }
    assert events["last_error"] == "(#100) Invalid parameter"
    # More blocks with events and errors cost no more queries (no N+1).
    for node_id in ("lead2", "lead3"):
        logged(lead_flow, new, node_id, EventStatus.DEAD, error="(#2) Service unavailable")
    with CaptureQueriesContext(connection) as again:
        assert len(viewer_client.get(stats_url(lead_flow)).json()["nodes"]) == len(nodes) + 2
    assert len(again) == len(queries)


def test_stats_of_one_version_all_versions_and_a_period(
    viewer_client: APIClient, lead_flow: Flow
) -> None:
    old = lead_flow.versions.get()
    new = FlowVersionFactory.create(flow=lead_flow, number=2)
    for version, n in ((old, 3), (new, 4)):
        counters.counts_add(
            tenant_id=lead_flow.tenant_id,
            flow_version_id=version.pk,
            counts={("start", ""): {"entered": n}},
            day=date(2026, 11, 2),
        )
    one = viewer_client.get(stats_url(lead_flow, "?version=1&from=2026-11-01&to=2026-11-02")).json()
    both = viewer_client.get(
        stats_url(lead_flow, "?version=all&from=2026-11-02&to=2026-11-02")
    ).json()
    before = viewer_client.get(
        stats_url(lead_flow, "?version=all&from=2026-11-03&to=2026-11-30")
    ).json()
    assert (one["version"], one["started"]) == (1, 3)
    assert (both["version"], both["started"]) == (None, 7)
    assert (before["started"], before["nodes"]) == (0, [])


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?from=yesterday", "from", "Date has wrong format"),
        ("?to=2026-13-01", "to", "Date has wrong format"),
        ("?from=2026-11-02&to=2026-11-01", "from", "is after `to`"),
        ("?from=2024-01-01&to=2026-11-01", "from", "At most 366 days"),
        ("?version=latest", "version", "Give a version number"),
        ("?version=0", "version", "Give a version number"),
        ("?version=7", "version", "This flow has no version 7: its versions are 1 to 1."),
    ],
)
def test_bad_stats_queries_are_400_saying_what_to_fix(
    viewer_client: APIClient, lead_flow: Flow, query: str, field: str, message: str
) -> None:
    response = viewer_client.get(stats_url(lead_flow, query))
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in " ".join(error["details"][field])


def test_a_flow_never_published_has_empty_stats(
    viewer_client: APIClient, tenant: Tenant, bakery_page: ConnectedPage
) -> None:
    from tests.flows.factories import FlowFactory

    flow = FlowFactory.create(tenant=tenant, page=bakery_page)
    body = viewer_client.get(stats_url(flow)).json()
    assert (body["version"], body["versions"], body["nodes"], body["started"]) == (
        None,
        [],
        [],
        0,
    )
    response = viewer_client.get(stats_url(flow, "?version=1"))
    assert "it has none: publish it first" in response.json()["error"]["details"]["version"][0]
