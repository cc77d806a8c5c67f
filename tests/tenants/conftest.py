from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tenants.models import Tenant
from tenants.permissions import Role
from tests.tenants.factories import member


@pytest.fixture
def admin(tenant: Tenant) -> User:
    """A new admin of `tenant`."""
    return member(tenant, Role.ADMIN).user
