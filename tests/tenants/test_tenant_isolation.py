"""Every route under /api/v1/tenants/<slug>/ keeps other tenants out, found by walking the URLs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tenants.api.base import TenantScopedMixin
from tenants.models import Tenant
from tenants.permissions import API_KEY_ROLE, Role, role_can
from tests.tenants.factories import TenantFactory, api_key, member
from tests.tenants.routes import Route, tenant_routes, world

if TYPE_CHECKING:
    from tests.client_types import TestResponse

ROUTES = tenant_routes()


def test_routes_are_found() -> None:
    # The walker must see the routes we know exist, or every test below proves nothing.
    patterns = {str(route) for route in ROUTES}
    assert "GET /api/v1/tenants/<slug:tenant_slug>/members/" in patterns
    assert "POST /api/v1/tenants/<slug:tenant_slug>/api-keys/" in patterns
    assert "DELETE /api/v1/tenants/<slug:tenant_slug>/api-keys/<int:pk>/" in patterns
    assert (
        "GET /api/v1/tenants/<slug:tenant_slug>/flows/<int:pk>/versions/<int:number>/diff/draft/"
        in patterns
    )


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_route_is_built_on_the_tenant_scoped_base(route: Route) -> None:
    assert issubclass(route.view_class, TenantScopedMixin), (
        f"{route} is served by {route.view_class.__name__}, which does not subclass "
        "tenants.api.base.TenantScopedViewSet/TenantScopedAPIView"
    )
    assert route.action in route.view_class.permissions, (
        f"{route}: action {route.action!r} has no entry in {route.view_class.__name__}.permissions"
    )


def _leaks(body: bytes, victim: Tenant) -> list[str]:
    """Identifiers of the victim's rows that appear in a response body."""
    text = body.decode(errors="replace")
    return [marker for marker in (victim.slug, victim.name, "victim-") if marker in text]


@pytest.fixture
def victim(db: None) -> Tenant:
    tenant = TenantFactory.create(name="Victim Corp", slug="victim-corp")
    world(tenant)
    return tenant


@pytest.fixture
def intruder_tenant(db: None) -> Tenant:
    tenant = TenantFactory.create(name="Intruder Ltd", slug="intruder")
    world(tenant)
    return tenant


def _call(client: Client, route: Route, url: str, **headers: str) -> TestResponse:
    call = getattr(client, route.method)
    response: TestResponse
    if route.method in {"get", "delete"}:
        response = call(url, **headers)
    elif route.action in route.view_class.bodyless_actions:
        response = call(url, content_type="application/json", **headers)
    else:
        body = json.dumps({"name": "x", "role": Role.OWNER, "email": "x@example.com"})
        response = call(url, body, content_type="application/json", **headers)
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=str)
@pytest.mark.parametrize("credential", ["session", "api_key"])
def test_another_tenant_gets_404_and_sees_nothing(
    route: Route, credential: str, victim: Tenant, intruder_tenant: Tenant
) -> None:
    client, headers = Client(), {}
    if credential == "session":
        client.force_login(member(intruder_tenant, Role.OWNER).user)
    else:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {api_key(intruder_tenant)}"}

    # The victim's slug, with the victim's object ids.
    response = _call(client, route, route.url(victim), **headers)
    assert response.status_code == 404, f"{route} via {credential}: {response.status_code}"
    assert response.json()["error"]["code"] == "not_found"
    assert _leaks(response.content, victim) == []

    # The intruder's own slug, but the victim's object ids: 404 where the intruder's role
    # allows the action at all (a 403 otherwise says nothing about the victim's object).
    if "<int:pk>" in route.pattern:
        response = _call(client, route, route.url(intruder_tenant, object_tenant=victim), **headers)
        role = Role.OWNER if credential == "session" else API_KEY_ROLE
        allowed = role_can(role, route.view_class.permissions[route.action])
        assert response.status_code == (404 if allowed else 403), f"{route} via {credential}"
        assert _leaks(response.content, victim) == []


@pytest.mark.django_db
def test_an_unknown_workspace_is_a_404_like_a_forbidden_one(
    client_for: Callable[..., APIClient], victim: Tenant
) -> None:

    client = client_for(TenantFactory.create(slug="mine"), Role.OWNER)
    unknown = client.get("/api/v1/tenants/no-such-workspace/members/")
    forbidden = client.get(f"/api/v1/tenants/{victim.slug}/members/")
    assert unknown.status_code == forbidden.status_code == 404
    assert unknown.json() == forbidden.json()
