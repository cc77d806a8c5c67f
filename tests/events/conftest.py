from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tenants.models import Transport
from tests.tenants.factories import ConnectedPageFactory, api_key


@pytest.fixture
def capi_page(tenant):
    return ConnectedPageFactory(
        tenant=tenant, page_id="104729384756102", transport=Transport.CONVERSIONS_API
    )


@pytest.fixture
def key(tenant) -> str:
    return api_key(tenant)


@pytest.fixture
def api(client_for, key) -> APIClient:
    return client_for(key=key)
