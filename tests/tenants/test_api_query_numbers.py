"""Every list route reads `page`, `page_size` and a cursor as ASCII digits: never a 500."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from tenants.models import Tenant
from tenants.permissions import Role
from tests.tenants.factories import member
from tests.tenants.routes import Route, tenant_routes, world

LIST_ROUTES = [route for route in tenant_routes() if route.action == "list"]
HOSTILE = ["²", "٣", "-1", "0", "1e3", "", "99999999999999999999"]


@pytest.mark.django_db
@pytest.mark.parametrize("route", LIST_ROUTES, ids=str)
@pytest.mark.parametrize("name", ["page", "page_size"])
def test_a_malformed_page_number_is_a_400_or_404(route: Route, name: str, tenant: Tenant) -> None:
    world(tenant)
    client = APIClient()
    client.force_login(member(tenant, Role.OWNER).user)

    statuses = {
        value: client.get(route.url(tenant), {name: value}).status_code for value in HOSTILE
    }

    assert {value: status for value, status in statuses.items() if status >= 500} == {}
    if name == "page_size" or not route.pattern.endswith("/events/"):
        # Not a whole number from 1 is a 400 (a page past the last is a 404). The events list
        # is cursor-paginated: its `page` is the Page filter, which takes a Page id.
        assert statuses["²"] == statuses["٣"] == statuses["-1"] == 400


def _cursor(position: str) -> str:
    return base64.b64encode(urlencode({"p": position}).encode()).decode()


@pytest.mark.django_db
@pytest.mark.parametrize("position", ["²", "٣", "9" * 30, "-1"])
def test_a_forged_events_cursor_is_a_400(position: str, tenant: Tenant) -> None:
    world(tenant)
    client = APIClient()
    client.force_login(member(tenant, Role.OWNER).user)

    response = client.get(f"/api/v1/tenants/{tenant.slug}/events/", {"cursor": _cursor(position)})

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["cursor"]
