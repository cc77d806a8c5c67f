"""Delivery end to end: the events API in this process, Celery workers and beat in their own
processes, PostgreSQL, Redis and the Graph sandbox on a local port. Nothing is stubbed.

Every event carries a unique ``ref`` parameter, so what the sandbox received can be counted
per event: page_activities keeps it in the event's parameters, the Conversions API in
``custom_data`` (next to our deterministic ``event_id``).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from events.models import DeliveryAttempt, LoggedEvent
from tests.sandbox_fixtures import GraphSandbox
from tests.system.conftest import (
    PAGE_A,
    PAGE_B,
    Cluster,
    Workspace,
    lead,
    purchase,
)
from tests.system.harness import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

PAGE_ACTIVITIES_VERSION = "v20.0"
GRAPH_VERSION = "v25.0"


def psid(n: int) -> str:
    return str(6_100_000_000_000_000 + n)


def coupon(ref: str) -> dict[str, Any]:
    """A custom event: page_activities carries custom names, the Conversions API does not."""
    return {"event": "coupon_redeemed", "params": {"ref": ref, "code": "SPRING"}}


def event_ref(received: Mapping[str, Any]) -> str:
    """The ``ref`` parameter of an event as the sandbox recorded it."""
    if received["transport"] == "page_activities":
        return str(received["params"]["ref"])
    return str(received["custom_data"]["ref"])


def refs_received(sandbox: GraphSandbox) -> Counter[str]:
    return Counter(event_ref(event) for event in sandbox.events())


def duplicates(received: Counter[str]) -> int:
    return sum(count - 1 for count in received.values() if count > 1)


def graph_calls(sandbox: GraphSandbox, page_path: str) -> list[dict[str, Any]]:
    """Top-level requests (not batch operations) whose path contains ``page_path``."""
    return [r for r in sandbox.requests(limit=0) if page_path in r["path"]]


def events_per_call(sandbox: GraphSandbox) -> list[int]:
    """How many events each accepted HTTP call carried (a Graph batch counts as one call)."""
    per_request = Counter(event["request_id"] for event in sandbox.events())
    parent = {r["id"]: r.get("batch_parent") for r in sandbox.requests(limit=0)}
    per_call: Counter[Any] = Counter()
    for request_id, count in per_request.items():
        per_call[parent.get(request_id) or request_id] += count
    return list(per_call.values())


def log_spread(
    workspace: Workspace, page_id: str, first_psid: int, users: int, events_for: Any
) -> dict[str, dict[str, Any]]:
    """POST ``events_for(ref)`` for ``users`` Messenger users of a Page, 50 users a request;
    returns what was sent by ref."""
    sent: dict[str, dict[str, Any]] = {}
    batch: dict[str, list[dict[str, Any]]] = {}
    for n in range(first_psid, first_psid + users):
        user = psid(n)
        events = events_for(f"{page_id}-{user}")
        batch[user] = events
        for event in events:
            sent[event["params"]["ref"]] = {**event, "psid": user, "page_id": page_id}
        if len(batch) == 50:
            workspace.log_batch(page_id, batch)
            batch = {}
    if batch:
        workspace.log_batch(page_id, batch)
    return sent


def pa_pair(ref: str) -> list[dict[str, Any]]:
    return [purchase(f"{ref}-p"), coupon(f"{ref}-c")]


def capi_pair(ref: str) -> list[dict[str, Any]]:
    return [purchase(f"{ref}-p", "57.23", "EUR"), lead(f"{ref}-l")]


def statuses(ids: Iterable[int]) -> Counter[str]:
    return Counter(LoggedEvent.objects.filter(pk__in=list(ids)).values_list("status", flat=True))


def wait_for_status(ids: Sequence[int], status: str, *, timeout: float, cluster: Cluster) -> None:
    wait_for(
        lambda: statuses(ids)[status] == len(ids),
        timeout=timeout,
        interval=0.1,
        what=f"{len(ids)} events {status}",
        on_timeout=lambda: f"statuses: {statuses(ids)}\n{cluster.logs()}",
    )


# --- 1,000 events, both transports ------------------------------------------------------------


def test_a_thousand_events_reach_the_sandbox_exactly_once_with_valid_payloads(
    workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox
) -> None:
    # The real `celery -A config worker` command here; the other tests fork it from a zygote.
    cluster.worker(fork=False)
    cluster.beat()
    started = int(time.time())
    sent = log_spread(workspace, PAGE_A, 0, 250, pa_pair)
    sent |= log_spread(workspace, PAGE_B, 1000, 250, capi_pair)
    assert len(sent) == 1000

    workspace.wait_until_all("delivered", 1000, timeout=50, cluster=cluster)

    received = sandbox.events()
    counts = Counter(event_ref(event) for event in received)
    assert len(received) == 1000
    assert set(counts) == set(sent)
    assert set(counts.values()) == {1}
    capi_page = workspace.pages[PAGE_B]
    logged = {
        row.params["ref"]: row
        for row in LoggedEvent.objects.filter(tenant=workspace.tenant).select_related("page")
    }
    for event in received:
        ref = event_ref(event)
        expected, row = sent[ref], logged[ref]
        assert (event["page_id"], event["psid"]) == (expected["page_id"], expected["psid"])
        if event["transport"] == "page_activities":
            assert event["api_version"] == PAGE_ACTIVITIES_VERSION
            assert event["logging_source"] == "messenger_bot"
            assert event["logging_target"] == "page"
            assert event["advertiser_tracking_enabled"] in (1, True)
            assert event["application_tracking_enabled"] in (1, True)
            if ref.endswith("-p"):
                assert event["event_name"] == "fb_mobile_purchase"
                assert event["value"] == 12.5
                assert event["params"] == {"ref": ref, "fb_currency": "USD"}
            else:
                assert event["event_name"] == "coupon_redeemed"
                assert event["value"] is None
                assert event["params"] == {"ref": ref, "code": "SPRING"}
        else:
            assert event["api_version"] == GRAPH_VERSION
            assert event["dataset_id"] == capi_page.dataset_id
            assert event["event_id"] == f"pagepulse-{row.pk}"
            assert started - 5 <= event["event_time"] <= int(time.time())
            if ref.endswith("-p"):
                assert event["event_name"] == "Purchase"
                assert event["custom_data"] == {"ref": ref, "currency": "EUR", "value": 57.23}
            else:
                assert event["event_name"] == "LeadSubmitted"
                assert event["custom_data"] == {"ref": ref}
        assert row.delivered_at is not None
        assert row.attempts == 1

    # page_activities went out as Graph batches of at most 50 users, the Conversions API in
    # calls of at most 1,000 events; Facebook accepted every call.
    requests = sandbox.requests(limit=0)
    assert {r["status"] for r in requests if "/_sandbox" not in r["path"]} == {200}
    operations = Counter(r["batch_parent"] for r in requests if r.get("batch_parent"))
    assert operations, "page_activities calls should go out as Graph batch requests"
    assert max(operations.values()) <= 50
    assert sum(1 for r in requests if "page_activities" in r["path"]) == 250
    assert max(events_per_call(sandbox)) <= 1000
    # Every call is on record, each with the events it carried.
    attempts = DeliveryAttempt.objects.filter(tenant=workspace.tenant)
    assert {a.outcome for a in attempts} == {"delivered"}
    assert attempts.filter(events__isnull=True).count() == 0


# --- Workers killed with SIGKILL ----------------------------------------------------------------

KILLS = 24
CHUNKS = 20  # 20 requests of 50 events: 25 on each Page


def test_workers_killed_with_sigkill_twenty_times_lose_no_event(
    workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox
) -> None:
    # Short leases, so a dead worker's claims come back within seconds (the sweep takes them
    # back); each Graph call takes a little while, so kills land while calls are in flight.
    cluster.configure(EVENTS_LEASE_SECONDS="4")
    sandbox.faults(kind="latency", latency_ms=15)
    workers = [cluster.worker(f"w{n}", concurrency=1) for n in (1, 2)]
    cluster.beat()
    rng = random.Random(6)
    sent: dict[str, dict[str, Any]] = {}
    in_flight_kills = 0
    for kill in range(KILLS):
        if kill < CHUNKS:
            first = kill * 25
            sent |= log_spread(workspace, PAGE_A, first, 25, lambda ref: [purchase(ref)])
            sent |= log_spread(workspace, PAGE_B, 5000 + first, 25, lambda ref: [lead(ref)])
        victim = workers[kill % 2]
        victim.wait_ready()
        # Kill while a claim is out (events `sending`), or after a short random moment.
        deadline = time.monotonic() + rng.uniform(0.3, 1.2)
        while time.monotonic() < deadline:
            if LoggedEvent.objects.filter(status="sending").exists():
                in_flight_kills += 1
                break
            time.sleep(0.01)
        victim.kill()
        victim.start()
    assert len(sent) == 1000
    for victim in workers:
        victim.wait_ready()
    workspace.wait_until_all("delivered", 1000, timeout=60, cluster=cluster)

    received = refs_received(sandbox)
    assert set(received) == set(sent)  # none lost
    kills = sum(w.kills for w in workers)
    largest_call = max(events_per_call(sandbox))
    extra = duplicates(received)
    print(  # noqa: T201 - the figures this test exists to show
        f"\n{kills} SIGKILLs ({in_flight_kills} with a claim out), 1000 events delivered, "
        f"{extra} duplicates at the sandbox (largest call: {largest_call} events)"
    )
    assert kills >= 20
    # A duplicate only comes from a worker killed between Facebook's answer and the commit:
    # at most one call's worth per kill.
    assert extra <= kills * largest_call
