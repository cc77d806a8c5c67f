from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from tenants.models import Tenant
from tenants.permissions import Role
from tests.tenants.factories import TenantFactory, member

pytest_plugins = ["tests.sandbox_fixtures"]


@pytest.fixture
def tenant() -> Tenant:
    return TenantFactory(name="Acme Bikes", slug="acme-bikes")


@pytest.fixture
def other_tenant() -> Tenant:
    return TenantFactory(name="Globex", slug="globex")


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
