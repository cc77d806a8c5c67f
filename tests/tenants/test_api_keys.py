from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tenants.models import ApiKey, AuditEvent, Tenant
from tenants.permissions import Role

if TYPE_CHECKING:
    from tests.client_types import APIResponse

pytestmark = pytest.mark.django_db


def _create(client: APIClient, tenant: Tenant, name: str = "CRM sync") -> APIResponse:
    return client.post(f"/api/v1/tenants/{tenant.slug}/api-keys/", {"name": name}, format="json")


def test_create_returns_the_secret_once(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    admin = client_for(tenant, Role.ADMIN)
    created = _create(admin, tenant)
    assert created.status_code == 201
    body = created.json()
    secret = body["key"]
    assert secret.startswith(f"pp_{body['prefix']}_")
    assert len(secret) >= 40
    assert body["name"] == "CRM sync"
    assert body["display"] == f"pp_{body['prefix']}_…"
    assert body["is_active"] is True

    listed = admin.get(f"/api/v1/tenants/{tenant.slug}/api-keys/").json()
    detail = admin.get(f"/api/v1/tenants/{tenant.slug}/api-keys/{body['id']}/").json()
    assert secret not in str(listed)
    assert secret not in str(detail)
    assert "key" not in detail
    assert "hashed_key" not in detail


def test_the_raw_column_holds_only_the_hash(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    secret = _create(client_for(tenant, Role.OWNER), tenant).json()["key"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tenants_apikey")
        rows = cursor.fetchall()
    assert len(rows) == 1
    stored = [str(value) for value in rows[0]]
    assert not any(secret in value for value in stored)
    assert not any(secret.split("_", 2)[2] in value for value in stored)
    assert hashlib.sha256(secret.encode()).hexdigest() in stored


def test_a_key_authenticates_for_its_own_workspace(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    secret = _create(client_for(tenant, Role.OWNER), tenant).json()["key"]
    client = client_for(key=secret)
    response = client.get(f"/api/v1/tenants/{tenant.slug}/members/")
    assert response.status_code == 200
    assert client.get("/api/v1/tenants/").json()["results"][0]["slug"] == tenant.slug
    key = ApiKey.objects.get()
    assert key.last_used_at is not None


def test_a_revoked_key_stops_working_at_once(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    admin = client_for(tenant, Role.ADMIN)
    created = _create(admin, tenant).json()
    integration = client_for(key=created["key"])
    assert integration.get(f"/api/v1/tenants/{tenant.slug}/").status_code == 200

    revoked = admin.delete(f"/api/v1/tenants/{tenant.slug}/api-keys/{created['id']}/")
    assert revoked.status_code == 204

    response = integration.get(f"/api/v1/tenants/{tenant.slug}/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert "revoked" in response.json()["error"]["message"]
    assert ApiKey.objects.get().revoked_at is not None
    assert list(AuditEvent.objects.values_list("action", flat=True)) == [
        "api_key.revoked",
        "api_key.first_used",  # only the first request is audited
        "api_key.created",
    ]


@pytest.mark.parametrize(
    "header",
    ["Bearer pp_deadbeef_not-a-real-key-at-all-000000", "Bearer ", "Bearer something-else"],
)
def test_a_bad_bearer_is_refused_with_the_error_shape(header: str, tenant: Tenant) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(f"/api/v1/tenants/{tenant.slug}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_an_api_key_cannot_manage_keys_or_members(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    secret = _create(client_for(tenant, Role.OWNER), tenant).json()["key"]
    integration = client_for(key=secret)
    assert _create(integration, tenant).status_code == 403
    added = integration.post(
        f"/api/v1/tenants/{tenant.slug}/members/",
        {"email": "x@example.com", "role": "owner"},
        format="json",
    )
    assert added.status_code == 403
    assert ApiKey.objects.count() == 1


def test_an_api_key_cannot_create_workspaces(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    secret = _create(client_for(tenant, Role.OWNER), tenant).json()["key"]
    response = client_for(key=secret).post(
        "/api/v1/tenants/", {"name": "Shadow", "country": "US"}, format="json"
    )
    assert response.status_code == 403
    assert "API keys cannot create workspaces" in response.json()["error"]["message"]


def test_the_secret_never_reaches_the_logs(
    client_for: Callable[..., APIClient], tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:

    caplog.set_level(logging.DEBUG)
    secret = _create(client_for(tenant, Role.OWNER), tenant).json()["key"]
    client_for(key=secret).get(f"/api/v1/tenants/{tenant.slug}/")
    client_for(key=secret + "x").get(f"/api/v1/tenants/{tenant.slug}/")
    assert secret not in caplog.text
