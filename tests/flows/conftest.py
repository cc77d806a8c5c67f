from __future__ import annotations

import pytest

from tenants.models import ConnectedPage, Tenant, Transport
from tests.sandbox_fixtures import ADA_PAGE
from tests.tenants.factories import ConnectedPageFactory


@pytest.fixture
def page(tenant: Tenant) -> ConnectedPage:
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
