"""A workspace's country is an ISO 3166-1 alpha-2 code or refused, on create and on update.

The country decides whether the workspace's Pages may use page_activities, so a value that
would be stored as "" (and so count as "not in Europe or Japan") must never get through.
"""

from __future__ import annotations

from typing import Any

import pytest
import responses
from rest_framework.test import APIClient

from tenants import services
from tenants.exceptions import DomainError
from tenants.models import AuditEvent, ConnectedPage, Tenant
from tenants.permissions import Role
from tenants.services.pages import region_allows_page_activities
from tests.tenants.factories import TenantFactory, member
from tests.tenants.helpers import GRAPH, grant

pytestmark = pytest.mark.django_db

NOT_COUNTRIES = [[], 0, False, {}, "", "  ", None, 276, "XX", "DEU", "276", "Germany", ["DE"]]
NOT_COUNTRIES += [{"code": "DE"}]


def _owner_client(tenant: Tenant) -> APIClient:
    client = APIClient()
    client.force_login(member(tenant, Role.OWNER).user)
    return client


@pytest.mark.parametrize("country", NOT_COUNTRIES, ids=repr)
def test_create_refuses_anything_but_a_country_code(country: Any) -> None:
    client = _owner_client(TenantFactory.create())
    before = Tenant.objects.count()

    response = client.post(
        "/api/v1/tenants/", {"name": "Bakery", "country": country}, format="json"
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert list(error["details"]) == ["country"]
    assert "ISO 3166-1 alpha-2" in error["message"] or country is None
    assert Tenant.objects.count() == before


@pytest.mark.parametrize("country", NOT_COUNTRIES, ids=repr)
def test_update_refuses_anything_but_a_country_code(country: Any, tenant: Tenant) -> None:
    tenant.country = "DE"
    tenant.save()
    client = _owner_client(tenant)

    response = client.patch(f"/api/v1/tenants/{tenant.slug}/", {"country": country}, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["details"]) == ["country"]
    tenant.refresh_from_db()
    assert str(tenant.country) == "DE"
    assert not AuditEvent.objects.filter(action="tenant.updated").exists()


@pytest.mark.parametrize(("sent", "stored"), [("DE", "DE"), ("de", "DE"), (" jp ", "JP")])
def test_a_code_in_any_case_is_stored_upper_case(sent: str, stored: str, tenant: Tenant) -> None:
    client = _owner_client(tenant)

    response = client.patch(f"/api/v1/tenants/{tenant.slug}/", {"country": sent}, format="json")

    assert response.status_code == 200
    assert response.json()["country"] == stored


@responses.activate
def test_a_german_workspace_cannot_reach_page_activities_by_blanking_its_country(
    tenant: Tenant,
) -> None:
    tenant.country = "DE"
    tenant.save()
    admin = member(tenant, Role.ADMIN).user
    grant(admin)
    responses.post(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    client = APIClient()
    client.force_login(admin)

    patched = client.patch(f"/api/v1/tenants/{tenant.slug}/", {"country": 0}, format="json")
    connected = client.post(
        f"/api/v1/tenants/{tenant.slug}/pages/",
        {"page_id": "111", "transport": "page_activities"},
        format="json",
    )

    assert patched.status_code == 400
    assert connected.status_code == 400
    assert connected.json()["error"]["details"] == {
        "transport": ["Not available in this workspace's country."]
    }
    assert not ConnectedPage.objects.exists()


@pytest.mark.parametrize("country", ["", "0", "XX"])
def test_the_services_refuse_a_bad_country_too(country: str, tenant: Tenant) -> None:
    owner = member(tenant, Role.OWNER).user
    actor = services.Actor(user=owner)

    with pytest.raises(DomainError, match="not an ISO 3166-1 alpha-2 country code"):
        services.tenant_create(name="Bakery", country=country, owner=owner, actor=actor)
    with pytest.raises(DomainError, match="not an ISO 3166-1 alpha-2 country code"):
        services.tenant_update(tenant=tenant, actor=actor, country=country)


def test_a_workspace_stored_without_a_country_fails_closed(tenant: Tenant) -> None:
    # Rows written before the check may hold "": they may be in Europe or Japan.
    Tenant.objects.filter(pk=tenant.pk).update(country="")
    tenant.refresh_from_db()

    assert region_allows_page_activities(tenant) is False
