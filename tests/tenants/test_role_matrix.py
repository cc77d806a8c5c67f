"""Who may do what, on every tenant route: viewer, editor, admin, owner, API key, anonymous."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from rest_framework.test import APIClient

from tenants.models import Tenant
from tenants.permissions import API_KEY_ROLE, PERMISSIONS, Role, role_can
from tests.tenants.factories import api_key, member
from tests.tenants.routes import Route, tenant_routes, world

if TYPE_CHECKING:
    from tests.client_types import APIResponse

ROUTES = tenant_routes()
CREDENTIALS = [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER, "api_key", "anonymous"]


# The table itself, pinned: a change to tenants/permissions.py must change this test too.
@pytest.mark.parametrize(
    ("permission", "least_role"),
    [
        ("tenant.view", Role.VIEWER),
        ("tenant.update", Role.ADMIN),
        ("tenant.delete", Role.OWNER),
        ("member.view", Role.VIEWER),
        ("member.manage", Role.ADMIN),
        ("member.manage_owners", Role.OWNER),
        ("api_key.view", Role.ADMIN),
        ("api_key.manage", Role.ADMIN),
        ("audit.view", Role.ADMIN),
        ("page.view", Role.VIEWER),
        ("page.manage", Role.ADMIN),
        ("flow.view", Role.VIEWER),
        ("flow.edit", Role.EDITOR),
        ("flow.publish", Role.EDITOR),
        ("handoff.view", Role.VIEWER),
        ("handoff.resolve", Role.EDITOR),
        ("event.view", Role.VIEWER),
        ("event.log", Role.EDITOR),
        ("event.replay", Role.ADMIN),
        ("insights.view", Role.VIEWER),
        ("ads.manage", Role.ADMIN),
    ],
)
def test_permission_table(permission: str, least_role: Role) -> None:
    assert PERMISSIONS[permission] == least_role
    ladder = [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER]
    for role in ladder:
        assert role_can(role, permission) is (ladder.index(role) >= ladder.index(least_role))
    assert role_can(None, permission) is False


def test_api_keys_act_as_editors() -> None:
    assert API_KEY_ROLE == Role.EDITOR


# What a permitted role gets from each route, called as `_request` calls it (an empty body for
# writes): the method's usual answer, or the route's own below. A route added later follows
# the method's rule, or gets its line here.
STATUS_OF_METHOD = {
    "get": (200, None),
    "delete": (204, None),
    "patch": (200, None),  # an empty partial update changes nothing
    "post": (400, "invalid"),  # an empty body is refused by validation, past the role check
    "put": (400, "invalid"),
}
STATUS_OF_ROUTE = {
    "PATCH /api/v1/tenants/<slug:tenant_slug>/flows/<int:pk>/": (400, "invalid"),  # revision
    "PATCH /api/v1/tenants/<slug:tenant_slug>/members/<int:pk>/": (400, "invalid"),  # role
    "POST /api/v1/tenants/<slug:tenant_slug>/flows/<int:pk>/duplicate/": (201, None),
    "POST /api/v1/tenants/<slug:tenant_slug>/flows/<int:pk>/publish/": (201, None),
    "POST /api/v1/tenants/<slug:tenant_slug>/flows/<int:pk>/validate/": (200, None),
    "POST /api/v1/tenants/<slug:tenant_slug>/flows/<int:pk>/versions/<int:number>/restore/": (
        200,
        None,
    ),
    "POST /api/v1/tenants/<slug:tenant_slug>/handoffs/<int:pk>/resolve/": (200, None),
    # Checks the Page's token with Facebook, which no test can reach (settings_test).
    "POST /api/v1/tenants/<slug:tenant_slug>/pages/<int:pk>/check/": (503, "facebook_unavailable"),
}


def expected_status(route: Route) -> tuple[int, str | None]:
    return STATUS_OF_ROUTE.get(str(route)) or STATUS_OF_METHOD[route.method]


def test_every_route_named_for_its_own_status_exists() -> None:
    assert set(STATUS_OF_ROUTE) <= {str(route) for route in ROUTES}


def _request(client: APIClient, route: Route, url: str) -> APIResponse:
    call = getattr(client, route.method)
    # An empty object: a permitted role gets past the role check to validation (or a no-op).
    response: APIResponse = (
        call(url) if route.method in {"get", "delete"} else call(url, {}, format="json")
    )
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=str)
@pytest.mark.parametrize("credential", CREDENTIALS)
def test_role_matrix(route: Route, credential: str, tenant: Tenant) -> None:
    world(tenant)
    client = APIClient()
    role: str | None
    if credential == "anonymous":
        role = None
    elif credential == "api_key":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(tenant)}")
        role = API_KEY_ROLE
    else:
        client.force_login(member(tenant, credential).user)
        role = credential

    response = _request(client, route, route.url(tenant))

    if role is None:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    elif role_can(role, route.view_class.permissions[route.action]):
        status, code = expected_status(route)
        assert response.status_code == status, (
            f"{route} as {credential}: {response.status_code} {response.content[:200]}"
        )
        if code is not None:
            assert response.json()["error"]["code"] == code
    else:
        assert response.status_code == 403, f"{route} as {credential}: {response.status_code}"
        assert response.json()["error"]["code"] == "permission_denied"
