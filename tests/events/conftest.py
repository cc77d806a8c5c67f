from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from tenants.models import ConnectedPage, Tenant, Transport
from tests.tenants.factories import ConnectedPageFactory, api_key


@pytest.fixture
def capi_page(tenant: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(
        tenant=tenant, page_id="104729384756102", transport=Transport.CONVERSIONS_API
    )


@pytest.fixture
def key(tenant: Tenant) -> str:
    return api_key(tenant)


@pytest.fixture
def api(client_for: Callable[..., APIClient], key: str) -> APIClient:
    return client_for(key=key)
