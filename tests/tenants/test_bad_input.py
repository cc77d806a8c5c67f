"""Every write route answers bad input with a 400 in the error shape, and writes nothing."""

from __future__ import annotations

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from tenants.models import Tenant
from tenants.permissions import Role
from tests.tenants.factories import member
from tests.tenants.routes import Route, tenant_routes, world

BODY_ROUTES = [route for route in tenant_routes() if route.method in {"post", "put", "patch"}]

# Bodies no write route accepts: broken JSON, JSON that is not an object, and wrong types.
BAD_BODIES = {
    "broken json": ('{"name": ', "application/json"),
    "a list": ("[1, 2]", "application/json"),
    "a string": ('"hello"', "application/json"),
    "wrong types": ('{"name": ["x"], "role": 7, "email": 5, "country": 1}', "application/json"),
    "form encoded": ("name=x", "application/x-www-form-urlencoded"),
}


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in {"tenants", "flows", "events"}
    }


@pytest.mark.django_db
@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
@pytest.mark.parametrize("bad", BAD_BODIES, ids=str)
def test_bad_input_is_refused_and_nothing_is_written(
    route: Route, bad: str, tenant: Tenant
) -> None:
    world(tenant)
    client = APIClient()
    client.force_login(member(tenant, Role.OWNER).user)
    before = _row_counts()

    body, content_type = BAD_BODIES[bad]
    response = getattr(client, route.method)(route.url(tenant), body, content_type=content_type)

    expected = 415 if content_type != "application/json" else 400
    assert response.status_code == expected, f"{route} with {bad}: {response.content[:300]}"
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    assert _row_counts() == before
