"""System tests: real PostgreSQL, Redis, Celery worker and beat processes, and the Graph sandbox.

Nothing is stubbed. The test process is the API (DRF's client, in-process) and the observer;
delivery happens in `celery worker` processes started here, fed by the run's own namespace in
Redis (tests/redis_db.py; emptied for every test) and the pytest-django test database, which they reach because the tests are
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from config.celery import app as celery_app
from tenants.permissions import Role
from tests.redis_db import empty_namespace
from tests.sandbox_fixtures import ADA, GraphSandbox
from tests.system.harness import Cluster
from tests.system.runtime_fixtures import (  # noqa: F401 (the runtime's fixtures, registered here)
    lead_flows_fixture,
    messenger_fixture,
    webhook_url_fixture,
)
from tests.system.workspace import PAGE_A, PAGE_B, Workspace
from tests.tenants.factories import TenantFactory, api_key, member

HERE = Path(__file__).resolve().parent

# What every worker and beat gets unless a test says otherwise: a sweep every second, leases
# and back-off short enough to watch, and a rate floor that is not what these tests measure.
BASE_ENV = {
    "EVENTS_SWEEP_SECONDS": "1",
    "EVENTS_LEASE_SECONDS": "10",
    "EVENTS_RETRY_BASE_SECONDS": "0.2",
    "EVENTS_RETRY_CAP_SECONDS": "1",
    "EVENTS_RETRY_WINDOW_SECONDS": "60",
    "EVENTS_RATE_MIN_CALLS_PER_SECOND": "500",
    "RUNTIME_SWEEP_SECONDS": "1",
    "WEBHOOK_DRAIN_LEASE_SECONDS": "10",
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


# --- Redis and the broker ----------------------------------------------------------------------


def _reset_producers() -> None:
    """Forget Celery's cached pools so the next send picks them for the current URL (kombu
    keeps one pool per broker URL, so the other URL's pool stays usable)."""
    # Private caches, so not in celery-types' stubs.
    celery_app._pool = None  # type: ignore[attr-defined]
    celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]


@pytest.fixture
def broker(settings: Any) -> Iterator[redis.Redis]:
    """The run's namespace in Redis (tests/redis_db.py), empty: this process's broker and
    rate-limit store, and the workers'. Emptied again after the test."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    empty_namespace(client)
    _reset_producers()
    yield client
    _reset_producers()
    empty_namespace(client)
    client.close()


# --- Celery processes ----------------------------------------------------------------------------


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


@pytest.fixture
def workspace(transactional_db: None, sandbox: GraphSandbox, broker: redis.Redis) -> Workspace:
    """A US workspace whose owner logged in with Facebook as Ada and connected two Pages:
    PAGE_A on page_activities, PAGE_B on the Conversions API. Integrators call with an API key."""
    tenant = TenantFactory.create(
        name="System Shop", slug=f"system-{uuid.uuid4().hex[:8]}", country="US"
    )
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
