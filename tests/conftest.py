from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from graph_api.client import GraphClient
from messenger import runtime
from tenants.models import Tenant
from tenants.permissions import Role
from tests import graph_stub
from tests.redis_db import empty_namespace
from tests.tenants.factories import TenantFactory, member
from tests.timing import TIME_SCALE, deadline

pytest_plugins = [
    "tests.sandbox_fixtures",
    "tests.messenger.runtime_support",
    "tests.migration_steps",
    "tests.chromium",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-timeout's limit per test (pyproject's ``timeout``, or the test's own mark),
    scaled by TEST_TIME_SCALE (tests/timing.py) like every other deadline of the suite."""
    if TIME_SCALE == 1:
        return
    default = float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        seconds = float(marker.args[0]) if marker and marker.args else default
        if seconds > 0:
            item.add_marker(pytest.mark.timeout(deadline(seconds)))


@pytest.fixture
def tenant() -> Tenant:
    return TenantFactory.create(name="Acme Bikes", slug="acme-bikes")


@pytest.fixture
def other_tenant() -> Tenant:
    return TenantFactory.create(name="Globex", slug="globex")


@pytest.fixture
def client_for() -> Callable[..., APIClient]:
    """An API client signed in as a new member of `tenant` with `role`, or with a bearer key."""

    def make(
        tenant: Tenant | None = None, role: str = Role.OWNER, *, key: str | None = None
    ) -> APIClient:
        client = APIClient()
        if key is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        elif tenant is not None:
            client.force_login(member(tenant, role).user)
        return client

    return make


@pytest.fixture
def viewer_client(client_for: Callable[..., APIClient], tenant: Tenant) -> APIClient:
    """An API client signed in as a new viewer of `tenant`."""
    return client_for(tenant, Role.VIEWER)


@pytest.fixture(scope="session", autouse=True)
def _redis_namespace_emptied_at_the_end() -> Iterator[None]:
    """Whatever the run left in its Redis namespace (tests/redis_db.py) goes when it ends."""
    yield
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
    with contextlib.suppress(redis.ConnectionError):
        empty_namespace(client)
    client.close()


@pytest.fixture(autouse=True)
def _runtime_caches_emptied() -> None:
    """The runtime keeps published versions and Page routes per process
    (``runtime.published_version``, ``runtime.ROUTES``): each test starts without an earlier
    test's, whose rows are gone (and whose ids SQLite may give to other rows)."""
    runtime._versions.clear()
    runtime.ROUTES = runtime.PageRoutes()


@pytest.fixture
def graph_client() -> Iterator[GraphClient]:
    """Our Graph client for the stand-in host of tests/graph_stub.py, which only `responses`
    answers."""
    with GraphClient(
        base_url=graph_stub.BASE,
        app_id=graph_stub.APP_ID,
        app_secret=graph_stub.APP_SECRET,
        version=graph_stub.VERSION,
        page_activities_version=graph_stub.PAGE_ACTIVITIES_VERSION,
    ) as client:
        yield client
