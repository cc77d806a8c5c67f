"""The API's JSON parser bounds a body's depth and size, on every write route, with a 400."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from flows.models import Flow
from tenants.api.parsers import MAX_JSON_DEPTH, json_depth_exceeds
from tenants.models import Tenant
from tenants.permissions import Role
from tests.tenants.factories import member
from tests.tenants.routes import Route, tenant_routes, world

BODY_ROUTES = [route for route in tenant_routes() if route.method in {"post", "put", "patch"}]
DEEP = "[" * 5000 + "]" * 5000


def _nested(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = {"a": [value]}
    return value


@pytest.mark.parametrize(
    ("text", "exceeds"),
    [
        ("{}", False),
        ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, False),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), True),
        (DEEP, True),
        # Brackets inside strings (escaped quotes too) are text, not nesting.
        (json.dumps({"s": "[" * 100, "t": '\\"[[[[' * 50}), False),
        (json.dumps([[["x"]] * 1000]), False),
        # Objects and arrays taking turns: the quick pass removes two levels a round at most.
        (json.dumps(_nested(MAX_JSON_DEPTH // 2)), False),
        (json.dumps(_nested(MAX_JSON_DEPTH // 2 + 1)), True),
        (json.dumps({"a": _nested(MAX_JSON_DEPTH // 2 - 1), "b": [1]}), False),
        (json.dumps([_nested(MAX_JSON_DEPTH // 2), _nested(2)]), True),
        # Malformed: the exact scan decides, as before.
        ('{"page_id": "1", "psid": ', False),
        ("[" * (MAX_JSON_DEPTH + 1), True),
        ("]]]]" + "[" * MAX_JSON_DEPTH, False),
        # A 500-event request: thousands of brackets, three levels deep.
        (
            json.dumps({"batch": [{"events": [{"params": {"n": n}}] * 5} for n in range(100)]}),
            False,
        ),
    ],
)
def test_depth_is_measured_without_recursion(text: str, exceeds: bool) -> None:
    assert json_depth_exceeds(text.encode()) is exceeds


@pytest.mark.django_db
@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_deep_json_is_a_400_that_says_the_limit(route: Route, tenant: Tenant) -> None:
    world(tenant)
    client = APIClient()
    client.force_login(member(tenant, Role.OWNER).user)

    response = getattr(client, route.method)(
        route.url(tenant), DEEP, content_type="application/json"
    )

    assert response.status_code == 400, f"{route}: {response.content[:300]}"
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert f"more than {MAX_JSON_DEPTH} levels deep" in error["message"]


@pytest.mark.django_db
def test_deep_data_inside_a_block_is_refused_before_it_reaches_the_flow(tenant: Tenant) -> None:
    world(tenant)
    flow = Flow.objects.filter(tenant=tenant).get()
    client = APIClient()
    client.force_login(member(tenant, Role.OWNER).user)
    document = json.loads(json.dumps(flow.document))
    document["nodes"][0]["data"]["deep"] = _nested(250)  # 500 levels
    body = {
        "name": flow.name,
        "page": flow.page_id,
        "trigger": {"kind": flow.trigger_kind},
        "document": document,
    }

    response = client.put(
        f"/api/v1/tenants/{tenant.slug}/flows/{flow.pk}/",
        json.dumps(body),
        content_type="application/json",
    )

    assert response.status_code == 400, response.content[:300]
    assert f"more than {MAX_JSON_DEPTH} levels deep" in response.json()["error"]["message"]
    flow.refresh_from_db()
    assert "deep" not in flow.document["nodes"][0]["data"]


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_size_limit_is_a_400_that_says_the_limit(tenant: Tenant) -> None:
    client = APIClient()
    client.force_login(member(tenant, Role.OWNER).user)

    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/api-keys/",
        json.dumps({"name": "x" * 2000}),
        content_type="application/json",
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "larger than 1,000 bytes" in error["message"]


@pytest.mark.django_db
def test_a_body_within_the_limits_still_parses(tenant: Tenant) -> None:
    client = APIClient()
    client.force_login(member(tenant, Role.OWNER).user)

    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/api-keys/", {"name": "CRM"}, format="json"
    )

    assert response.status_code == 201
