"""System tests: real PostgreSQL, Redis, Celery worker and beat processes, and the Graph sandbox.

Nothing is stubbed. The test process is the API (DRF's client, in-process) and the observer;
delivery happens in `celery worker` processes started here, fed by Redis database 7 (flushed
for every test) and the pytest-django test database, which they reach because the tests are
`transaction=True` (every row is committed). Pages are connected the way a person connects
them: a Facebook Login through the sandbox (tenants.pipeline.discover_pages), then
tenants.services.page_connect, so the workers hold page tokens the sandbox accepts.

Every test under tests/system is marked `system` and skipped, saying why, unless the database
is PostgreSQL (claims use SELECT ... FOR UPDATE SKIP LOCKED). Each test kills its processes in
teardown, also when it fails, and then shows their logs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count
from rest_framework.test import APIClient

from config.celery import app as celery_app
from events.models import LoggedEvent
from tenants import services
from tenants.models import ConnectedPage, Membership, Tenant
from tenants.permissions import Role
from tenants.pipeline import discover_pages
from tests.sandbox_fixtures import ADA, GraphSandbox, SandboxProcess
from tests.system.harness import (
    BEAT_READY,
    WORKER_READY,
    CeleryProcess,
    Zygote,
    beat_argv,
    wait_for,
    worker_argv,
)
from tests.tenants.factories import TenantFactory, api_key, member

HERE = Path(__file__).resolve().parent
REDIS_URL = "redis://127.0.0.1:6379/7"
SWEEP_TASK = "Task events.tasks.sweep_due["
# Ada's Pages in graph_api/sandbox/seed.json (every task granted).
PAGE_A = "300000000000001"
PAGE_B = "300000000000002"
PAGE_C = "300000000000003"

# What every worker and beat gets unless a test says otherwise: a sweep every second, leases
# and back-off short enough to watch, and a rate floor that is not what these tests measure.
BASE_ENV = {
    "EVENTS_SWEEP_SECONDS": "1",
    "EVENTS_LEASE_SECONDS": "10",
    "EVENTS_RETRY_BASE_SECONDS": "0.2",
    "EVENTS_RETRY_CAP_SECONDS": "1",
    "EVENTS_RETRY_WINDOW_SECONDS": "60",
    "EVENTS_RATE_MIN_CALLS_PER_SECOND": "500",
    "CONN_MAX_AGE": "0",
    "LOG_LEVEL": "INFO",
    "PYTHONUNBUFFERED": "1",
}


def _is_postgres() -> bool:
    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.system)
        if not _is_postgres():
            item.add_marker(
                pytest.mark.skip(
                    reason="system tests need PostgreSQL (claims use FOR UPDATE SKIP LOCKED): "
                    "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db>"
                )
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so teardown knows whether the test failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


# --- The Graph sandbox -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def graph_sandbox_server() -> Iterator[SandboxProcess]:
    """The sandbox for system tests: a request log long enough for thousands of calls."""
    process = SandboxProcess("--request-log-size", "200000")
    yield process
    process.stop()


@pytest.fixture
def sandbox(graph_sandbox: GraphSandbox, settings: Any) -> GraphSandbox:
    """The reset sandbox, with this process's Graph client pointed at it."""
    settings.GRAPH_API_URL = graph_sandbox.url
    settings.FACEBOOK_WWW_URL = graph_sandbox.url
    return graph_sandbox


# --- Redis and the broker ----------------------------------------------------------------------


def _reset_producers() -> None:
    """Forget Celery's cached pools so the next send picks them for the current URL (kombu
    keeps one pool per broker URL, so the other URL's pool stays usable)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(settings: Any) -> Iterator[redis.Redis]:
    """Redis database 7, empty, as this process's broker and rate-limit store."""
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    settings.REDIS_URL = REDIS_URL
    settings.CELERY_BROKER_URL = REDIS_URL
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = REDIS_URL
    _reset_producers()
    yield client
    celery_app.conf.broker_url = previous
    _reset_producers()
    client.flushdb()
    client.close()


# --- Celery processes ----------------------------------------------------------------------------


@dataclass
class Cluster:
    """The Celery processes of one test, all killed in teardown.

    Workers and beat are forked from one warm zygote by default (tests/system/zygote.py), or
    started as `celery -A config ...` commands with ``fork=False``. Their settings come from
    the environment: change it with ``configure(...)`` before starting the first process.
    """

    env: dict[str, str]
    log_dir: Path
    processes: list[CeleryProcess] = field(default_factory=list)
    zygote: Zygote | None = None

    def configure(self, **env: str) -> None:
        if self.processes:
            raise RuntimeError("configure the cluster before starting its first process")
        self.env.update({key: str(value) for key, value in env.items()})

    def _start(self, process: CeleryProcess, wait: bool) -> CeleryProcess:
        self.processes.append(process)
        process.start()
        if wait:
            process.wait_ready()
        return process

    def _zygote(self, fork: bool) -> Zygote | None:
        if fork and self.zygote is None:
            self.zygote = Zygote(env=self.env, log_dir=self.log_dir)
        return self.zygote if fork else None

    def worker(
        self, name: str = "worker", *, concurrency: int = 2, wait: bool = True, fork: bool = True
    ) -> CeleryProcess:
        process = CeleryProcess(
            name,
            worker_argv(name, concurrency=concurrency),
            env=self.env,
            log_dir=self.log_dir,
            ready=WORKER_READY,
            zygote=self._zygote(fork),
        )
        return self._start(process, wait)

    def beat(self, *, wait: bool = True, fork: bool = True) -> CeleryProcess:
        process = CeleryProcess(
            "beat",
            beat_argv(self.log_dir / "beat-schedule"),
            env=self.env,
            log_dir=self.log_dir,
            ready=BEAT_READY,
            zygote=self._zygote(fork),
        )
        return self._start(process, wait)

    def logs(self) -> str:
        return "\n".join(process.log_tail() for process in self.processes)

    def sweeps_done(self) -> int:
        """How many beat sweeps the workers have finished so far."""
        return sum(
            1
            for process in self.processes
            if process.log_path.exists()
            for line in process.log_path.read_text(errors="replace").splitlines()
            if SWEEP_TASK in line and " succeeded in " in line
        )

    def wait_for_sweeps(self, count: int, *, timeout: float = 20) -> None:
        """Wait until the workers have run ``count`` more sweeps: whatever the sweep would do
        (re-enqueue, take back, release) it has had ``count`` chances to do."""
        target = self.sweeps_done() + count
        wait_for(
            lambda: self.sweeps_done() >= target,
            timeout=timeout,
            what=f"{count} sweeps",
            on_timeout=self.logs,
        )

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
        if self.zygote is not None:
            self.zygote.stop()


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest,
    transactional_db: None,
    sandbox: GraphSandbox,
    broker: redis.Redis,
    tmp_path: Path,
) -> Iterator[Cluster]:
    """Starts workers and beat on demand against this test's database, Redis and sandbox."""
    env = {
        **os.environ,
        **BASE_ENV,
        "DJANGO_SETTINGS_MODULE": "tests.system.worker_settings",
        "SYSTEM_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "GRAPH_API_URL": sandbox.url,
        "FACEBOOK_WWW_URL": sandbox.url,
        "REDIS_URL": REDIS_URL,
    }
    processes = Cluster(env=env, log_dir=tmp_path)
    try:
        yield processes
    finally:
        processes.stop()
        failed = any(
            getattr(getattr(request.node, f"report_{when}", None), "failed", False)
            for when in ("setup", "call")
        )
        if failed:
            print(processes.logs())  # noqa: T201 - shown by pytest with the failure


# --- A workspace with Pages connected through a Facebook Login -------------------------------------


class _Session:
    """The bit of social-auth's strategy that tenants.pipeline.discover_pages uses."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def session_set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def session_get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@dataclass
class Workspace:
    """A tenant, its owner, an API key, and the test's view of its events."""

    tenant: Tenant
    owner: Membership
    sandbox: GraphSandbox
    client: APIClient
    admin: APIClient
    pages: dict[str, ConnectedPage] = field(default_factory=dict)

    def facebook_login(self, user_id: str = ADA) -> dict[str, Any]:
        """Log in with Facebook as a sandbox test user, as the login pipeline does: it records
        the Pages found and puts back to active every Page this login renewed."""
        token = self.sandbox.login(user_id)
        session = _Session()
        discover_pages(
            backend=None, strategy=session, user=self.owner.user, response={"access_token": token}
        )
        return session.data

    def connect(self, page_id: str, transport: str) -> ConnectedPage:
        page = services.page_connect(
            tenant=self.tenant,
            actor=services.Actor(user=self.owner.user),
            page_id=page_id,
            transport=transport,
        )
        self.pages[page_id] = page
        return page

    @property
    def events_url(self) -> str:
        return f"/api/v1/tenants/{self.tenant.slug}/events/"

    def post(self, body: Mapping[str, Any], **headers: str) -> Any:
        response = self.client.post(self.events_url, body, format="json", **headers)
        assert response.status_code == 202, response.content
        return response.json()

    def log(self, page_id: str, psid: str, events: Sequence[Mapping[str, Any]]) -> list[int]:
        """POST events for one Messenger user; returns their ids."""
        return event_ids(self.post({"page_id": page_id, "psid": psid, "events": list(events)}))

    def log_batch(
        self, page_id: str, batch: Mapping[str, Sequence[Mapping[str, Any]]]
    ) -> list[int]:
        """POST events for several Messenger users ({psid: events}); returns their ids."""
        body = {
            "page_id": page_id,
            "batch": [{"psid": psid, "events": list(events)} for psid, events in batch.items()],
        }
        return event_ids(self.post(body))

    def replay(self, ids: Sequence[int]) -> int:
        """POST events/replay/ as the workspace's owner (replaying is for admins)."""
        response = self.admin.post(f"{self.events_url}replay/", {"ids": list(ids)}, format="json")
        assert response.status_code == 200, response.content
        return int(response.json()["replayed"])

    def counts(self) -> dict[str, int]:
        rows = LoggedEvent.objects.filter(tenant=self.tenant).values("status")
        return {row["status"]: row["n"] for row in rows.annotate(n=Count("id")).order_by()}

    def wait_until_all(
        self, status: str, total: int, *, timeout: float, cluster: Cluster | None = None
    ) -> None:
        """Poll until ``total`` events of the workspace have ``status``."""
        wait_for(
            lambda: self.counts().get(status, 0) == total,
            timeout=timeout,
            interval=0.2,
            what=f"{total} events {status}",
            on_timeout=lambda: f"counts: {self.counts()}\n{cluster.logs() if cluster else ''}",
        )


def event_ids(answer: Any) -> list[int]:
    """The ids in a 202 answer of POST events/."""
    return [int(event["id"]) for event in answer["events"]]


@pytest.fixture
def workspace(transactional_db: None, sandbox: GraphSandbox, broker: redis.Redis) -> Workspace:
    """A US workspace whose owner logged in with Facebook as Ada and connected two Pages:
    PAGE_A on page_activities, PAGE_B on the Conversions API. Integrators call with an API key."""
    tenant = TenantFactory(name="System Shop", slug=f"system-{uuid.uuid4().hex[:8]}", country="US")
    owner = member(tenant, Role.OWNER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(tenant)}")
    admin = APIClient()
    admin.force_login(owner.user)
    space = Workspace(tenant=tenant, owner=owner, sandbox=sandbox, client=client, admin=admin)
    space.facebook_login(ADA)
    space.connect(PAGE_A, "page_activities")
    space.connect(PAGE_B, "conversions_api")
    return space


def purchase(ref: str, value: str = "12.50", currency: str = "USD") -> dict[str, Any]:
    """A purchase event carrying a unique ``ref`` parameter, to find it at the sandbox."""
    return {
        "event": "purchase",
        "value": float(Decimal(value)),
        "currency": currency,
        "params": {"ref": ref},
    }


def lead(ref: str) -> dict[str, Any]:
    return {"event": "lead_submitted", "params": {"ref": ref}}
