"""Every tenant route answers every HTTP method: 405 with an `Allow` header, never a 500.

The routes come from the URL resolver (tests/tenants/routes.py), so a route added later is
covered without editing this test. OPTIONS answers members with DRF's metadata and hides the
workspace from everyone else, like every other method.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import pytest
from rest_framework.test import APIClient

from tenants.models import Tenant
from tenants.permissions import Role
from tests.tenants.factories import TenantFactory, member
from tests.tenants.routes import Route, tenant_routes, world

if TYPE_CHECKING:
    from tests.client_types import APIResponse

ROUTES = tenant_routes()
METHODS = ["get", "post", "put", "patch", "delete", "head", "options", "trace"]


def _patterns() -> dict[str, list[Route]]:
    by_pattern: dict[str, list[Route]] = defaultdict(list)
    for route in ROUTES:
        by_pattern[route.pattern].append(route)
    return dict(by_pattern)


PATTERNS = _patterns()


def _allow(routes: list[Route]) -> set[str]:
    methods = {route.method.upper() for route in routes} | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    return methods


UNSUPPORTED = [
    (pattern, method)
    for pattern, routes in PATTERNS.items()
    for method in METHODS
    if method.upper() not in _allow(routes)
]


def _call(client: APIClient, method: str, url: str) -> APIResponse:
    return client.generic(method.upper(), url, "{}", content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(("pattern", "method"), UNSUPPORTED, ids=lambda v: v)
def test_an_unsupported_method_is_a_405_with_allow(
    pattern: str, method: str, tenant: Tenant
) -> None:
    world(tenant)
    routes = PATTERNS[pattern]
    client = APIClient()
    client.force_login(member(tenant, Role.OWNER).user)

    response = _call(client, method, routes[0].url(tenant))

    assert response.status_code == 405, f"{method.upper()} /{pattern}: {response.content[:300]}"
    assert {m.strip() for m in response["Allow"].split(",")} == _allow(routes)
    if method == "head":
        return  # a HEAD answer has no body
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert method.upper() in error["message"]
    assert error["details"] == {}


def test_the_walk_covers_the_reported_methods() -> None:
    # The examples, so the walk cannot quietly lose them.
    reported = {
        ("api/v1/tenants/<slug:tenant_slug>/", "delete"),
        ("api/v1/tenants/<slug:tenant_slug>/events/<int:pk>/", "put"),
        ("api/v1/tenants/<slug:tenant_slug>/pages/<int:pk>/check/", "get"),
    }
    assert reported <= set(UNSUPPORTED)
    assert {method for _, method in UNSUPPORTED} >= {"trace", "delete", "put", "get"}


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", sorted(PATTERNS), ids=str)
def test_options_answers_members_with_metadata(pattern: str, tenant: Tenant) -> None:
    world(tenant)
    routes = PATTERNS[pattern]
    client = APIClient()
    client.force_login(member(tenant, Role.VIEWER).user)

    response = client.options(routes[0].url(tenant))

    assert response.status_code == 200, f"OPTIONS /{pattern}: {response.content[:300]}"
    assert {m.strip() for m in response["Allow"].split(",")} == _allow(routes)
    body = response.json()
    assert body["name"]
    assert body["renders"] == ["application/json"]
    assert body["parses"] == ["application/json"]
    # A viewer may write nothing, so the metadata offers no write form.
    assert "actions" not in body


@pytest.mark.django_db
def test_options_offers_the_write_forms_a_role_may_use(tenant: Tenant) -> None:
    client = APIClient()
    client.force_login(member(tenant, Role.ADMIN).user)

    body = client.options(f"/api/v1/tenants/{tenant.slug}/members/").json()

    assert set(body["actions"]) == {"POST"}
    assert "role" in body["actions"]["POST"]


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", sorted(PATTERNS), ids=str)
@pytest.mark.parametrize("method", ["options", "trace"])
def test_other_workspaces_stay_hidden_from_every_method(
    pattern: str, method: str, tenant: Tenant
) -> None:

    world(tenant)
    stranger = APIClient()
    stranger.force_login(member(TenantFactory.create(), Role.OWNER).user)

    response = _call(stranger, method, PATTERNS[pattern][0].url(tenant))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["options", "trace", "delete"])
def test_anonymous_requests_are_a_401_whatever_the_method(method: str, tenant: Tenant) -> None:
    response = _call(APIClient(), method, f"/api/v1/tenants/{tenant.slug}/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
