"""Production error pages (DEBUG off): 404, 403, 500 and an expired form (CSRF) in the product's
look, saying what happened and what to do, with the API keeping its JSON error shape."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tenants.models import Tenant
from tenants.permissions import Role
from tests.tenants.factories import member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("production")]

STYLESHEET = '<link rel="stylesheet" href="/static/css/app.css">'


@pytest.fixture
def production() -> object:
    with override_settings(DEBUG=False, ROOT_URLCONF="tests.tenants.error_urls"):
        yield


def test_unknown_address_is_the_products_404_page(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert '<h1 id="error-title">This page does not exist</h1>' in body
    assert STYLESHEET in body
    assert "Go to your workspace" in body
    assert "Django" not in body
    assert "Traceback" not in body


def test_another_workspace_is_a_404_page_for_a_signed_in_person(
    client: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    client.force_login(member(tenant, Role.OWNER).user)
    response = client.get(f"/t/{other_tenant.slug}/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "This page does not exist" in body
    assert "Sign out" in body  # the page keeps the signed-in header


def test_a_role_that_may_not_open_a_page_gets_the_403_page_saying_why(
    client: Client, tenant: Tenant
) -> None:
    client.force_login(member(tenant, Role.VIEWER).user)
    response = client.get(f"/t/{tenant.slug}/settings/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "You may not open this page" in body
    assert "Your role (viewer) may not open this page; ask an admin of Acme Bikes." in body
    assert STYLESHEET in body


def test_a_failing_view_is_the_products_500_page_without_details() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert STYLESHEET in body
    assert "a bug in a view" not in body
    assert "RuntimeError" not in body


def test_a_failing_api_view_answers_the_apis_json_error_shape() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/boom/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "a bug in a view" not in response.content.decode()


def test_a_form_without_its_csrf_token_gets_the_expired_form_page(tenant: Tenant) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member(tenant, Role.OWNER).user)
    response = client.post("/t/", {"name": "Sneaky", "country": "US"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "This form has expired" in body
    assert "Nothing was changed." in body
    assert STYLESHEET in body
    assert not Tenant.objects.filter(name="Sneaky").exists()


def test_favicon_ico_leads_to_the_logo(client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/logo.svg"
    logo = client.get(response["Location"])
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/svg+xml"
    logo.close()
