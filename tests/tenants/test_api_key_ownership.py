"""API keys belong to the member who made them (issue #12, access 1).

A removed or demoted member's keys stop working at once (or are handed to the admin who made
the change, where the workspace chose that, recorded in the audit log); a key acts with the
role chosen when it was made, never above its creator's; an expired key is refused with a 401
that says so; the API keys screen shows each key's owner, role, last use and expiry.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import ApiKey, AuditEvent, Membership, Tenant
from tenants.permissions import Role
from tests.flows.factories import handed_off, published_flow
from tests.tenants.factories import ConnectedPageFactory, member

pytestmark = pytest.mark.django_db

if TYPE_CHECKING:
    from tests.client_types import APIResponse

PSID = "24571937185104"


def _create_key(client: APIClient, tenant: Tenant, **body: object) -> APIResponse:
    return client.post(
        f"/api/v1/tenants/{tenant.slug}/api-keys/", {"name": "CRM sync", **body}, format="json"
    )


def _signed_in(membership: Membership) -> APIClient:
    client = APIClient()
    client.force_login(membership.user)
    return client


def _bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def workspace(tenant: Tenant) -> dict[str, Any]:
    """The issue's scene: an owner, an admin who made a key, a flow, a handoff, a Page."""
    owner = member(tenant, Role.OWNER)
    admin = member(tenant, Role.ADMIN)
    page = ConnectedPageFactory.create(tenant=tenant, page_id="104729384756102")
    published_flow(tenant, page=page)
    handed_off(tenant=tenant, page=page)
    created = _create_key(_signed_in(admin), tenant)
    assert created.status_code == 201, created.content
    return {
        "tenant": tenant,
        "owner": owner,
        "admin": admin,
        "page": page,
        "secret": created.json()["key"],
    }


def _what_the_key_reaches(secret: str, tenant: Tenant, page_id: str) -> dict[str, int]:
    client = _bearer(secret)
    base = f"/api/v1/tenants/{tenant.slug}"
    event = {"page_id": page_id, "psid": PSID, "events": [{"event": "Purchase"}]}
    return {
        "flows": client.get(f"{base}/flows/").status_code,
        "members": client.get(f"{base}/members/").status_code,
        "handoffs": client.get(f"{base}/handoffs/").status_code,
        "log events": client.post(
            f"{base}/events/", json.dumps(event), content_type="application/json"
        ).status_code,
    }


def test_the_issue_scene_a_removed_admins_key_stops_working_at_once(
    workspace: dict[str, Any],
) -> None:
    tenant, admin, secret = workspace["tenant"], workspace["admin"], workspace["secret"]
    page_id = workspace["page"].page_id
    before = _what_the_key_reaches(secret, tenant, page_id)
    assert before == {"flows": 200, "members": 200, "handoffs": 200, "log events": 202}

    removed = _signed_in(workspace["owner"]).delete(
        f"/api/v1/tenants/{tenant.slug}/members/{admin.pk}/"
    )
    assert removed.status_code == 204
    after = _what_the_key_reaches(secret, tenant, page_id)
    assert after == {"flows": 401, "members": 401, "handoffs": 401, "log events": 401}

    refused = _bearer(secret).get(f"/api/v1/tenants/{tenant.slug}/flows/").json()["error"]
    assert refused["code"] == "authentication_failed"
    assert refused["message"].startswith("This API key was revoked on ")
    key = ApiKey.objects.get()
    assert key.revoked_at is not None
    revoked = AuditEvent.objects.get(tenant=tenant, action="api_key.revoked")
    assert revoked.target == key.display
    assert revoked.actor == workspace["owner"].user
    assert revoked.details == {
        "name": "CRM sync",
        "reason": f"its owner {admin.user.email} left or was demoted",
    }


@pytest.mark.parametrize("new_role", ["editor", "viewer"])
def test_demoting_an_admin_below_admin_revokes_their_keys(
    workspace: dict[str, Any], new_role: str
) -> None:
    tenant, admin = workspace["tenant"], workspace["admin"]
    changed = _signed_in(workspace["owner"]).patch(
        f"/api/v1/tenants/{tenant.slug}/members/{admin.pk}/", {"role": new_role}, format="json"
    )
    assert changed.status_code == 200
    status = _bearer(workspace["secret"]).get(f"/api/v1/tenants/{tenant.slug}/flows/").status_code
    assert status == 401
    assert ApiKey.objects.get().revoked_at is not None


def test_an_owner_demoted_to_admin_keeps_their_keys(tenant: Tenant) -> None:
    first, second = member(tenant, Role.OWNER), member(tenant, Role.OWNER)
    secret = _create_key(_signed_in(second), tenant).json()["key"]
    changed = _signed_in(first).patch(
        f"/api/v1/tenants/{tenant.slug}/members/{second.pk}/", {"role": "admin"}, format="json"
    )
    assert changed.status_code == 200
    assert _bearer(secret).get(f"/api/v1/tenants/{tenant.slug}/flows/").status_code == 200
    assert ApiKey.objects.get().revoked_at is None
    assert not AuditEvent.objects.filter(action="api_key.revoked").exists()


def test_a_workspace_may_hand_a_leavers_keys_to_the_admin_who_removes_them(
    workspace: dict[str, Any],
) -> None:
    tenant, owner, admin = workspace["tenant"], workspace["owner"], workspace["admin"]
    chose = _signed_in(owner).patch(
        f"/api/v1/tenants/{tenant.slug}/", {"departing_member_keys": "hand_over"}, format="json"
    )
    assert (chose.status_code, chose.json()["departing_member_keys"]) == (200, "hand_over")

    _signed_in(owner).delete(f"/api/v1/tenants/{tenant.slug}/members/{admin.pk}/")

    key = ApiKey.objects.get()
    assert (key.owner, key.created_by, key.revoked_at) == (owner.user, admin.user, None)
    assert _bearer(workspace["secret"]).get(f"/api/v1/tenants/{tenant.slug}/").status_code == 200
    handed = AuditEvent.objects.get(action="api_key.handed_over")
    assert (handed.actor, handed.target) == (owner.user, key.display)
    assert handed.details == {"name": "CRM sync", "owner": [admin.user.email, owner.user.email]}
    listed = _signed_in(owner).get(f"/api/v1/tenants/{tenant.slug}/api-keys/").json()
    assert listed["results"][0]["owner"] == owner.user.email


def test_an_admin_who_demotes_themself_hands_their_keys_to_the_longest_standing_owner(
    workspace: dict[str, Any],
) -> None:
    tenant, owner, admin = workspace["tenant"], workspace["owner"], workspace["admin"]
    Tenant.objects.filter(pk=tenant.pk).update(departing_member_keys="hand_over")
    _signed_in(admin).patch(
        f"/api/v1/tenants/{tenant.slug}/members/{admin.pk}/", {"role": "viewer"}, format="json"
    )
    assert ApiKey.objects.get().owner == owner.user


def test_a_membership_ended_outside_the_service_also_stops_the_key(
    workspace: dict[str, Any],
) -> None:
    """The Django admin's inline, or a deleted account, bypass member_remove: the key is
    still refused, because authentication checks the owner's role on every request."""
    tenant = workspace["tenant"]
    Membership.objects.filter(pk=workspace["admin"].pk).delete()
    response = _bearer(workspace["secret"]).get(f"/api/v1/tenants/{tenant.slug}/flows/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == (
        "This API key's owner is no longer an admin of the workspace, so the key stopped "
        "working. Ask an admin of the workspace for a new key."
    )


def test_a_deleted_or_deactivated_owner_stops_the_key(workspace: dict[str, Any]) -> None:
    tenant, admin = workspace["tenant"], workspace["admin"]
    url = f"/api/v1/tenants/{tenant.slug}/flows/"
    get_user_model().objects.filter(pk=admin.user_id).update(is_active=False)
    assert _bearer(workspace["secret"]).get(url).status_code == 401
    get_user_model().objects.filter(pk=admin.user_id).delete()
    assert ApiKey.objects.get().owner is None
    assert _bearer(workspace["secret"]).get(url).status_code == 401


# --- A key's role ---------------------------------------------------------------------------


def test_a_keys_role_defaults_to_editor(tenant: Tenant) -> None:
    created = _create_key(_signed_in(member(tenant, Role.ADMIN)), tenant)
    assert (created.status_code, created.json()["role"]) == (201, "editor")


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_an_admin_may_make_keys_up_to_admin(tenant: Tenant, role: str) -> None:
    created = _create_key(_signed_in(member(tenant, Role.ADMIN)), tenant, role=role)
    assert (created.status_code, created.json()["role"]) == (201, role)
    assert ApiKey.objects.get().role == role
    assert AuditEvent.objects.get(action="api_key.created").details == {
        "name": "CRM sync",
        "role": role,
    }


def test_no_key_is_an_owner(tenant: Tenant) -> None:
    created = _create_key(_signed_in(member(tenant, Role.OWNER)), tenant, role="owner")
    assert created.status_code == 400
    assert created.json()["error"]["details"]["role"] == ['"owner" is not a valid choice.']
    assert not ApiKey.objects.exists()


def test_a_viewer_key_reads_but_does_not_write(tenant: Tenant) -> None:
    secret = _create_key(_signed_in(member(tenant, Role.ADMIN)), tenant, role="viewer").json()[
        "key"
    ]
    page = ConnectedPageFactory.create(tenant=tenant)
    viewer = _bearer(secret)
    assert viewer.get(f"/api/v1/tenants/{tenant.slug}/flows/").status_code == 200
    made = viewer.post(
        f"/api/v1/tenants/{tenant.slug}/flows/", {"name": "Leads", "page": page.pk}, format="json"
    )
    assert made.status_code == 403
    assert made.json()["error"]["message"].startswith("This API key (role viewer) may not do this")


def test_an_admin_key_still_never_manages_people_or_keys(tenant: Tenant) -> None:
    secret = _create_key(_signed_in(member(tenant, Role.OWNER)), tenant, role="admin").json()["key"]
    key_client = _bearer(secret)
    base = f"/api/v1/tenants/{tenant.slug}"
    assert key_client.get(f"{base}/audit-events/").status_code == 200  # an admin's read
    assert _create_key(key_client, tenant).status_code == 403
    assert key_client.get(f"{base}/api-keys/").status_code == 403
    added = key_client.post(
        f"{base}/members/", {"email": "x@example.com", "role": "viewer"}, format="json"
    )
    assert added.status_code == 403
    assert ApiKey.objects.count() == 1


# --- Expiry ---------------------------------------------------------------------------------


def test_an_expired_key_is_refused_with_a_401_that_says_so(tenant: Tenant) -> None:
    admin = _signed_in(member(tenant, Role.ADMIN))
    expires = timezone.now() + timedelta(days=30)
    created = _create_key(admin, tenant, expires_at=expires.isoformat())
    assert created.status_code == 201
    assert created.json()["is_expired"] is False
    secret = created.json()["key"]
    assert _bearer(secret).get(f"/api/v1/tenants/{tenant.slug}/").status_code == 200

    lapsed = timezone.now() - timedelta(minutes=1)
    ApiKey.objects.update(expires_at=lapsed)
    response = _bearer(secret).get(f"/api/v1/tenants/{tenant.slug}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == {
        "code": "authentication_failed",
        "message": f"This API key expired on {lapsed:%Y-%m-%d %H:%M} UTC. Ask an admin of the "
        "workspace for a new key (its API keys page).",
        "details": {},
    }


def test_an_expiry_in_the_past_is_refused_at_creation(tenant: Tenant) -> None:
    admin = _signed_in(member(tenant, Role.ADMIN))
    past = timezone.now() - timedelta(hours=1)
    created = _create_key(admin, tenant, expires_at=past.isoformat())
    assert created.status_code == 400
    assert created.json()["error"]["details"] == {"expires_at": ["Must be in the future."]}
    assert not ApiKey.objects.exists()


# --- The screen -----------------------------------------------------------------------------


def test_the_api_keys_screen_shows_owner_role_last_use_and_expiry(tenant: Tenant) -> None:
    admin = member(tenant, Role.ADMIN, email="ada@example.com")
    browser = Client()
    browser.force_login(admin.user)
    url = f"/t/{tenant.slug}/api-keys/"
    made = browser.post(url, {"name": "Reporting", "role": "viewer", "expires_on": "2999-03-01"})
    assert made.status_code == 302
    key = ApiKey.objects.get()
    assert key.expires_at is not None
    assert (key.role, key.owner, key.expires_at.isoformat()) == (
        "viewer",
        admin.user,
        "2999-03-01T23:59:59.999999+00:00",
    )
    ApiKey.objects.update(last_used_at=timezone.now() - timedelta(hours=3))
    html = browser.get(url).content.decode()
    row = html[html.index("<td>Reporting") :]
    row = row[: row.index("</tr>")]
    assert '<span class="badge role-viewer">Viewer</span>' in row
    assert '<td data-label="Owner">ada@example.com</td>' in row
    assert '<td data-label="Last used">3\xa0hours ago</td>' in row
    assert '<td data-label="Expires">1 Mar 2999</td>' in row


def test_the_screen_refuses_a_past_expiry_with_a_message(tenant: Tenant) -> None:
    browser = Client()
    browser.force_login(member(tenant, Role.ADMIN).user)
    response = browser.post(
        f"/t/{tenant.slug}/api-keys/", {"name": "Reporting", "expires_on": "2000-01-01"}
    )
    assert response.status_code == 400
    assert "Choose today or a later day, or leave it empty." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_removing_a_member_on_the_screen_says_what_became_of_their_keys(
    workspace: dict[str, Any],
) -> None:
    tenant, owner, admin = workspace["tenant"], workspace["owner"], workspace["admin"]
    browser = Client()
    browser.force_login(owner.user)
    page = browser.post(
        f"/t/{tenant.slug}/members/{admin.pk}/remove/", {"confirm": "yes"}, follow=True
    )
    assert "Member removed. Their 1 API key stopped working." in page.content.decode()
