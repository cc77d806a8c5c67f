"""Delivery end to end: the events API in this process, Celery workers and beat in their own
processes, PostgreSQL, Redis and the Graph sandbox on a local port. Nothing is stubbed.

Every event carries a unique ``ref`` parameter, so what the sandbox received can be counted
per event: page_activities keeps it in the event's parameters, the Conversions API in
``custom_data`` (next to our deterministic ``event_id``).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from events import delivery, ratelimit
from events.models import DeliveryAttempt, LoggedEvent
from graph_api.client import DEFAULT_TIMEOUT
from tenants.crypto import decrypt_token
from tests.sandbox_fixtures import BOB, GraphSandbox
from tests.system.harness import Cluster, wait_for
from tests.system.workspace import PAGE_A, PAGE_B, Workspace, lead, purchase
from tests.timing import deadline

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


def calls_of(sandbox: GraphSandbox) -> list[tuple[str, Any]]:
    """(ref, HTTP call) of every event the sandbox accepted, in order of receipt; the call of
    an event sent in a Graph batch is the batch request, not its operation."""
    parent = {r["id"]: r.get("batch_parent") for r in sandbox.requests(limit=0)}
    return [
        (event_ref(event), parent.get(event["request_id"]) or event["request_id"])
        for event in sandbox.events()
    ]


def events_per_call(sandbox: GraphSandbox) -> list[int]:
    """How many events each accepted HTTP call carried (a Graph batch counts as one call)."""
    return list(Counter(call for _, call in calls_of(sandbox)).values())


def started_at(sandbox: GraphSandbox) -> dict[Any, float]:
    """When each HTTP call reached the sandbox (seconds since the epoch), by request id: the
    time it was logged (when answered) less how long it took."""
    return {
        r["id"]: datetime.fromisoformat(r["time"]).timestamp() - r["duration_ms"] / 1000
        for r in sandbox.requests(limit=0)
    }


def unmatched_calls(calls: Iterable[float], kills: Iterable[float]) -> list[float]:
    """Match each call (the time it was sent) to a kill after it, one kill per call; the calls
    left without one. Empty when every call could be the one call a kill lost (a kill may land
    before the sandbox answers: the sandbox still takes the events of a call whose worker died)."""
    free = sorted(kills)
    left = []
    for sent in sorted(calls):
        while free and free[0] < sent:
            free.pop(0)  # before this call, so before every later one too
        if free:
            free.pop(0)
        else:
            left.append(sent)
    return left


def resent_calls(sandbox: GraphSandbox) -> dict[Any, tuple[int, int]]:
    """The calls whose answer we lost: calls some of whose events reached the sandbox again in
    a later call. For each, how many of its events came again, and how many it carried."""
    received = calls_of(sandbox)
    size = Counter(call for _, call in received)
    last: dict[str, Any] = {}
    again: Counter[Any] = Counter()
    for ref, call in received:
        if ref in last:
            again[last[ref]] += 1
        last[ref] = call
    return {call: (count, size[call]) for call, count in again.items()}


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
    # Leases that outlast the run, however loaded the machine: one that ran out would let the
    # sweep hand half a user's events to another run (sent once each, but in two calls), and
    # this test counts calls. Leases running out are the kill test's subject, below.
    cluster.configure(EVENTS_LEASE_SECONDS="300")
    # The real `celery -A config worker` command here; the other tests fork it from a zygote.
    cluster.worker(fork=False)
    cluster.beat()
    started = int(time.time())
    sent = log_spread(workspace, PAGE_A, 0, 250, pa_pair)
    sent |= log_spread(workspace, PAGE_B, 1000, 250, capi_pair)
    assert len(sent) == 1000

    workspace.wait_until_all("delivered", 1000, timeout=180, cluster=cluster)

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
# Short, so a dead worker's claims come back soon, but longer than the Graph client's timeout
# (connect + read), as in production (60 s): a live worker's call can never outlive its lease
# and be sent again by another worker, so every duplicate is a kill's. (At 4 s, on a machine at
# load 12, a slow call did.)
LEASE_SECONDS = math.ceil(sum(DEFAULT_TIMEOUT)) + 2
DRAIN_SECONDS = 120  # the lease, a sweep a second, and the calls themselves, with room to spare


def test_workers_killed_with_sigkill_twenty_times_lose_no_event(
    workspace: Workspace,
    cluster: Cluster,
    sandbox: GraphSandbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Short leases, so a dead worker's claims come back within seconds (the sweep takes them
    # back); each Graph call takes a little while, so kills land while calls are in flight.
    cluster.configure(EVENTS_LEASE_SECONDS=str(LEASE_SECONDS))
    sandbox.faults(kind="latency", latency_ms=15)
    workers = [cluster.worker(f"w{n}", concurrency=1) for n in (1, 2)]
    cluster.beat()
    rng = random.Random(6)
    sent: dict[str, dict[str, Any]] = {}
    claims_out = 0
    killed_at: list[float] = []
    for kill in range(KILLS):
        if kill < CHUNKS:
            first = kill * 25
            sent |= log_spread(workspace, PAGE_A, first, 25, lambda ref: [purchase(ref)])
            sent |= log_spread(workspace, PAGE_B, 5000 + first, 25, lambda ref: [lead(ref)])
        victim = workers[kill % 2]
        victim.wait_ready()
        # Chaos, not waiting for something: the victim dies at a random moment of its work.
        time.sleep(rng.uniform(0.2, 1.0))
        claims_out += LoggedEvent.objects.filter(status="sending").exists()
        victim.kill()
        killed_at.append(time.time())  # the worker is dead: an answer it had is lost
        victim.start()
    assert len(sent) == 1000
    for victim in workers:
        victim.wait_ready()
    counts_after_kills = workspace.counts()
    # What the last kills left behind comes back within a lease and a sweep or two.
    workspace.wait_until_all("delivered", 1000, timeout=DRAIN_SECONDS, cluster=cluster)

    received = refs_received(sandbox)
    assert set(received) == set(sent)  # none lost
    kills = sum(w.kills for w in workers)
    extra = duplicates(received)
    resent = resent_calls(sandbox)
    largest = max(events_per_call(sandbox))
    started = started_at(sandbox)
    figures = (
        f"{kills} SIGKILLs ({claims_out} while a claim was out; after the last one: "
        f"{counts_after_kills}); 1000 events delivered; {extra} duplicates at the sandbox "
        f"(bound: {kills} kills x {largest} events in the largest call = {kills * largest}), "
        f"from {len(resent)} calls sent again (events again / in the call: "
        f"{sorted(resent.values(), reverse=True)})"
    )
    with capsys.disabled():  # the figures this test exists to show, also when it passes
        print(f"\n{figures}")  # noqa: T201
    assert kills >= 20, figures
    # DESIGN.md §7: a duplicate only comes from a worker killed after Facebook took a call and
    # before the worker committed its answer; each worker sends one call at a time, so a kill
    # re-sends at most that one call, and never more events than the call carried. Each call
    # sent again must have its own kill after it was sent ...
    assert unmatched_calls([started[call] for call in resent], killed_at) == [], figures
    assert all(again <= carried for again, carried in resent.values()), figures
    # ... so the duplicates are the re-sent calls' events, at most one call's worth per kill.
    assert extra == sum(again for again, _ in resent.values()), figures
    assert extra <= kills * largest, figures


# --- Facebook's faults -------------------------------------------------------------------------


def page_calls(sandbox: GraphSandbox, page: Any) -> list[dict[str, Any]]:
    """The Graph calls (batch operations, not their batch request) that carried events for
    ``page``: page_activities by its ``page_id``, the Conversions API by its dataset."""

    def for_page(request: Mapping[str, Any]) -> bool:
        if "page_activities" in request["path"]:
            return bool(str((request.get("body") or {}).get("page_id")) == page.page_id)
        return bool(page.dataset_id) and request["path"].endswith(f"/{page.dataset_id}/events")

    return [request for request in sandbox.requests(limit=0) if for_page(request)]


def error_codes(calls: Iterable[Mapping[str, Any]]) -> list[int | None]:
    return [(call.get("error") or {}).get("code") for call in calls]


def test_500s_and_timeouts_are_retried_until_delivered(
    workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox
) -> None:
    page_a, page_b = workspace.pages[PAGE_A], workspace.pages[PAGE_B]
    sandbox.faults(
        {"kind": "500", "count": 2, "page_id": PAGE_A},
        {"kind": "timeout", "seconds": 1, "count": 1, "page_id": PAGE_A},
        {"kind": "500", "count": 1, "page_id": PAGE_B},
        # Longer than our client waits (10 s): it gives up, and Facebook then takes the call
        # anyway, as a real timeout can. Sent again, its events reach Facebook twice.
        {"kind": "timeout", "seconds": 11, "process": True, "count": 1, "page_id": PAGE_B},
    )
    cluster.worker()
    cluster.beat()
    sent = log_spread(workspace, PAGE_A, 0, 5, pa_pair)
    sent |= log_spread(workspace, PAGE_B, 100, 5, capi_pair)
    workspace.wait_until_all("delivered", 20, timeout=120, cluster=cluster)
    pa_refs = {ref for ref, event in sent.items() if event["page_id"] == PAGE_A}
    # The call our client gave up on is processed by the sandbox 11 s after it arrived, which
    # on a loaded machine can be after the retry was delivered: wait for that moment.
    wait_for(
        lambda: all(refs_received(sandbox).get(ref) == 2 for ref in set(sent) - pa_refs),
        timeout=60,
        what="the abandoned Conversions API call to be processed by the sandbox too",
    )

    received = refs_received(sandbox)
    assert set(received) == set(sent)
    assert {received[ref] for ref in pa_refs} == {1}
    # The Conversions API call the client gave up on arrived too: its 10 events, twice.
    assert sorted(received[ref] for ref in set(sent) - pa_refs) == [2] * 10
    # page_activities: the five users' calls shared a Graph batch; faults hit three of its
    # operations (500, 500, timed out: null), and only those three users' events went again.
    rows = LoggedEvent.objects.filter(tenant=workspace.tenant)
    assert sorted(rows.filter(page=page_a).values_list("attempts", flat=True)) == [1] * 4 + [2] * 6
    # (The sandbox leaves the operation it answered with null out of its request log.)
    assert Counter(call["status"] for call in page_calls(sandbox, page_a)) == {500: 2, 200: 5}
    # The Conversions API: one call of ten events; 500, then our timeout, then delivered.
    assert set(rows.filter(page=page_b).values_list("attempts", flat=True)) == {3}
    assert error_codes(page_calls(sandbox, page_b)) == [1, None, None]
    outcomes = Counter(
        DeliveryAttempt.objects.filter(tenant=workspace.tenant).values_list("page_id", "outcome")
    )
    assert outcomes == {
        (page_a.pk, "transient"): 3,
        (page_a.pk, "delivered"): 5,
        (page_b.pk, "transient"): 2,
        (page_b.pk, "delivered"): 1,
    }


THROTTLES = {  # fault kind: a Page of Bob's (graph_api/sandbox/seed.json), its transport, the code
    "4": ("301000000000001", "page_activities", 4),
    "17": ("301000000000002", "conversions_api", 17),
    "32": ("301000000000003", "page_activities", 32),
    "613": ("301000000000004", "conversions_api", 613),
    "80001": ("301000000000005", "page_activities", 80001),
    "429": ("301000000000006", "conversions_api", 4),  # code 4 with HTTP 429
}


def test_a_throttled_page_pauses_and_the_others_do_not_notice(
    workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox
) -> None:
    workspace.facebook_login(BOB)
    throttled = [
        workspace.connect(page_id, transport) for page_id, transport, _ in THROTTLES.values()
    ]
    for kind, (page_id, _, _) in THROTTLES.items():
        # Throttled with usage headers at 100% and "come back in a minute".
        sandbox.faults(kind=kind, page_id=page_id, regain_minutes=1)
    cluster.worker()
    cluster.beat()
    held = [i for page in throttled for i in workspace.log(page.page_id, psid(1), [lead("t")])]
    free = workspace.log(PAGE_A, psid(2), [purchase("free-1")])
    wait_for_status(free, "delivered", timeout=60, cluster=cluster)
    wait_for(
        lambda: all(len(page_calls(sandbox, page)) == 1 for page in throttled),
        timeout=60,
        what="one call to each throttled Page",
    )
    assert [error_codes(page_calls(sandbox, page)) for page in throttled] == [
        [code] for _, _, code in THROTTLES.values()
    ]
    wait_for_status(held, "retrying", timeout=30, cluster=cluster)
    for page in throttled:
        # Facebook said: back in a minute. Its events wait at least that long after the answer,
        # and the Page's pause ends no later.
        answered = DeliveryAttempt.objects.get(page=page).created_at
        for row in LoggedEvent.objects.filter(page=page, pk__in=held):
            assert row.next_attempt_at >= answered + timedelta(minutes=1), row
        assert ratelimit.paused_for(page.pk) <= 60
    rows = LoggedEvent.objects.filter(pk__in=held)
    assert set(rows.values_list("attempts", flat=True)) == {0}  # throttling costs no attempt
    assert all("throttled" in row.last_error for row in rows)

    # While they are paused, more events: the others flow, the paused Pages are left alone.
    more_free = workspace.log(PAGE_A, psid(3), [purchase("free-2")])
    more_free += workspace.log(PAGE_B, psid(4), [lead("free-3")])
    more_held = workspace.log(throttled[0].page_id, psid(5), [lead("t2")])
    wait_for_status(more_free, "delivered", timeout=60, cluster=cluster)
    cluster.wait_for_sweeps(3)
    assert [len(page_calls(sandbox, page)) for page in throttled] == [1] * len(throttled)
    assert statuses(more_held) == {"pending": 1} or statuses(more_held) == {"retrying": 1}

    # A minute later (the pause and the events' next attempt moved to now), all of it goes.
    sandbox.clear_faults()
    for page in throttled:
        ratelimit.reset(page.pk)
    LoggedEvent.objects.filter(page__in=throttled).update(next_attempt_at=timezone.now())
    wait_for_status(held + more_held, "delivered", timeout=60, cluster=cluster)
    received = refs_received(sandbox)
    assert received["t"] == len(throttled)
    assert received["t2"] == 1


def test_a_dead_token_blocks_the_page_until_it_is_reconnected(
    workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox
) -> None:
    page_a = workspace.pages[PAGE_A]
    sandbox.revoke(page_id=PAGE_A)  # every token of the Page dies: 190
    cluster.worker()
    cluster.beat()
    first = log_spread(workspace, PAGE_A, 0, 5, pa_pair)
    other = workspace.log(PAGE_B, psid(50), [lead("b-1"), purchase("b-2")])
    wait_for_status(other, "delivered", timeout=60, cluster=cluster)
    workspace.wait_until_all("blocked", 10, timeout=60, cluster=cluster)
    page_a.refresh_from_db()
    assert page_a.status == "needs_reauth"
    assert set(error_codes(page_calls(sandbox, page_a))) == {190}
    calls_while_dead = len(page_calls(sandbox, page_a))
    blocked = LoggedEvent.objects.filter(page=page_a)
    assert all("access token" in row.last_error for row in blocked)

    # Events logged meanwhile wait too, and nothing is sent for the Page while its token is dead.
    later = workspace.post({"page_id": PAGE_A, "psid": psid(9), "events": [purchase("late")]})
    assert [event["status"] for event in later["events"]] == ["blocked"]
    cluster.wait_for_sweeps(3)
    assert len(page_calls(sandbox, page_a)) == calls_while_dead
    assert workspace.counts() == {"blocked": 11, "delivered": 2}

    # The owner logs in with Facebook again: the Page gets a fresh token and its events flow.
    workspace.facebook_login()
    page_a.refresh_from_db()
    assert page_a.status == "active"
    workspace.wait_until_all("delivered", 13, timeout=60, cluster=cluster)
    received = refs_received(sandbox)
    assert set(received) == {*first, "b-1", "b-2", "late"}
    assert set(received.values()) == {1}


def test_an_invalid_event_fails_with_facebooks_message_and_only_that_event(
    workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox
) -> None:
    page_a, page_b = workspace.pages[PAGE_A], workspace.pages[PAGE_B]
    message = "(#100) Param custom_events[0] is not what this system test wants"
    sandbox.faults(
        {"kind": "custom", "code": 100, "message": message, "count": 1, "page_id": PAGE_A},
        # One Conversions API event refused: the whole call is refused, then its halves are
        # sent again, and only the bad one fails.
        {"kind": "custom", "code": 100, "message": message, "count": 2, "page_id": PAGE_B},
    )
    cluster.worker()
    cluster.beat()
    single = workspace.log(PAGE_A, psid(1), [purchase("pa-bad")])
    trio = workspace.log(PAGE_B, psid(2), [lead("capi-1"), lead("capi-2"), lead("capi-3")])
    wait_for_status(single, "failed", timeout=60, cluster=cluster)
    wait_for(
        lambda: statuses(trio) == {"failed": 1, "delivered": 2},
        timeout=60,
        what="one of three Conversions API events failed, two delivered",
        on_timeout=lambda: f"{statuses(trio)}\n{cluster.logs()}",
    )
    failed = LoggedEvent.objects.filter(tenant=workspace.tenant, status="failed")
    assert all(message in row.last_error for row in failed)
    # The call of three was refused, then its first half (one event: refused, failed), then
    # the other half (two events: delivered).
    assert error_codes(page_calls(sandbox, page_b)) == [100, 100, None]
    # Not retried: a few sweeps later nothing more went out.
    calls = len(sandbox.requests(limit=0))
    cluster.wait_for_sweeps(3)
    assert len(sandbox.requests(limit=0)) == calls
    # The event's page in the API: Facebook's answer, and what was sent without any secret.
    [event_id] = single
    shown = workspace.client.get(f"{workspace.events_url}{event_id}/")
    assert shown.status_code == 200
    detail = shown.json()
    assert (detail["status"], detail["attempts"], detail["replayable"]) == ("failed", 1, True)
    assert message in detail["last_error"]
    [attempt] = detail["delivery_attempts"]
    assert (attempt["outcome"], attempt["graph_code"], attempt["http_status"]) == (
        "invalid",
        100,
        400,
    )
    assert message in attempt["error_message"]
    assert '"ref": "pa-bad"' in json.dumps(attempt["request"])
    token = decrypt_token(page_a.token_encrypted)
    for secret in (token, sandbox.proof(token), sandbox.app_secret):
        assert secret not in shown.content.decode()

    # Replayed (twice: the second finds nothing to replay), each is sent once more.
    ids = list(failed.values_list("pk", flat=True))
    assert workspace.replay(ids) == 2
    assert workspace.replay(ids) == 0
    workspace.wait_until_all("delivered", 4, timeout=60, cluster=cluster)
    assert refs_received(sandbox) == Counter({"pa-bad": 1, "capi-1": 1, "capi-2": 1, "capi-3": 1})


RETRY_WINDOW_SECONDS = deadline(10)
"""The retry window the workers get: four failures (back-off 0.25 s to 1 s, a sweep a second)
fit in it many times over on an idle machine; TEST_TIME_SCALE stretches it on a busy one."""


def test_an_outage_longer_than_a_few_retries_kills_nothing_before_the_window_ends(
    workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox
) -> None:
    cluster.configure(
        EVENTS_RETRY_BASE_SECONDS="0.25",
        EVENTS_RETRY_CAP_SECONDS="1",
        EVENTS_RETRY_WINDOW_SECONDS=str(RETRY_WINDOW_SECONDS),
    )
    # Facebook fails Page A's first four calls (one call carries both of its events), and
    # every call for Page B: A recovers after three retries, however long they took; B's
    # events die, but only once the window has passed.
    sandbox.faults(kind="500", count=4, page_id=PAGE_A)
    sandbox.faults(kind="500", page_id=PAGE_B)
    cluster.worker()
    cluster.beat()
    recovers = workspace.log(PAGE_A, psid(1), [purchase("a-1"), coupon("a-2")])
    gives_up = workspace.log(PAGE_B, psid(2), [lead("b-1"), purchase("b-2")])

    def never_dead_early() -> None:
        for row in LoggedEvent.objects.filter(status="dead"):
            assert row.first_failed_at is not None
            lived = (row.updated_at - row.first_failed_at).total_seconds()
            assert lived >= RETRY_WINDOW_SECONDS, f"{row!r} dead after {lived:.1f} s"

    def settled() -> bool:
        never_dead_early()
        return statuses(recovers) == {"delivered": 2} and statuses(gives_up) == {"dead": 2}

    wait_for(settled, timeout=RETRY_WINDOW_SECONDS + 60, what="A delivered and B dead")
    assert [call["status"] for call in page_calls(sandbox, workspace.pages[PAGE_A])] == [
        *[500] * 4,
        200,
    ]
    assert set(LoggedEvent.objects.filter(pk__in=recovers).values_list("attempts", flat=True)) == {
        5
    }
    dead = LoggedEvent.objects.filter(pk__in=gives_up)
    assert all(row.last_error.startswith("Gave up after") for row in dead)
    assert min(row.attempts for row in dead) >= 5
    assert refs_received(sandbox) == Counter({"a-1": 1, "a-2": 1})


# --- The beat sweep -------------------------------------------------------------------------


def test_the_sweep_delivers_an_event_whose_broker_message_was_lost(
    workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox, broker: Any
) -> None:
    lost = workspace.log(PAGE_A, psid(1), [purchase("lost")])
    queued = [
        key
        for key in broker.scan_iter(ratelimit.redis_key("delivery") + "*")
        if broker.type(key) == b"list"
    ]
    assert sum(broker.llen(key) for key in queued) == 1  # the deliver_page message, committed
    broker.delete(*queued)  # ... and lost

    cluster.worker()
    found = workspace.log(PAGE_B, psid(2), [lead("found")])
    wait_for_status(found, "delivered", timeout=60, cluster=cluster)
    assert statuses(lost) == {"pending": 1}  # a working worker, but nobody asked it
    # By a sweep, which sends a task although the Page's "a task is queued" mark says one is
    # waiting, not by an ordinary enqueue once that mark has run out.
    page_a = workspace.pages[PAGE_A]
    mark = ratelimit.redis_key(f"{ratelimit.KEY_PREFIX}:queued:{page_a.pk}")
    # (However long the wait above took: the mark the lost message left, for a full minute.)
    ratelimit.clear_queued(page_a.pk)
    assert ratelimit.mark_queued(page_a.pk, seconds=delivery.QUEUED_MARK_SECONDS)
    mark_ends = timezone.now() + timedelta(milliseconds=broker.pttl(mark))
    cluster.beat()
    wait_for(
        lambda: statuses(lost) == {"delivered": 1},
        timeout=90,
        what="the sweep to deliver the event whose message was lost",
        on_timeout=lambda: f"statuses: {statuses(lost)}; sweeps run: {cluster.sweeps_done()}",
    )
    delivered_at = LoggedEvent.objects.get(pk__in=lost).delivered_at
    assert delivered_at is not None
    assert delivered_at < mark_ends, "delivered only after the mark ran out, not by the sweep"
    assert refs_received(sandbox) == Counter({"lost": 1, "found": 1})
