"""Support for the runtime's tests (no tests here): Messenger payloads, signing, an inline worker.

Its fixtures (``runtime_redis``, ``send_api``, ``worker``, and the connected Pages ``ada_page`` and
``bakery_page``) are a plugin of the whole suite (``pytest_plugins`` in tests/conftest.py), as the
messenger, flows, tenants and browser tests use them; test modules import only its helpers.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import responses
from django.conf import settings

from events import ratelimit
from messenger import intake, tasks
from tenants.models import ConnectedPage, Tenant, Transport
from tests.graph_stub import sent_json
from tests.redis_db import empty_namespace
from tests.sandbox_fixtures import ADA_PAGE
from tests.tenants.factories import ConnectedPageFactory

WEBHOOK_URL = "/webhooks/messenger"
PSID = "6100000000000042"

_mids = itertools.count(1)
_ticks = itertools.count(1)


def now_ms() -> int:
    """Now in milliseconds, a little later on every call (items keep their order)."""
    return int(time.time() * 1000) + next(_ticks)


def sign(body: bytes, secret: str | None = None) -> str:
    secret = settings.FACEBOOK_APP_SECRET if secret is None else secret
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    """Compact JSON with non-ASCII escaped, as Facebook sends it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def envelope(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"object": "page", "entry": list(entries)}


def entry(page_id: str, *items: dict[str, Any], field: str = "messaging") -> dict[str, Any]:
    return {"id": page_id, "time": now_ms(), field: list(items)}


def _item(page_id: str, psid: str, timestamp: int | None, **event: Any) -> dict[str, Any]:
    return {
        "sender": {"id": psid},
        "recipient": {"id": page_id},
        "timestamp": now_ms() if timestamp is None else timestamp,
        **event,
    }


def new_mid() -> str:
    return f"m_test{next(_mids)}"


def text(
    page_id: str,
    psid: str = PSID,
    body: str = "hi",
    *,
    mid: str | None = None,
    ts: int | None = None,
) -> dict[str, Any]:
    return _item(page_id, psid, ts, message={"mid": mid or new_mid(), "text": body})


def quick_reply(
    page_id: str, title: str, payload: str, psid: str = PSID, *, mid: str | None = None
) -> dict[str, Any]:
    message = {"mid": mid or new_mid(), "text": title, "quick_reply": {"payload": payload}}
    return _item(page_id, psid, None, message=message)


def postback(
    page_id: str,
    payload: str,
    psid: str = PSID,
    *,
    title: str = "Get Started",
    ref: str | None = None,
    mid: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {"mid": mid or new_mid(), "title": title, "payload": payload}
    if ref is not None:
        event["referral"] = {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}
    return _item(page_id, psid, None, postback=event)


def referral(page_id: str, ref: str, psid: str = PSID, *, ts: int | None = None) -> dict[str, Any]:
    event = {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}
    return _item(page_id, psid, ts, referral=event)


def echo(page_id: str, psid: str = PSID, body: str = "bot said") -> dict[str, Any]:
    """message_echoes: the Page is the sender (reference §6.4)."""
    message = {"mid": new_mid(), "is_echo": True, "app_id": 100000000000001, "text": body}
    return {
        "sender": {"id": page_id},
        "recipient": {"id": psid},
        "timestamp": now_ms(),
        "message": message,
    }


@pytest.fixture(name="runtime_redis")
def runtime_redis_fixture() -> Iterator[redis.Redis]:
    """Real Redis: the run's namespace (tests/redis_db.py), emptied before and after the test: the
    conversation locks and the Send API counter of the runtime, the rate limiter and queued marks
    of delivery."""
    client = ratelimit.redis_client()
    empty_namespace(client)
    yield client
    empty_namespace(client)


class InlineWorker:
    """Runs the runtime's tasks in the test's process, in the order they were enqueued.

    ``apply_async`` of each flows task only records the call; ``drain`` runs what is queued
    (each run inside ``django_capture_on_commit_callbacks(execute=True)``, so what it enqueues
    after commit is queued too). Countdowns are recorded, not waited for.
    """

    TASKS: dict[str, Callable[..., Any]] = {
        "flows.tasks.drain_deliveries": tasks.drain_deliveries,
        "flows.tasks.process_delivery": tasks.process_delivery,
        "flows.tasks.send_conversation": tasks.send_conversation,
        "messenger.tasks.handoff_notify": tasks.handoff_notify,
    }

    def __init__(self, capture: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.capture = capture
        self.queued: list[tuple[str, tuple[Any, ...], float | None]] = []
        self.ran: list[tuple[str, tuple[Any, ...], float | None]] = []
        for name, task in self.TASKS.items():
            monkeypatch.setattr(task, "apply_async", self._recorder(name))
        # No drain is queued yet, whatever an earlier test left in Redis.
        ratelimit.redis_client().delete(ratelimit.redis_key(intake.NUDGE_KEY))

    def _recorder(self, name: str) -> Callable[..., None]:
        def apply_async(args: tuple[Any, ...] = (), countdown: float | None = None) -> None:
            self.queued.append((name, tuple(args), countdown))

        return apply_async

    def post(self, client: Any, body: bytes, signature: str | None = "valid") -> Any:
        headers = {}
        if signature == "valid":
            headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body)
        elif signature is not None:
            headers["HTTP_X_HUB_SIGNATURE_256"] = signature
        with self.capture(execute=True):
            return client.post(WEBHOOK_URL, data=body, content_type="application/json", **headers)

    def drain(self, *, max_runs: int = 50) -> list[tuple[str, tuple[Any, ...], float | None]]:
        """Run queued tasks until none is left (or ``max_runs``); returns what ran."""
        ran: list[Any] = []
        while self.queued and len(ran) < max_runs:
            call = self.queued.pop(0)
            with self.capture(execute=True):
                self.TASKS[call[0]](*call[1])
            ran.append(call)
        self.ran += ran
        return ran

    def deliver(self, client: Any, payload: dict[str, Any]) -> Any:
        """POST a signed delivery and run everything it causes."""
        response = self.post(client, encode(payload))
        assert response.status_code == 200, response.content
        self.drain()
        return response


@pytest.fixture(name="worker")
def worker_fixture(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> InlineWorker:
    return InlineWorker(django_capture_on_commit_callbacks, monkeypatch)


def send_url() -> str:
    return f"{settings.GRAPH_API_URL}/{settings.GRAPH_API_VERSION}/me/messages"


def _accept(request: Any) -> tuple[int, dict[str, str], str]:
    body = sent_json(request)
    answer = {"recipient_id": body["recipient"]["id"], "message_id": f"m_sent{next(_mids)}"}
    return 200, {}, json.dumps(answer)


@pytest.fixture(name="send_api")
def send_api_fixture() -> Iterator[responses.RequestsMock]:
    """The Send API, stubbed: every message is accepted (add other answers before it)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, send_url(), callback=_accept)
        yield mock


def graph_error(code: int, subcode: int | None = None, status: int = 400, **extra: Any) -> str:
    error: dict[str, Any] = {"message": f"error {code}", "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return json.dumps({"error": {**error, "fbtrace_id": "Atrace", **extra}})


def sent(mock: responses.RequestsMock) -> list[tuple[str, dict[str, Any]]]:
    """(psid, message) of every Send API call that was made, in order."""
    calls = []
    for call in mock.calls:
        if (call.request.url or "").split("?")[0] == send_url():
            body = json.loads(call.request.body or "")
            calls.append((body["recipient"]["id"], body["message"]))
    return calls


def texts(mock: responses.RequestsMock) -> list[str]:
    """The text of every message sent through the Send API, in order ("" for one without)."""
    return [message.get("text", "") for _, message in sent(mock)]


@pytest.fixture
def ada_page(tenant: Tenant) -> ConnectedPage:
    """Ada's Bakery, the sandbox's first Page, connected to `tenant` (page_activities)."""
    return ConnectedPageFactory.create(
        tenant=tenant, page_id=ADA_PAGE, name="Ada's Bakery", transport=Transport.PAGE_ACTIVITIES
    )


@pytest.fixture
def bakery_page(request: pytest.FixtureRequest, tenant: Tenant) -> ConnectedPage:
    """Ada's Bakery on the factory's transport (the Conversions API), connected to `tenant` under
    the test module's own ``PAGE`` id (what its webhook envelopes name)."""
    page_id: str = request.module.PAGE
    return ConnectedPageFactory.create(tenant=tenant, page_id=page_id, name="Ada's Bakery")
