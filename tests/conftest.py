from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from rest_framework.test import APIClient

from graph_api.client import GraphClient
from tenants.models import Tenant
from tenants.permissions import Role
from tests import graph_stub
from tests.tenants.factories import TenantFactory, member

pytest_plugins = ["tests.sandbox_fixtures", "tests.flows.runtime_support"]


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
