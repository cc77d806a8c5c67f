from __future__ import annotations

from collections.abc import Callable

import pytest
import responses
from django.test import Client
from rest_framework.test import APIClient

from tenants.models import ConnectedPage, PageStatus, Tenant
from tenants.permissions import Role
from tests.tenants.factories import ConnectedPageFactory, member
from tests.tenants.helpers import GRAPH, grant

pytestmark = pytest.mark.django_db


def test_list_never_shows_a_token(client_for: Callable[..., APIClient], tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant, page_id="111")
    body = client_for(tenant, Role.VIEWER).get(f"/api/v1/tenants/{tenant.slug}/pages/").json()
    assert [row["page_id"] for row in body["results"]] == ["111"]
    assert "token" not in str(body).replace("token_checked_at", "")
    assert page.token_encrypted not in str(body)


def test_available_lists_the_login_pages_with_reasons(tenant: Tenant) -> None:
    admin = member(tenant, Role.ADMIN).user
    grant(admin, page_id="111", tasks=("MESSAGING",))
    client = Client()
    client.force_login(admin)
    body = client.get(f"/api/v1/tenants/{tenant.slug}/pages/?available=1").json()
    assert body == [
        {
            "page_id": "111",
            "name": "Bike Shop",
            "tasks": ["MESSAGING"],
            "scopes": sorted(
                [
                    "page_events",
                    "pages_show_list",
                    "pages_messaging",
                    "pages_manage_metadata",
                    "business_management",
                ]
            ),
            "connectable": False,
            "reason": "Your role on this Page lacks the ANALYZE task (“see insights”), which Facebook requires to log events. Ask a Page admin to give you analyst access or higher.",
            "connected_here": None,
            "connected_elsewhere": False,
            "transferable": False,
        }
    ]
    assert client.get(f"/api/v1/tenants/{tenant.slug}/pages/available/").json() == body


@responses.activate
def test_connect_over_the_api(client_for: Callable[..., APIClient], tenant: Tenant) -> None:
    admin = member(tenant, Role.ADMIN).user
    grant(admin)
    responses.post(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/pages/",
        {"page_id": "111", "transport": "page_activities"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["status"] == "active"
    assert response.json()["transport"] == "page_activities"
    assert "token" not in str(response.json()).replace("token_checked_at", "")


def test_connecting_a_page_you_cannot_gets_a_400_that_says_why(tenant: Tenant) -> None:
    admin = member(tenant, Role.ADMIN).user
    grant(admin, tasks=("MESSAGING",))
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/pages/", {"page_id": "111"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "ANALYZE task" in response.json()["error"]["message"]
    assert not ConnectedPage.objects.exists()


def test_a_page_of_another_tenant_is_a_404(
    client_for: Callable[..., APIClient], tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = ConnectedPageFactory.create(tenant=other_tenant)
    client = client_for(tenant, Role.ADMIN)
    assert client.get(f"/api/v1/tenants/{tenant.slug}/pages/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/v1/tenants/{tenant.slug}/pages/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == PageStatus.ACTIVE


@responses.activate
def test_check_now(client_for: Callable[..., APIClient], tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant, page_id="111")
    responses.get(
        f"{GRAPH}/debug_token",
        json={"data": {"is_valid": False, "error": {"code": 190, "message": "Expired"}}},
    )
    response = client_for(tenant, Role.ADMIN).post(
        f"/api/v1/tenants/{tenant.slug}/pages/{page.pk}/check/"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "needs_reauth"


def test_check_refuses_a_body(client_for: Callable[..., APIClient], tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    response = client_for(tenant, Role.ADMIN).post(
        f"/api/v1/tenants/{tenant.slug}/pages/{page.pk}/check/", {"x": 1}, format="json"
    )
    assert response.status_code == 400
    assert (
        response.json()["error"]["message"]
        == "The request is invalid: This endpoint takes no request body: send none."
    )


def test_the_pages_screen_shows_statuses_and_a_banner(tenant: Tenant) -> None:
    ConnectedPageFactory.create(tenant=tenant, name="Good Page")
    ConnectedPageFactory.create(
        tenant=tenant,
        name="Stale Page",
        status=PageStatus.NEEDS_REAUTH,
        last_error="Token expired.",
    )
    admin = member(tenant, Role.ADMIN).user
    client = Client()
    client.force_login(admin)
    html = client.get(f"/t/{tenant.slug}/pages/").content.decode()
    assert "1 Page needs attention" in html
    assert "Needs re-authorization" in html
    assert "Token expired." in html
    assert "Reconnect" in html
    viewer = Client()
    viewer.force_login(member(tenant, Role.VIEWER).user)
    html = viewer.get(f"/t/{tenant.slug}/pages/").content.decode()
    assert "needs attention" not in html
    assert "Disconnect" not in html


def test_declined_page_events_is_explained_with_a_rerequest_button(tenant: Tenant) -> None:
    admin = member(tenant, Role.ADMIN).user
    client = Client()
    client.force_login(admin)
    session = client.session
    session["facebook_missing_scopes"] = ["page_events"]
    session.save()
    html = client.get(f"/t/{tenant.slug}/pages/").content.decode()
    assert "Facebook did not grant everything Pagepulse needs" in html
    assert "lets Pagepulse log your bots" in html
    assert '<input type="hidden" name="auth_type" value="rerequest">' in html
