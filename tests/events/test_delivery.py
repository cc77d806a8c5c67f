"""events.delivery with Graph stubbed by `responses`, on real Redis (database 5).

Each test runs the Page's delivery the way the task does and checks every row it moved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks
from requests import PreparedRequest

from events import delivery, ratelimit, tasks
from events.models import AttemptOutcome, DeliveryAttempt, EventStatus, LoggedEvent, PageRateLimit
from events.policy import TOO_OLD_REASON
from events.transports import CallResult
from graph_api.client import GraphClient
from tenants import services as tenant_services
from tenants.models import ConnectedPage, PageStatus, Tenant, Transport
from tests.events.factories import LoggedEventFactory
from tests.graph_stub import sent_form, sent_json
from tests.tenants.factories import ConnectedPageFactory, TenantFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("runtime_redis", "no_deferred_event_reads"),
]

BASE = "http://127.0.0.1:9"  # config.settings_test's GRAPH_API_URL: only `responses` answers it
CAPI_URL = re.compile(rf"{re.escape(BASE)}/v25\.0/\d+/events")
BATCH_URL = f"{BASE}/v20.0/"


def graph_error(
    code: int, message: str = "Boom", subcode: int | None = None, status: int = 400, **extra: Any
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "TRACE1",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"status": status, "json": {"error": {**error, **extra}}}


@pytest.fixture
def pa_page(tenant: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(tenant=tenant, transport=Transport.PAGE_ACTIVITIES)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def deliver(page: ConnectedPage) -> delivery.DeliveryReport:
    return delivery.page_deliver(tenant_id=page.tenant_id, page_id=page.pk)


def rows(*events: LoggedEvent) -> list[LoggedEvent]:
    return [LoggedEvent.objects.get(pk=e.pk) for e in events]


def sent_data(call: responses.Call) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = sent_json(call.request)["data"]
    return data


# --- Delivering ---------------------------------------------------------------------------------


def test_capi_events_of_a_page_go_in_one_call_and_settle_together(
    capi_page: ConnectedPage,
    mocked: responses.RequestsMock,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    events = LoggedEventFactory.create_batch(3, page=capi_page)
    mocked.post(CAPI_URL, json={"events_received": 3, "messages": [], "fbtrace_id": "T"})

    report = deliver(capi_page)

    assert (report.claimed, report.delivered, report.calls) == (3, 3, 1)
    assert len(mocked.calls) == 1
    assert [item["event_id"] for item in sent_data(mocked.calls[0])] == [
        f"pagepulse-{e.pk}" for e in events
    ]
    for row in rows(*events):
        assert (row.status, row.attempts, row.claim_token, row.last_error) == (
            EventStatus.DELIVERED,
            1,
            "",
            "",
        )
        assert row.delivered_at is not None
    (attempt,) = DeliveryAttempt.objects.all()
    assert sorted(attempt.events.values_list("pk", flat=True)) == [e.pk for e in events]
    assert (attempt.outcome, attempt.http_status, attempt.fbtrace_id) == ("delivered", 200, "T")
    assert attempt.request["path"] == f"v25.0/{capi_page.dataset_id}/events"
    assert "test-page-token" not in json.dumps(attempt.request)


def test_one_run_per_page_at_a_time_a_second_task_ends_at_once(
    capi_page: ConnectedPage, mocked: responses.RequestsMock, settings: Any
) -> None:
    # A Page's backlog must hold one worker process, not every one: the others' Pages wait.
    LoggedEventFactory.create_batch(2, page=capi_page)
    mocked.post(CAPI_URL, json={"events_received": 2})
    running = ratelimit.run_lock(capi_page.pk, seconds=settings.EVENTS_LEASE_SECONDS)
    assert running.acquire()

    second = deliver(capi_page)

    assert (second.claimed, len(mocked.calls)) == (0, 0)
    running.release()
    assert deliver(capi_page).delivered == 2


def test_rows_logged_while_a_run_sends_are_taken_by_that_run(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    LoggedEventFactory.create(page=capi_page)
    late: list[LoggedEvent] = []

    def answer(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        if not late:  # logged mid-run: its own task finds the run's lock and ends
            late.append(LoggedEventFactory.create(page=capi_page))
            assert deliver(capi_page).claimed == 0
        return 200, {}, json.dumps({"events_received": 1})

    mocked.add_callback(responses.POST, CAPI_URL, callback=answer)

    assert deliver(capi_page).delivered == 2


def test_rows_logged_after_a_runs_last_claim_are_asked_for_when_it_ends(
    capi_page: ConnectedPage,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(tasks.deliver_page, "apply_async", lambda args: sent.append(args))
    real_claim = delivery.claim
    late: list[LoggedEvent] = []

    def claim_then_log(page: ConnectedPage, **kwargs: Any) -> Any:
        batch = real_claim(page, **kwargs)
        if not batch.events and not late:  # the run's last, empty claim; then a commit
            late.append(LoggedEventFactory.create(page=capi_page))
        return batch

    monkeypatch.setattr(delivery, "claim", claim_then_log)
    with django_capture_on_commit_callbacks(execute=True):
        report = deliver(capi_page)

    assert report.claimed == 0
    assert late
    assert sent == [(capi_page.tenant_id, capi_page.pk)]  # not left for the sweep


def test_a_second_run_sends_nothing_twice(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    LoggedEventFactory.create_batch(2, page=capi_page)
    mocked.post(CAPI_URL, json={"events_received": 2})

    deliver(capi_page)
    again = deliver(capi_page)

    assert (again.claimed, len(mocked.calls)) == (0, 1)


def test_page_activities_users_share_one_batch_and_each_operation_settles_its_events(
    pa_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    first = LoggedEventFactory.create_batch(2, page=pa_page, psid="111")
    refused = LoggedEventFactory.create(page=pa_page, psid="222", params={"fb_content_id": "x"})
    third = LoggedEventFactory.create(page=pa_page, psid="333")
    mocked.post(
        BATCH_URL,
        json=[
            {"code": 200, "body": '{"success": true}'},
            {
                "code": 400,
                "body": json.dumps(
                    {"error": {"code": 100, "message": "Invalid parameter", "fbtrace_id": "X"}}
                ),
            },
            {"code": 200, "body": '{"success": true}'},
        ],
    )

    deliver(pa_page)

    (call,) = mocked.calls
    operations = json.loads(sent_form(call.request)["batch"])
    assert [dict(parse_qsl(op["body"]))["page_scoped_user_id"] for op in operations] == [
        "111",
        "222",
        "333",
    ]
    assert (
        json.loads(dict(parse_qsl(operations[0]["body"]))["custom_events"])
        == [{"_eventName": "fb_mobile_purchase", "_valueToSum": 57.23, "fb_currency": "USD"}] * 2
    )
    assert [r.status for r in rows(*first, third)] == [EventStatus.DELIVERED] * 3
    bad = LoggedEvent.objects.get(pk=refused.pk)
    assert bad.status == EventStatus.FAILED
    assert "(#100) Invalid parameter [fbtrace_id=X]" in bad.last_error
    assert DeliveryAttempt.objects.count() == 3
    assert list(bad.delivery_attempts.values_list("outcome", "graph_code")) == [("invalid", 100)]


def test_one_user_goes_alone_as_the_guides_json_request(
    pa_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    event = LoggedEventFactory.create(page=pa_page, event="lead_submitted", value=None, currency="")
    mocked.post(f"{BASE}/v20.0/{settings.FACEBOOK_APP_ID}/page_activities", json={"success": True})

    deliver(pa_page)

    assert sent_json(mocked.calls[0].request) == {
        "custom_events": [{"_eventName": "lead_submitted"}],
        "advertiser_tracking_enabled": 1,
        "application_tracking_enabled": 1,
        "page_id": int(pa_page.page_id),
        "page_scoped_user_id": int(event.psid),
        "logging_source": "messenger_bot",
        "logging_target": "page",
    }
    assert rows(event)[0].status == EventStatus.DELIVERED


@override_settings(EVENTS_RATE_MIN_CALLS_PER_SECOND=100)
def test_more_than_50_users_go_out_in_batches_of_50(
    pa_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    for n in range(60):
        LoggedEventFactory.create(page=pa_page, psid=str(5000 + n))

    def answer(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        count = len(json.loads(sent_form(request)["batch"]))
        return 200, {}, json.dumps([{"code": 200, "body": '{"success": true}'}] * count)

    mocked.add_callback(responses.POST, BATCH_URL, callback=answer)

    report = deliver(pa_page)

    sizes = [len(json.loads(sent_form(c.request)["batch"])) for c in mocked.calls]
    assert sizes == [50, 10]
    assert report.delivered == 60


def _statements_to_deliver(page: ConnectedPage, users: int, mocked: responses.RequestsMock) -> int:
    for n in range(users):
        LoggedEventFactory.create(page=page, psid=str(7000 + users * 100 + n))

    def answer(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        count = len(json.loads(sent_form(request)["batch"]))
        return 200, {}, json.dumps([{"code": 200, "body": '{"success": true}'}] * count)

    mocked.add_callback(responses.POST, BATCH_URL, callback=answer)
    with CaptureQueriesContext(connection) as queries:
        report = deliver(page)
    assert report.delivered == users
    return len(queries.captured_queries)


def test_a_graph_batch_settles_in_the_same_statements_whatever_its_size(
    pa_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    # One HTTP request of 50 operations is 50 calls: their attempts, their links to the events
    # and the events' new status are written in a few statements, not a few per call (issue 14:
    # a batch of 50 users used to cost about 150 statements).
    two = _statements_to_deliver(pa_page, 2, mocked)
    fifty = _statements_to_deliver(pa_page, 50, mocked)

    assert fifty == two
    assert DeliveryAttempt.objects.count() == 52
    assert all(a.events.count() == 1 for a in DeliveryAttempt.objects.all())


def test_a_requests_attempts_and_their_links_are_two_statements_of_few_parameters(
    capi_page: ConnectedPage,
) -> None:
    # The attempts' stored requests go as one JSON document and the links as two arrays of
    # ids: psycopg escapes a jsonb[] array's quotes in Python, a tenth of a worker's CPU.
    events = LoggedEventFactory.create_batch(4, page=capi_page)
    results = [
        CallResult(
            events=events[n * 2 : n * 2 + 2],
            transport=Transport.CONVERSIONS_API,
            request={"method": "POST", "body": {"data": [{"event_name": f'say "{n}"'}]}},
            http_status=200,
            response={"events_received": 2},
        )
        for n in range(2)
    ]

    with CaptureQueriesContext(connection) as statements:
        attempts = delivery.record_attempts(capi_page, results)

    assert len(statements) == 2
    if connection.vendor == "postgresql":
        assert "jsonb_array_elements" in statements[0]["sql"]
        assert statements[1]["sql"].startswith(
            "INSERT INTO events_deliveryattempt_events (deliveryattempt_id, loggedevent_id) "
            "SELECT * FROM unnest("
        )
    assert [sorted(e.pk for e in a.events.all()) for a in attempts] == [
        sorted(e.pk for e in result.events) for result in results
    ]
    assert [a.request for a in DeliveryAttempt.objects.order_by("pk")] == [
        r.request for r in results
    ]


def test_a_refused_capi_call_is_split_until_only_the_bad_event_fails(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    events = LoggedEventFactory.create_batch(5, page=capi_page)
    bad_id = f"pagepulse-{events[3].pk}"

    def answer(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        data = sent_json(request)["data"]
        if any(item["event_id"] == bad_id for item in data):
            body = {
                "error": {
                    "message": "Invalid parameter",
                    "code": 100,
                    "error_user_title": "Invalid Value",
                    "error_user_msg": "custom_data.value must be a number.",
                    "fbtrace_id": "BAD",
                }
            }
            return 400, {}, json.dumps(body)
        return 200, {}, json.dumps({"events_received": len(data)})

    mocked.add_callback(responses.POST, CAPI_URL, callback=answer)

    report = deliver(capi_page)

    statuses = [r.status for r in rows(*events)]
    assert statuses == [EventStatus.DELIVERED] * 3 + [EventStatus.FAILED, EventStatus.DELIVERED]
    bad = rows(events[3])[0]
    assert "Invalid Value: custom_data.value must be a number." in bad.last_error
    assert (bad.attempts, report.delivered, report.failed) == (1, 4, 1)
    # 5 -> [2, 3] -> [3] -> [1, 2] -> [2] -> [1, 1]: every event is sent once successfully.
    delivered_sends = [
        len(sent_data(c))
        for c in mocked.calls
        if isinstance(c.response, requests.Response) and c.response.status_code == 200
    ]
    assert sum(delivered_sends) == 4


def test_an_event_older_than_7_days_is_not_sent_and_says_why(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    old = LoggedEventFactory.create(page=capi_page, event_time=timezone.now() - timedelta(days=8))
    fresh = LoggedEventFactory.create(page=capi_page)
    mocked.post(CAPI_URL, json={"events_received": 1})

    deliver(capi_page)

    assert [item["event_id"] for item in sent_data(mocked.calls[0])] == [f"pagepulse-{fresh.pk}"]
    assert [(r.status, r.last_error, r.attempts) for r in rows(old)] == [
        (EventStatus.NOT_SENT, TOO_OLD_REASON, 0)
    ]


def test_a_transient_error_retries_with_back_off(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    event = LoggedEventFactory.create(page=capi_page)
    mocked.post(CAPI_URL, **graph_error(2, "Service temporarily unavailable", status=500))
    before = timezone.now()

    deliver(capi_page)

    (row,) = rows(event)
    assert (row.status, row.attempts) == (EventStatus.RETRYING, 1)
    assert row.first_failed_at is not None
    assert before <= row.next_attempt_at <= timezone.now() + timedelta(seconds=30)
    assert "Temporary failure, attempt 1" in row.last_error


def test_after_the_retry_window_an_event_is_dead(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    event = LoggedEventFactory.create(
        page=capi_page,
        status=EventStatus.RETRYING,
        attempts=12,
        first_failed_at=timezone.now() - timedelta(hours=25),
    )
    mocked.post(CAPI_URL, **graph_error(1, "An unknown error occurred", status=500))

    deliver(capi_page)

    (row,) = rows(event)
    assert (row.status, row.attempts) == (EventStatus.DEAD, 13)
    assert row.last_error.startswith("Gave up after 13 attempts over 24 hours")


def test_a_worker_whose_lease_ran_out_never_sends_what_another_worker_took(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    # DESIGN.md §7: a duplicate only comes from a worker that dies after Facebook's answer. A
    # live but slow worker whose lease ran out (the sweep let another worker claim its events)
    # must not send them too: right before a call it renews its lease, and leaves out what is no
    # longer its own.
    events = LoggedEventFactory.create_batch(2, page=capi_page)
    slow = delivery.claim(capi_page, limit=10)
    later = timezone.now() + timedelta(seconds=settings.EVENTS_LEASE_SECONDS + 1)
    other = delivery.claim(capi_page, limit=10, now=later)
    assert [e.pk for e in other.events] == [e.pk for e in events]
    mocked.post(f"{BASE}/v25.0/{capi_page.dataset_id}/events", json={"events_received": 2})
    graph = GraphClient.from_settings()

    late = delivery.DeliveryReport()
    delivery._deliver_claim(capi_page, slow, graph, late)
    assert (late.calls, len(mocked.calls)) == (0, 0)

    on_time = delivery.DeliveryReport()
    delivery._deliver_claim(capi_page, other, graph, on_time)
    assert (on_time.calls, on_time.delivered, len(mocked.calls)) == (1, 2, 1)


def test_sending_renews_the_lease_of_the_calls_events(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    event = LoggedEventFactory.create(page=capi_page)
    batch = delivery.claim(capi_page, limit=10)
    # Its lease almost over (earlier calls of the claim took long).
    LoggedEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    batch.leased_at -= settings.EVENTS_LEASE_SECONDS
    renewed: dict[str, Any] = {}

    def answer(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        renewed["lease_ends"] = LoggedEvent.objects.get(pk=event.pk).next_attempt_at
        return (200, {}, json.dumps({"events_received": 1}))

    mocked.add_callback(responses.POST, f"{BASE}/v25.0/{capi_page.dataset_id}/events", answer)
    before = timezone.now()
    delivery._deliver_claim(
        capi_page, batch, GraphClient.from_settings(), delivery.DeliveryReport()
    )

    lease = timedelta(seconds=settings.EVENTS_LEASE_SECONDS)
    assert renewed["lease_ends"] >= before + lease
    assert rows(event)[0].status == EventStatus.DELIVERED


def test_a_fresh_claims_call_goes_out_without_rewriting_its_events(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    # Right after the claim its lease has nearly all its time left: the worker reads which
    # events it still holds, and neither locks nor rewrites them before the call.
    events = LoggedEventFactory.create_batch(3, page=capi_page)
    batch = delivery.claim(capi_page, limit=10)
    lease_ends = {row.pk: row.next_attempt_at for row in rows(*events)}
    seen: dict[str, Any] = {}

    def answer(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        seen["statements"] = [q["sql"] for q in statements.captured_queries]
        seen["leases"] = {row.pk: row.next_attempt_at for row in rows(*events)}
        return (200, {}, json.dumps({"events_received": 3}))

    mocked.add_callback(responses.POST, f"{BASE}/v25.0/{capi_page.dataset_id}/events", answer)
    with CaptureQueriesContext(connection) as statements:
        delivery._deliver_claim(
            capi_page, batch, GraphClient.from_settings(), delivery.DeliveryReport()
        )

    assert not [sql for sql in seen["statements"] if sql.startswith(("UPDATE", "SAVEPOINT"))]
    assert not [sql for sql in seen["statements"] if "FOR UPDATE" in sql]
    assert seen["leases"] == lease_ends
    assert {row.status for row in rows(*events)} == {EventStatus.DELIVERED}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-App-Usage", {"call_count": 95, "total_cputime": 20, "total_time": 40}),
        ("X-Page-Usage", {"call_count": 95, "total_cputime": 20, "total_time": 40}),
        (
            "X-Business-Use-Case-Usage",
            {
                "PAGE": [
                    {
                        "type": "pages",
                        "call_count": 95,
                        "total_cputime": 20,
                        "total_time": 40,
                        "estimated_time_to_regain_access": 0,
                    }
                ]
            },
        ),
    ],
)
def test_usage_headers_near_the_limit_slow_the_page_down(
    capi_page: ConnectedPage, mocked: responses.RequestsMock, header: str, value: dict[str, Any]
) -> None:
    # The usage headers of the reference (§4.5): an answer at 95% slows the Page to a quarter
    # of its rate before Facebook throttles it; an answer back under 90% lifts it.
    value = {capi_page.page_id: value["PAGE"]} if "PAGE" in value else value
    url = f"{BASE}/v25.0/{capi_page.dataset_id}/events"
    mocked.post(url, json={"events_received": 1}, headers={header: json.dumps(value)})
    slow = ratelimit.redis_key(f"{ratelimit.KEY_PREFIX}:slow:{capi_page.pk}")
    event = LoggedEventFactory.create(page=capi_page)

    deliver(capi_page)

    assert rows(event)[0].status == EventStatus.DELIVERED
    assert ratelimit.redis_client().get(slow) == b"0.25"

    mocked.replace(responses.POST, url, json={"events_received": 1}, headers={header: "{}"})
    LoggedEventFactory.create(page=capi_page)
    deliver(capi_page)

    assert ratelimit.redis_client().get(slow) is None


def test_a_throttled_page_waits_without_using_attempts_and_does_not_hold_up_another(
    tenant: Tenant, capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    other_page = ConnectedPageFactory.create(
        tenant=TenantFactory.create(), transport=Transport.CONVERSIONS_API
    )
    throttled = LoggedEventFactory.create_batch(2, page=capi_page)
    other = LoggedEventFactory.create(page=other_page)
    # Throttled as the reference says Facebook does it (§4.5): the Page's usage header at 100%,
    # access back in 2 minutes.
    usage = {
        capi_page.page_id: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 30,
                "total_time": 40,
                "estimated_time_to_regain_access": 2,
            }
        ]
    }
    mocked.post(
        f"{BASE}/v25.0/{capi_page.dataset_id}/events",
        **graph_error(80001, "There have been too many calls to this Page account"),
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    mocked.post(f"{BASE}/v25.0/{other_page.dataset_id}/events", json={"events_received": 1})

    before = timezone.now()
    deliver(capi_page)
    after = timezone.now()
    deliver(other_page)
    later = LoggedEventFactory.create(page=capi_page)
    paused_run = deliver(capi_page)

    regained = timedelta(minutes=2)
    for row in rows(*throttled):
        assert (row.status, row.attempts) == (EventStatus.RETRYING, 0)
        assert before + regained <= row.next_attempt_at <= after + regained
    # The Page's pause ends when Facebook said (on Redis's clock: the machine's).
    at_ms = int(before.timestamp() * 1000)
    pause_ends = before + timedelta(seconds=ratelimit.paused_for(capi_page.pk, now_ms=at_ms))
    assert before + regained <= pause_ends <= after + regained + timedelta(milliseconds=1)
    assert rows(other)[0].status == EventStatus.DELIVERED
    # While paused, a run sends nothing and moves the Page's newer events past the pause.
    assert (paused_run.calls, paused_run.postponed) == (0, 1)
    assert rows(later)[0].next_attempt_at >= before + regained
    assert len(mocked.calls) == 2
    assert list(DeliveryAttempt.objects.values_list("outcome", flat=True).order_by("pk")) == [
        AttemptOutcome.RATE_LIMITED,
        AttemptOutcome.DELIVERED,
    ]


def test_a_dead_token_blocks_the_pages_events_and_marks_it_needs_reauth(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    sent, waiting = LoggedEventFactory.create_batch(2, page=capi_page)
    future = LoggedEventFactory.create(
        page=capi_page,
        status=EventStatus.RETRYING,
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )
    mocked.post(CAPI_URL, **graph_error(190, "Error validating access token", subcode=463))

    deliver(capi_page)

    capi_page.refresh_from_db()
    assert capi_page.status == PageStatus.NEEDS_REAUTH
    for row in rows(sent, waiting):
        assert row.status == EventStatus.BLOCKED
        assert "Reconnect the Page with Facebook" in row.last_error
    assert rows(future)[0].status == EventStatus.RETRYING  # not due yet: blocked when it is


def test_blocked_events_flow_again_once_the_page_is_active(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    events = LoggedEventFactory.create_batch(2, page=capi_page)
    mocked.post(CAPI_URL, **graph_error(190, "Error validating access token"))
    deliver(capi_page)
    assert {r.status for r in rows(*events)} == {EventStatus.BLOCKED}
    # Still needs re-authorization: the sweep leaves them alone.
    assert delivery.sweep_due().released == 0

    capi_page.__class__.objects.filter(pk=capi_page.pk).update(
        status=PageStatus.ACTIVE, last_error=""
    )  # what page_connect does after the person logs in with Facebook again
    sweep = delivery.sweep_due()
    mocked.replace(responses.POST, CAPI_URL, json={"events_received": 2})
    report = deliver(capi_page)

    assert (sweep.released, sweep.enqueued) == (2, 1)
    assert report.delivered == 2
    assert {(r.status, r.last_error) for r in rows(*events)} == {(EventStatus.DELIVERED, "")}


def test_the_delivery_run_releases_blocked_events_of_an_active_page_itself(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    event = LoggedEventFactory.create(
        page=capi_page, status=EventStatus.BLOCKED, last_error="token"
    )
    mocked.post(CAPI_URL, json={"events_received": 1})

    report = deliver(capi_page)

    assert (report.released, report.delivered) == (1, 1)
    assert rows(event)[0].status == EventStatus.DELIVERED


def test_a_missing_permission_blocks_and_marks_the_page(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    event = LoggedEventFactory.create(page=capi_page)
    mocked.post(CAPI_URL, **graph_error(200, "Requires page_events permission", status=403))

    deliver(capi_page)

    capi_page.refresh_from_db()
    assert capi_page.status == PageStatus.MISSING_PERMISSION
    assert rows(event)[0].status == EventStatus.BLOCKED


def test_a_page_of_a_region_without_its_transport_holds_its_events_blocked(
    mocked: responses.RequestsMock,
) -> None:
    page = ConnectedPageFactory.create(
        tenant=TenantFactory.create(country="FR"), transport=Transport.PAGE_ACTIVITIES
    )
    event = LoggedEventFactory.create(page=page)

    report = deliver(page)

    assert (report.blocked, len(mocked.calls)) == (1, 0)
    (row,) = rows(event)
    assert row.status == EventStatus.BLOCKED
    assert "not available to businesses in Europe or Japan" in row.last_error


def test_no_tokens_left_postpones_without_using_attempts(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    PageRateLimit.objects.create(tenant=capi_page.tenant, page=capi_page, calls_per_second=0.5)
    ratelimit.acquire(capi_page.pk, 50, rate=0.5)  # empties the bucket
    event = LoggedEventFactory.create(page=capi_page)

    report = deliver(capi_page)

    (row,) = rows(event)
    assert (report.calls, report.postponed, len(mocked.calls)) == (0, 1, 0)
    assert (row.status, row.attempts, row.claim_token) == (EventStatus.PENDING, 0, "")
    assert row.next_attempt_at > timezone.now()


def test_test_events_are_not_claimed(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    LoggedEventFactory.create(page=capi_page, test=True)

    assert deliver(capi_page).claimed == 0
    assert delivery.sweep_due().enqueued == 0


# --- Claims and leases --------------------------------------------------------------------------


def test_a_claim_takes_due_rows_once(capi_page: ConnectedPage) -> None:
    due = LoggedEventFactory.create_batch(2, page=capi_page)
    LoggedEventFactory.create(page=capi_page, next_attempt_at=timezone.now() + timedelta(minutes=5))
    LoggedEventFactory.create(page=capi_page, status=EventStatus.DELIVERED)

    first = delivery.claim(capi_page, limit=10)
    second = delivery.claim(capi_page, limit=10)

    assert [e.pk for e in first.events] == [e.pk for e in due]
    assert {e.status for e in first.events} == {EventStatus.SENDING}
    assert second.events == []


def test_an_expired_lease_is_taken_back_and_the_old_worker_cannot_settle(
    capi_page: ConnectedPage,
) -> None:
    event = LoggedEventFactory.create(page=capi_page)
    stale = delivery.claim(capi_page, limit=10)
    later = timezone.now() + timedelta(seconds=61)

    sweep = delivery.sweep_due(now=later)
    fresh = delivery.claim(capi_page, limit=10, now=later)
    result = CallResult(events=stale.events, transport="conversions_api", request={})
    delivery.settle(capi_page, stale.token, result, delivery.DeliveryReport())

    assert (sweep.taken_back, sweep.enqueued) == (1, 1)
    assert [e.pk for e in fresh.events] == [event.pk]
    (row,) = rows(event)
    assert (row.status, row.claim_token) == (EventStatus.SENDING, fresh.token)


def test_the_sweep_enqueues_each_page_with_due_events(
    capi_page: ConnectedPage, pa_page: ConnectedPage
) -> None:
    LoggedEventFactory.create_batch(2, page=capi_page)
    LoggedEventFactory.create(page=pa_page)
    LoggedEventFactory.create(page=ConnectedPageFactory.create(), status=EventStatus.DELIVERED)

    assert delivery.sweep_due().enqueued == 2


def test_countdowns_never_exceed_the_celery_maximum(
    capi_page: ConnectedPage,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    sent = []
    monkeypatch.setattr(
        tasks.deliver_page, "apply_async", lambda args, countdown=0: sent.append((args, countdown))
    )
    with django_capture_on_commit_callbacks(execute=True):
        delivery.enqueue_delivery(
            tenant_id=capi_page.tenant_id, page_id=capi_page.pk, countdown=3600
        )

    assert sent == [((capi_page.tenant_id, capi_page.pk), 300)]


def test_the_task_delivers_a_page_and_ignores_a_missing_one(
    capi_page: ConnectedPage, mocked: responses.RequestsMock
) -> None:
    LoggedEventFactory.create(page=capi_page)
    mocked.post(CAPI_URL, json={"events_received": 1})

    assert tasks.deliver_page(capi_page.tenant_id, capi_page.pk) == 1
    assert tasks.deliver_page(capi_page.tenant_id, 999_999) == 0
    assert (
        tasks.deliver_page(TenantFactory.create().pk, capi_page.pk) == 0
    )  # not that tenant's page


@pytest.mark.parametrize(
    ("everywhere", "workspace", "taken"),
    [(False, False, False), (True, False, True), (False, True, True)],
)
def test_a_claim_takes_test_events_only_where_they_go_to_facebook(
    capi_page: ConnectedPage,
    settings: Any,
    everywhere: bool,
    workspace: bool,
    taken: bool,
) -> None:
    settings.EVENTS_DELIVER_TEST_EVENTS = everywhere
    capi_page.tenant.deliver_test_events = workspace
    capi_page.tenant.save(update_fields=["deliver_test_events"])
    test_event = LoggedEventFactory.create(page=capi_page, test=True)
    event = LoggedEventFactory.create(page=capi_page)

    claimed = [e.pk for e in delivery.claim(capi_page, limit=10).events]

    assert claimed == ([test_event.pk, event.pk] if taken else [event.pk])


def claim_while(other_worker: Callable[[], object], page: ConnectedPage) -> delivery._Claim:
    """Claim for ``page`` while another worker's transaction, which ran ``other_worker``, is
    still open in a thread of its own (holding whatever it locked)."""
    import threading

    from django.db import connections

    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            other_worker()
            locked.set()
            release.wait(timeout=10)
        connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(timeout=10)
    try:
        return delivery.claim(page, limit=10)
    finally:
        release.set()
        thread.join(timeout=10)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not connection.features.has_select_for_update_skip_locked,
    reason="SKIP LOCKED needs PostgreSQL (DATABASE_URL=postgres://...)",
)
def test_concurrent_claims_skip_rows_another_worker_has_locked(capi_page: ConnectedPage) -> None:
    events = LoggedEventFactory.create_batch(4, page=capi_page)

    claimed = claim_while(
        lambda: list(
            LoggedEvent.objects.select_for_update()
            .filter(pk__in=[events[0].pk, events[1].pk])
            .values_list("pk", flat=True)
        ),
        capi_page,
    )

    assert [e.pk for e in claimed.events] == [events[2].pk, events[3].pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not connection.features.has_select_for_update_skip_locked,
    reason="SKIP LOCKED needs PostgreSQL (DATABASE_URL=postgres://...)",
)
def test_a_claim_for_one_page_does_not_skip_another_pages_rows_of_the_workspace(
    capi_page: ConnectedPage,
) -> None:
    # Another worker is claiming for another Page of the same workspace (its transaction
    # holds that Page's rows); the claim locks only events, not the workspace's row they join
    # to pick test events, or this claim would skip every row of its own Page and end its run.
    other_page = ConnectedPageFactory.create(
        tenant=capi_page.tenant, transport=Transport.CONVERSIONS_API
    )
    LoggedEventFactory.create_batch(2, page=other_page)
    events = LoggedEventFactory.create_batch(3, page=capi_page)

    claimed = claim_while(lambda: delivery.claim(other_page, limit=10), capi_page)

    assert [e.pk for e in claimed.events] == [e.pk for e in events]


def test_the_sweep_enqueues_a_page_whose_queued_mark_outlived_its_message(
    capi_page: ConnectedPage,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # The mark says a task waits for the Page, but the broker lost that message: an ordinary
    # enqueue trusts the mark and sends nothing; the sweep sends one anyway.
    sent = []
    monkeypatch.setattr(tasks.deliver_page, "apply_async", lambda args: sent.append(args))
    LoggedEventFactory.create(page=capi_page)
    assert ratelimit.mark_queued(capi_page.pk, seconds=60)

    with django_capture_on_commit_callbacks(execute=True):
        delivery.enqueue_delivery(tenant_id=capi_page.tenant_id, page_id=capi_page.pk)
    assert sent == []

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.sweep_due().enqueued == 1
    assert sent == [(capi_page.tenant_id, capi_page.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_broker_failure_at_commit_is_logged_not_raised(
    capi_page: ConnectedPage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broker_down(args: object) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(tasks.deliver_page, "apply_async", broker_down)
    with transaction.atomic():
        event = LoggedEventFactory.create(page=capi_page)
        delivery.enqueue_delivery(tenant_id=capi_page.tenant_id, page_id=capi_page.pk)

    assert LoggedEvent.objects.get(pk=event.pk).status == EventStatus.PENDING  # the sweep's job
    (record,) = [r for r in caplog.records if r.name == "django.db.backends.base"]
    assert "_send" in record.getMessage()


@override_settings(EVENTS_RETRY_WINDOW_SECONDS=3600)
def test_an_event_whose_every_worker_dies_ends_dead_after_the_retry_window(
    capi_page: ConnectedPage,
) -> None:
    event = LoggedEventFactory.create(page=capi_page)
    start = timezone.now()

    # Its worker dies mid-call: the lease runs out and the sweep takes it back, once, twice...
    delivery.claim(capi_page, limit=10, now=start)
    first = start + timedelta(seconds=61)
    assert (delivery.sweep_due(now=first).taken_back, rows(event)[0].first_failed_at) == (1, first)

    delivery.claim(capi_page, limit=10, now=first)
    still_inside = first + timedelta(minutes=59)
    sweep = delivery.sweep_due(now=still_inside)
    assert (sweep.taken_back, sweep.dead) == (1, 0)
    assert rows(event)[0].first_failed_at == first  # the window runs from the first failure

    # ... until a lease runs out past the window: dead, with the reason, and replayable.
    delivery.claim(capi_page, limit=10, now=still_inside)
    sweep = delivery.sweep_due(now=first + timedelta(hours=1, minutes=1))
    (row,) = rows(event)
    assert (sweep.taken_back, sweep.dead) == (0, 1)
    assert (row.status, row.claim_token, row.last_error) == (
        EventStatus.DEAD,
        "",
        delivery.LEASE_DEAD_REASON,
    )


@pytest.mark.parametrize("code", [190, 10])
def test_a_refused_app_token_on_the_batch_itself_never_marks_the_page(
    pa_page: ConnectedPage, mocked: responses.RequestsMock, code: int
) -> None:
    # The batch's top-level token is the app's: Facebook refusing it says nothing about the
    # Page's own token, so the Page stays active and its events are retried.
    events = [LoggedEventFactory.create(page=pa_page, psid=psid) for psid in ("111", "222")]
    mocked.post(BATCH_URL, **graph_error(code, "Invalid OAuth access token"))

    deliver(pa_page)

    pa_page.refresh_from_db()
    assert pa_page.status == PageStatus.ACTIVE
    for row in rows(*events):
        assert row.status == EventStatus.RETRYING
        assert "Check FACEBOOK_APP_ID and FACEBOOK_APP_SECRET" in row.last_error


def test_a_page_found_healthy_again_sends_its_held_events_at_once(
    capi_page: ConnectedPage,
    mocked: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # tenants announces page_active; events releases and enqueues then, not at the next sweep.
    sent = []
    monkeypatch.setattr(tasks.deliver_page, "apply_async", lambda args: sent.append(args))
    ConnectedPage.objects.filter(pk=capi_page.pk).update(status=PageStatus.NEEDS_REAUTH)
    capi_page.refresh_from_db()
    held = LoggedEventFactory.create(page=capi_page, status=EventStatus.BLOCKED, last_error="Token")
    mocked.get(
        f"{BASE}/v25.0/debug_token",
        json={"data": {"is_valid": True, "type": "PAGE", "scopes": ["page_events"]}},
    )

    with django_capture_on_commit_callbacks(execute=True):
        page = tenant_services.page_check_token(page=capi_page)

    assert page.status == PageStatus.ACTIVE
    assert (rows(held)[0].status, rows(held)[0].last_error) == (EventStatus.PENDING, "")
    assert sent == [(capi_page.tenant_id, capi_page.pk)]
    # An active Page checked again announces nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        tenant_services.page_check_token(page=page)
    assert sent == [(capi_page.tenant_id, capi_page.pk)]
