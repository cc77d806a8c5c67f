"""The webhook's intake (messenger/intake.py): the WSGI fast path answers like Django's view, a 200
means a stored row, one drain is queued for many deliveries, and the drain claims, leases and
processes new deliveries so none is stranded or taken twice."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
import redis
from django.core.signals import request_finished, request_started
from django.db import OperationalError, close_old_connections, connection
from django.test import Client, override_settings
from django.utils import timezone

from config.wsgi import application
from events import ratelimit
from messenger import intake, runtime
from messenger.models import WebhookDelivery
from tenants.models import ConnectedPage
from tests.messenger.runtime_support import (
    WEBHOOK_URL,
    InlineWorker,
    encode,
    entry,
    envelope,
    sign,
    text,
)
from tests.sandbox_fixtures import ADA_PAGE as PAGE

pytestmark = pytest.mark.django_db

DRAIN = ("flows.tasks.drain_deliveries", (), None)


def body(n: int = 0) -> bytes:
    return encode(envelope(entry(PAGE, text(PAGE, psid=f"61000000000{n:05d}", body=f"hi {n}"))))


def wsgi(
    method: str, path: str, data: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request through config.wsgi.application, as the web server makes it."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_HOST": "testserver",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{key}"] = value
    if "QUERY_STRING" not in environ and "?" in path:
        environ["PATH_INFO"], environ["QUERY_STRING"] = path.split("?", 1)
    setup_testing_defaults(environ)
    started: list[Any] = []
    # As Django's test client does: the test's transaction keeps its connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = application(environ, lambda status, hs, exc=None: started.append((status, hs)))
        try:
            content = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    status, header_list = started[0]
    return int(status.split()[0]), dict(header_list), content


def signed(data: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign(data)}


@pytest.fixture
def nudges(worker: InlineWorker) -> InlineWorker:
    """The inline worker: tasks recorded, not run, and no drain queued in Redis."""
    return worker


# --- The fast path --------------------------------------------------------------------------


def test_the_fast_path_stores_the_delivery_before_it_answers_and_queues_one_drain(
    nudges: InlineWorker,
) -> None:
    data = body()
    status, headers, content = wsgi("POST", WEBHOOK_URL, data, signed(data))

    assert (status, content) == (200, b"EVENT_RECEIVED")
    assert headers["Content-Type"] == "text/plain"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert [bytes(d.body) for d in WebhookDelivery.objects.all()] == [data]
    assert nudges.queued == [DRAIN]


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "missing"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "wrong"),
        ({"X-Hub-Signature-256": sign(b"another body")}, "another body"),
    ],
)
def test_the_fast_path_answers_a_bad_signature_as_the_view_does(
    client: Client, nudges: InlineWorker, headers: dict[str, str], why: str
) -> None:
    data = body()
    status, answer_headers, content = wsgi("POST", WEBHOOK_URL, data, headers)
    view = client.post(WEBHOOK_URL, data=data, content_type="application/json", headers=headers)

    assert status == view.status_code == 403, why
    assert json.loads(content) == view.json()
    assert view.json()["error"]["code"] == "bad_signature"
    assert answer_headers["Content-Type"] == view["Content-Type"] == "application/json"
    assert WebhookDelivery.objects.count() == 0
    assert nudges.queued == []


def test_the_view_and_the_fast_path_give_the_same_200(client: Client, nudges: InlineWorker) -> None:
    data = body()
    view = client.post(
        WEBHOOK_URL, data=data, content_type="application/json", headers=signed(data)
    )
    status, _, content = wsgi("POST", WEBHOOK_URL, data, signed(data))

    assert (view.status_code, view.content) == (status, content) == (200, b"EVENT_RECEIVED")
    assert WebhookDelivery.objects.count() == 2
    assert nudges.queued == [DRAIN]  # the second found the first's drain still queued


@pytest.mark.parametrize(
    ("length", "data", "status", "code"),
    [
        ("", b"{}", 411, "length_required"),
        ("ten", b"{}", 411, "length_required"),
        ("-1", b"", 400, "bad_length"),
        ("40", b"{}", 400, "short_body"),
    ],
)
def test_a_body_without_a_true_length_is_refused_and_nothing_stored(
    nudges: InlineWorker, length: str, data: bytes, status: int, code: str
) -> None:
    answer, _, content = wsgi("POST", WEBHOOK_URL, data, {"Content-Length": length, **signed(data)})

    assert answer == status
    error = json.loads(content)["error"]
    assert error["code"] == code
    assert error["message"]
    assert WebhookDelivery.objects.count() == 0


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_upload_limit_is_413_and_not_read(nudges: InlineWorker) -> None:
    data = b"x" * 1001
    status, _, content = wsgi("POST", WEBHOOK_URL, data, signed(data))

    assert status == 413
    assert "at most 1000 bytes" in json.loads(content)["error"]["message"]
    assert WebhookDelivery.objects.count() == 0


def test_a_database_that_cannot_store_is_503_never_200(
    nudges: InlineWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(data: bytes) -> int:
        raise OperationalError("the server closed the connection")

    monkeypatch.setattr(intake, "delivery_store", refuse)
    data = body()
    status, _, content = wsgi("POST", WEBHOOK_URL, data, signed(data))

    assert status == 503
    assert json.loads(content)["error"]["code"] == "storage_unavailable"
    assert nudges.queued == []


def test_everything_else_goes_to_django(settings: Any) -> None:
    settings.MESSENGER_VERIFY_TOKEN = "verify-me"
    query = "hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=42"
    status, _, content = wsgi("GET", f"{WEBHOOK_URL}?{query}")
    assert (status, content) == (200, b"42")

    status, _, _ = wsgi("PUT", WEBHOOK_URL, b"{}")
    assert status == 405  # Django's require_http_methods, not the fast path
    status, _, _ = wsgi("POST", "/webhooks/messenger/elsewhere", b"{}")
    assert status == 404


# --- The nudge ------------------------------------------------------------------------------


def test_many_deliveries_queue_one_drain_until_it_starts(
    nudges: InlineWorker, ada_page: ConnectedPage
) -> None:
    for n in range(5):
        data = body(n)
        assert wsgi("POST", WEBHOOK_URL, data, signed(data))[0] == 200
    assert nudges.queued == [DRAIN]

    nudges.drain()  # the drain clears the nudge first, then takes all five
    assert WebhookDelivery.objects.filter(processed_at__isnull=True).count() == 0

    data = body(9)
    wsgi("POST", WEBHOOK_URL, data, signed(data))
    assert [call for call in nudges.queued if call == DRAIN] == [DRAIN]


def test_redis_down_still_stores_and_answers_and_the_sweep_queues_the_drain(
    nudges: InlineWorker, settings: Any
) -> None:
    up = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    data = body()
    status, _, _ = wsgi("POST", WEBHOOK_URL, data, signed(data))
    assert status == 200
    assert WebhookDelivery.objects.count() == 1
    assert nudges.queued == []

    settings.REDIS_URL = up
    with nudges.capture(execute=True):
        runtime.runtime_sweep()
    assert DRAIN in nudges.queued


def test_a_broker_that_refuses_the_drain_leaves_no_promise_behind(
    nudges: InlineWorker, monkeypatch: pytest.MonkeyPatch, runtime_redis: redis.Redis
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr("messenger.tasks.drain_deliveries.apply_async", refuse)
    intake.drain_nudge()

    assert runtime_redis.get(ratelimit.redis_key(intake.NUDGE_KEY)) is None


# --- The drain ------------------------------------------------------------------------------


def _stored(count: int) -> list[int]:
    return [intake.delivery_store(body(n)) for n in range(count)]


def test_a_claim_takes_the_oldest_deliveries_nobody_holds_once(ada_page: ConnectedPage) -> None:
    ids = _stored(5)
    held = timezone.now() + timedelta(seconds=30)
    WebhookDelivery.objects.filter(pk=ids[1]).update(attempts=1, claimed_until=held)  # a retry's
    WebhookDelivery.objects.filter(pk=ids[2]).update(processed_at=timezone.now())

    assert intake.deliveries_claim(limit=2) == [ids[0], ids[3]]
    assert intake.deliveries_claim(limit=10) == [ids[4]]
    assert intake.deliveries_claim(limit=10) == []


def test_a_lease_that_ran_out_is_claimed_again(ada_page: ConnectedPage, settings: Any) -> None:
    (pk,) = _stored(1)
    assert intake.deliveries_claim() == [pk]
    assert not intake.deliveries_waiting()

    later = timezone.now() + timedelta(seconds=settings.WEBHOOK_DRAIN_LEASE_SECONDS + 1)
    assert intake.deliveries_waiting(now=later)
    WebhookDelivery.objects.filter(pk=pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert intake.deliveries_claim() == [pk]


def test_a_retry_holds_its_delivery_until_its_countdown_and_a_lease_have_passed(
    nudges: InlineWorker,
    ada_page: ConnectedPage,
    runtime_redis: redis.Redis,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = encode(envelope(entry(PAGE, text(PAGE, psid="6100000000099999", body="hi"))))
    pk = intake.delivery_store(data)
    monkeypatch.setattr(runtime, "LOCK_WAIT_SECONDS", 0.01)
    # The person's conversation is busy: the run ends in a retry.
    with runtime.conversation_lock(ada_page, "6100000000099999"), nudges.capture(execute=True):
        report = runtime.delivery_process(delivery_id=pk)
    assert report.retry

    delivery = WebhookDelivery.objects.get(pk=pk)
    assert delivery.attempts == 1
    assert delivery.claimed_until is not None
    assert delivery.claimed_until > timezone.now() + timedelta(
        seconds=settings.WEBHOOK_DRAIN_LEASE_SECONDS
    )
    assert intake.deliveries_claim() == []  # the retry's task will run it, not a drain
    assert nudges.queued == [
        ("flows.tasks.process_delivery", (pk,), float(runtime.BUSY_RETRY_SECONDS))
    ]


def test_a_delivery_whose_every_run_died_is_given_up_with_the_reason(
    ada_page: ConnectedPage,
) -> None:
    (pk,) = _stored(1)
    WebhookDelivery.objects.filter(pk=pk).update(
        attempts=runtime.MAX_DELIVERY_ATTEMPTS, error="WorkerLostError"
    )

    runtime.delivery_process(delivery_id=pk)

    delivery = WebhookDelivery.objects.get(pk=pk)
    assert delivery.processed_at is not None
    assert delivery.attempts == runtime.MAX_DELIVERY_ATTEMPTS  # not run again
    assert "never finished" in delivery.error
    assert "WorkerLostError" in delivery.error


def test_a_full_batch_queues_the_next_drain_before_it_works(
    nudges: InlineWorker, ada_page: ConnectedPage
) -> None:
    _stored(5)
    with nudges.capture(execute=True):
        assert intake.deliveries_drain(limit=2) == 2
    assert nudges.queued == [DRAIN]
    nudges.drain()
    assert WebhookDelivery.objects.filter(processed_at__isnull=True).count() == 0


def test_a_drain_processes_what_it_claims(nudges: InlineWorker, ada_page: ConnectedPage) -> None:
    ids = _stored(3)
    with nudges.capture(execute=True):
        assert intake.deliveries_drain() == 3

    done = WebhookDelivery.objects.filter(pk__in=ids, processed_at__isnull=False)
    assert done.count() == 3
    assert all(d.attempts == 1 and d.error == "" for d in done)
    assert DRAIN not in nudges.queued  # not a full batch: nothing more to take


@pytest.mark.parametrize(
    ("body", "page_id"),
    [
        (b'{"object":"page","entry":[{"id":"3001","time":1,"messaging":[]}]}', "3001"),
        (b'{"object": "page", "entry": [{"time": 1, "id": "3002", "messaging": []}]}', "3002"),
        (b'{"entry":[{"messaging":[{"sender":{"id":"61"}}],"id":"3003"}]}', ""),  # id after
        (b'{"object":"page","entry":[]}', ""),
        (b"not json at all", ""),
    ],
)
def test_the_first_entrys_page_is_read_at_intake_without_parsing(body: bytes, page_id: str) -> None:
    assert intake.first_page_id(body) == page_id
    assert WebhookDelivery.objects.get(pk=intake.delivery_store(body)).page_id == page_id


def test_a_claim_takes_each_pages_oldest_in_turn(ada_page: ConnectedPage) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's claim; SQLite takes the oldest first")

    def stored(page_id: str) -> int:
        return intake.delivery_store(
            encode(envelope(entry(page_id, text(page_id, psid="61000000000001", body="hi"))))
        )

    # A busy Page's flood, then a quiet Page's one message, then one more of the busy Page.
    busy = [stored(PAGE) for _ in range(4)]
    quiet = stored("300000000000999")
    late = stored(PAGE)

    assert intake.deliveries_claim(limit=3) == [busy[0], quiet, busy[1]]
    assert intake.deliveries_claim(limit=10) == [busy[2], busy[3], late]  # in order
    assert intake.deliveries_claim(limit=10) == []
