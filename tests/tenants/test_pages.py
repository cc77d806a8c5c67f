"""The server-rendered pages: sign in, workspaces, members, API keys, audit."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tenants.models import ApiKey, AuditEvent, Membership, Tenant
from tenants.permissions import Role
from tests.tenants.factories import UserFactory, member

pytestmark = pytest.mark.django_db


def signed_in(tenant: Tenant | None, role: str = Role.OWNER) -> tuple[Client, User]:
    client = Client()
    user = member(tenant, role).user if tenant else UserFactory.create()
    client.force_login(user)
    return client, user


def test_sign_in_and_out() -> None:
    UserFactory.create(username="maria", password="s3cret-enough-pass")
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b"Sign in to Pagepulse" in page.content
    bad = client.post("/accounts/login/", {"username": "maria", "password": "nope"})
    assert b"didn't match" in bad.content
    good = client.post("/accounts/login/", {"username": "maria", "password": "s3cret-enough-pass"})
    assert good.status_code == 302
    assert good["Location"] == "/"  # home: the workspace used last, else the list
    assert client.get("/")["Location"] == "/t/"
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/t/").status_code == 302


def test_home_goes_to_the_last_workspace(tenant: Tenant) -> None:
    client, _ = signed_in(tenant)
    assert client.get("/")["Location"] == f"/t/{tenant.slug}/"  # the only one, even before using it
    client.get(f"/t/{tenant.slug}/")
    assert client.get("/")["Location"] == f"/t/{tenant.slug}/"


def test_create_a_workspace_from_the_list() -> None:
    client, user = signed_in(None)
    page = client.get("/t/")
    assert b"You are not in a workspace yet" in page.content
    response = client.post("/t/", {"name": "Lisbon Bakes", "country": "PT"})
    assert response.status_code == 302
    tenant = Tenant.objects.get(name="Lisbon Bakes")
    assert response["Location"] == f"/t/{tenant.slug}/"
    assert Membership.objects.get(tenant=tenant, user=user).role == Role.OWNER
    overview = client.get(response["Location"])
    assert b"Lisbon Bakes" in overview.content
    assert "Portugal" in overview.content.decode()


def test_a_bad_workspace_form_shows_errors_and_writes_nothing() -> None:
    client, _ = signed_in(None)
    response = client.post("/t/", {"name": "", "country": "ZZ"})
    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert b"Select a valid choice." in response.content
    assert Tenant.objects.count() == 0


def test_switcher_lists_my_workspaces_only(tenant: Tenant, other_tenant: Tenant) -> None:
    client, _ = signed_in(tenant)
    page = client.get(f"/t/{tenant.slug}/").content.decode()
    assert "Acme Bikes" in page
    assert "Globex" not in page


def test_another_workspace_is_a_404(tenant: Tenant, other_tenant: Tenant) -> None:
    client, _ = signed_in(tenant)
    for path in ["", "members/", "api-keys/", "audit/", "settings/"]:
        assert client.get(f"/t/{other_tenant.slug}/{path}").status_code == 404


def test_add_a_colleague_change_their_role_and_remove_them(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    colleague = UserFactory.create(email="kim@example.com")
    added = client.post(
        f"/t/{tenant.slug}/members/", {"email": "kim@example.com", "role": "viewer"}
    )
    assert added.status_code == 302
    membership = Membership.objects.get(tenant=tenant, user=colleague)
    assert membership.role == Role.VIEWER
    page = client.get(f"/t/{tenant.slug}/members/").content.decode()
    assert "Added kim@example.com as Viewer." in page

    client.post(f"/t/{tenant.slug}/members/{membership.pk}/role/", {"role": "editor"})
    membership.refresh_from_db()
    assert membership.role == Role.EDITOR
    client.post(f"/t/{tenant.slug}/members/{membership.pk}/remove/", {"confirm": "yes"})
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_adding_an_unknown_email_explains_itself(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    response = client.post(
        f"/t/{tenant.slug}/members/", {"email": "ghost@example.com", "role": "viewer"}
    )
    assert response.status_code == 400
    assert "No Pagepulse user has the email ghost@example.com" in response.content.decode()


def test_the_last_owner_cannot_leave_from_the_page(tenant: Tenant) -> None:
    owner = member(tenant, Role.OWNER)
    client = Client()
    client.force_login(owner.user)
    response = client.post(
        f"/t/{tenant.slug}/members/{owner.pk}/remove/", {"confirm": "yes"}, follow=True
    )
    assert "last owner" in response.content.decode()
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_viewers_cannot_manage_members(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.VIEWER)
    target = member(tenant, Role.EDITOR)
    assert client.post(f"/t/{tenant.slug}/members/{target.pk}/remove/").status_code == 403
    page = client.get(f"/t/{tenant.slug}/members/").content.decode()
    assert "Add a member" not in page
    assert Membership.objects.filter(pk=target.pk).exists()


def test_api_key_secret_is_shown_once(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    response = client.post(f"/t/{tenant.slug}/api-keys/", {"name": "Zapier"})
    assert response.status_code == 302  # post/redirect/get: a reload cannot make a second key
    page = client.get(response["Location"])
    assert page["Cache-Control"] == "no-store"
    html = page.content.decode()
    found = re.search(r'<pre class="secret" id="new-key">([^<]+)</pre>', html)
    assert found is not None
    secret = found.group(1)
    assert secret.startswith("pp_")
    key = ApiKey.objects.get()
    assert key.hashed_key == hashlib.sha256(secret.encode()).hexdigest()
    again = client.get(f"/t/{tenant.slug}/api-keys/").content.decode()
    assert secret not in again
    assert "Zapier" in again
    assert secret not in str(client.cookies)
    assert ApiKey.objects.count() == 1


def test_the_secret_waits_in_the_session_encrypted(tenant: Tenant) -> None:
    from django.contrib.sessions.models import Session

    client, _ = signed_in(tenant, Role.ADMIN)
    client.post(f"/t/{tenant.slug}/api-keys/", {"name": "Zapier"})
    stored = str([session.get_decoded() for session in Session.objects.all()])
    assert "new_api_key" in stored
    page = client.get(f"/t/{tenant.slug}/api-keys/").content.decode()
    found = re.search(r'id="new-key">([^<]+)</pre>', page)
    assert found is not None
    secret = found.group(1)
    assert secret not in stored
    assert secret.split("_", 2)[2] not in stored


def test_revoke_from_the_page(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    client.post(f"/t/{tenant.slug}/api-keys/", {"name": "Old"})
    key = ApiKey.objects.get()
    client.post(
        f"/t/{tenant.slug}/api-keys/{key.pk}/revoke/", {"confirm": "yes", "confirm_text": "Old"}
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_editors_do_not_see_api_keys_or_audit(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.EDITOR)
    assert client.get(f"/t/{tenant.slug}/api-keys/").status_code == 403
    assert client.get(f"/t/{tenant.slug}/audit/").status_code == 403
    assert client.post(f"/t/{tenant.slug}/api-keys/", {"name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_audit_page_lists_changes_for_admins(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.OWNER)
    colleague = UserFactory.create(email="lee@example.com")
    client.post(f"/t/{tenant.slug}/members/", {"email": colleague.email, "role": "editor"})
    membership = Membership.objects.get(user=colleague)
    client.post(f"/t/{tenant.slug}/members/{membership.pk}/role/", {"role": "admin"})
    page = client.get(f"/t/{tenant.slug}/audit/").content.decode()
    assert "Member added" in page
    assert "Member role changed" in page
    assert "role: editor → admin" in page
    assert AuditEvent.objects.count() == 2


def test_pages_use_only_local_assets(tenant: Tenant) -> None:
    client, _ = signed_in(tenant)
    for url in ["/accounts/login/", "/t/", f"/t/{tenant.slug}/", "/api/docs/"]:
        html = client.get(url).content.decode()
        external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
        assert external == [], f"{url} loads {external}"
    stylesheet = client.get("/static/css/app.css")
    stylesheet.close()  # a streamed file response: release the file handle
    assert stylesheet.status_code == 200


def test_settings_switch_test_event_delivery_on_and_off_audited(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    page = client.get(f"/t/{tenant.slug}/settings/").content.decode()
    assert 'name="deliver_test_events"' in page
    assert "checked" not in page.split('name="deliver_test_events"')[1].split(">")[0]

    form = {"name": tenant.name, "country": str(tenant.country), "deliver_test_events": "on"}
    assert client.post(f"/t/{tenant.slug}/settings/", form).status_code == 302
    tenant.refresh_from_db()
    assert tenant.deliver_test_events is True
    audit = AuditEvent.objects.filter(tenant=tenant, action="tenant.updated").latest("id")
    assert audit.details == {"deliver_test_events": [False, True]}

    del form["deliver_test_events"]  # an unticked box is not sent
    client.post(f"/t/{tenant.slug}/settings/", form)
    tenant.refresh_from_db()
    assert tenant.deliver_test_events is False
