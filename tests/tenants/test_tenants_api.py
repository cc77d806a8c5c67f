from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tenants.models import AuditEvent, Membership, Tenant
from tenants.permissions import Role
from tests.tenants.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


def test_list_shows_only_my_workspaces_with_my_role(
    client_for: Callable[..., APIClient], tenant: Tenant, other_tenant: Tenant
) -> None:
    me = member(tenant, Role.EDITOR).user
    Membership.objects.create(
        tenant=TenantFactory.create(name="Zeta", slug="zeta"), user=me, role="admin"
    )
    client = client_for()
    client.force_login(me)
    body = client.get("/api/v1/tenants/").json()
    assert [(t["slug"], t["role"]) for t in body["results"]] == [
        ("acme-bikes", "editor"),
        ("zeta", "admin"),
    ]
    assert body["count"] == 2


def test_create_makes_me_the_owner(client_for: Callable[..., APIClient]) -> None:
    client = client_for(TenantFactory.create(), Role.VIEWER)
    response = client.post(
        "/api/v1/tenants/", {"name": "  Corner Café ", "country": "FR"}, format="json"
    )
    assert response.status_code == 201
    assert response.json() == {
        "slug": "corner-cafe",
        "name": "Corner Café",
        "country": "FR",
        "deliver_test_events": False,
        "departing_member_keys": "revoke",
        "role": "owner",
        "created_at": response.json()["created_at"],
    }
    tenant = Tenant.objects.get(slug="corner-cafe")
    assert Membership.objects.get(tenant=tenant).role == Role.OWNER
    assert AuditEvent.objects.get(tenant=tenant).action == "tenant.created"


def test_slugs_stay_unique(client_for: Callable[..., APIClient]) -> None:
    client = client_for(TenantFactory.create(), Role.VIEWER)
    slugs = [
        client.post("/api/v1/tenants/", {"name": "Twin", "country": "US"}, format="json").json()[
            "slug"
        ]
        for _ in range(3)
    ]
    assert slugs == ["twin", "twin-2", "twin-3"]


def test_read_and_update(client_for: Callable[..., APIClient], tenant: Tenant) -> None:
    admin = client_for(tenant, Role.ADMIN)
    assert admin.get(f"/api/v1/tenants/{tenant.slug}/").json()["role"] == "admin"
    response = admin.patch(f"/api/v1/tenants/{tenant.slug}/", {"country": "DE"}, format="json")
    assert response.status_code == 200
    assert response.json()["country"] == "DE"
    event = AuditEvent.objects.get(action="tenant.updated")
    assert event.details == {"country": ["US", "DE"]}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"name": "x", "country": "XX"},
            "country",
            "'XX' is not an ISO 3166-1 alpha-2 country code: send the two-letter code of where "
            'the business is based, e.g. "DE" or "US".',
        ),
        ({"name": "   ", "country": "US"}, "name", "This field may not be blank."),
        ({"country": "US"}, "name", "This field is required."),
        (
            {"name": "x" * 101, "country": "US"},
            "name",
            "Ensure this field has no more than 100 characters.",
        ),
    ],
)
def test_create_refuses_bad_input(
    client_for: Callable[..., APIClient], body: dict[str, Any], field: str, message: str
) -> None:
    client = client_for(TenantFactory.create(), Role.OWNER)
    before = Tenant.objects.count()
    response = client.post("/api/v1/tenants/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["details"][field] == [message]
    assert error["message"] == f"The request is invalid: {field}: {message}"
    assert Tenant.objects.count() == before


def test_anonymous_gets_401_with_the_error_shape() -> None:
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/tenants/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_unknown_api_routes_answer_json_404(client: Client) -> None:
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "/api/docs/" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 200),
        ({"page": "1"}, 200),
        ({"page": ""}, 400),
        ({"page": "0"}, 400),
        ({"page": "-1"}, 400),
        ({"page": "one"}, 400),
        ({"page": "last"}, 400),
        ({"page": "2"}, 404),  # past the last page
    ],
)
def test_page_numbers_are_strict(
    client_for: Callable[..., APIClient], tenant: Tenant, query: dict[str, Any], status: int
) -> None:
    response = client_for(tenant, Role.VIEWER).get("/api/v1/tenants/", query)
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["details"] == {"page": ["Give one whole number from 1."]}


def test_an_admin_switches_test_event_delivery_over_the_api(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    url = f"/api/v1/tenants/{tenant.slug}/"
    response = client_for(tenant, Role.ADMIN).patch(
        url, {"deliver_test_events": True}, format="json"
    )
    assert (response.status_code, response.json()["deliver_test_events"]) == (200, True)
    tenant.refresh_from_db()
    assert tenant.deliver_test_events is True
    refused = client_for(tenant, Role.EDITOR).patch(
        url, {"deliver_test_events": False}, format="json"
    )
    assert refused.status_code == 403
    bad = client_for(tenant, Role.ADMIN).patch(url, {"deliver_test_events": "maybe"}, format="json")
    assert bad.status_code == 400
    tenant.refresh_from_db()
    assert tenant.deliver_test_events is True
