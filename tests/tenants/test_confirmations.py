"""Nothing destructive happens on one click: each destructive form, sent without `confirm=yes`
(as it is without JavaScript), answers with a page saying what will happen and what keeps
working; revoking a key and deleting a workspace also need the name typed. Disconnecting a Page
can be undone while its token is kept; a deleted workspace can be restored for a grace period,
then a task removes it."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import responses
from django.conf import settings
from django.test import Client
from django.utils import timezone

from events.models import LoggedEvent
from flows.models import Flow
from tenants import services
from tenants.exceptions import Conflict, PermissionDenied
from tenants.models import ApiKey, AuditEvent, ConnectedPage, Membership, PageStatus, Tenant
from tenants.permissions import Role
from tenants.tasks import forget_disconnected_page_tokens, purge_deleted_workspaces
from tests.events.factories import delivered_event
from tests.flows.factories import handed_off, published_flow
from tests.tenants.factories import ConnectedPageFactory, api_key, member

pytestmark = pytest.mark.django_db

GRAPH = "http://127.0.0.1:9/v25.0"


def connected_page(tenant: Tenant, **fields: object) -> ConnectedPage:
    return ConnectedPageFactory.create(tenant=tenant, **fields)


def signed_in(tenant: Tenant, role: str) -> tuple[Client, Membership]:
    membership = member(tenant, role)
    client = Client()
    client.force_login(membership.user)
    return client, membership


# --- Disconnect a Page, and Undo -----------------------------------------------------------


@responses.activate
def test_disconnect_asks_first_then_disconnects_and_offers_undo(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    page = connected_page(tenant, page_id="111", name="Acme Shop")
    unsubscribe = responses.delete(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    url = f"/t/{tenant.slug}/pages/{page.pk}/disconnect/"

    asked = client.post(url)
    assert asked.status_code == 200
    html = asked.content.decode()
    assert "Disconnect “Acme Shop”?" in html
    assert "its flows stop answering there" in html
    assert f"For {settings.PAGE_DISCONNECT_UNDO_SECONDS} seconds you can Undo" in html
    assert (
        '<button name="confirm" value="yes" class="danger-solid">Disconnect Page</button>' in html
    )
    assert unsubscribe.call_count == 0
    page.refresh_from_db()
    assert page.status == PageStatus.ACTIVE

    done = client.post(url, {"confirm": "yes"}, follow=True)
    page.refresh_from_db()
    assert page.status == PageStatus.DISCONNECTED
    assert unsubscribe.call_count == 1
    html = done.content.decode()
    assert "“Acme Shop” is disconnected." in html
    assert 'aria-label="Undo disconnecting Acme Shop"' in html


@responses.activate
def test_undo_reconnects_with_the_kept_token_without_a_login(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    page = connected_page(tenant, page_id="111", name="Acme Shop")
    token = page.token_encrypted
    responses.delete(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    subscribe = responses.post(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    client.post(f"/t/{tenant.slug}/pages/{page.pk}/disconnect/", {"confirm": "yes"})

    response = client.post(f"/t/{tenant.slug}/pages/{page.pk}/disconnect/undo/", follow=True)
    assert "“Acme Shop” is connected again with the token it had." in response.content.decode()
    page.refresh_from_db()
    assert (page.status, page.token_encrypted, page.disconnected_at) == ("active", token, None)
    assert subscribe.call_count == 1
    undo = AuditEvent.objects.get(action="page.reconnected")
    assert undo.details == {"page_id": "111", "undo": True}


@responses.activate
def test_after_the_undo_window_the_token_is_forgotten_and_undo_says_what_to_do(
    tenant: Tenant,
) -> None:
    admin = member(tenant, Role.ADMIN).user
    actor = services.Actor(user=admin)
    page = connected_page(tenant, page_id="111", name="Acme Shop")
    responses.delete(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    services.page_disconnect(tenant=tenant, actor=actor, page_pk=page.pk)
    assert forget_disconnected_page_tokens() == 0  # still within the window
    window = timedelta(seconds=settings.PAGE_DISCONNECT_UNDO_SECONDS + 1)
    ConnectedPage.objects.filter(pk=page.pk).update(disconnected_at=timezone.now() - window)
    assert forget_disconnected_page_tokens() == 1
    with pytest.raises(Conflict, match="can no longer be reconnected by Undo"):
        services.page_disconnect_undo(tenant=tenant, actor=actor, page_pk=page.pk)
    page.refresh_from_db()
    assert (page.status, page.token_encrypted) == ("disconnected", "")


def test_switching_transport_asks_first_but_saving_the_same_one_does_not(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    page = connected_page(tenant, page_id="111", name="Acme Shop")
    other = "page_activities" if page.transport == "conversions_api" else "conversions_api"
    response = client.post(f"/t/{tenant.slug}/pages/{page.pk}/transport/", {"transport": other})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Change how “Acme Shop” sends its events to Facebook?" in html
    assert f'<input type="hidden" name="transport" value="{other}">' in html
    page.refresh_from_db()
    assert page.transport != other


# --- Members and API keys ------------------------------------------------------------------


def test_removing_a_member_asks_first_and_says_what_becomes_of_their_keys(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.OWNER)
    colleague = member(tenant, Role.EDITOR, email="kim@example.com")
    response = client.post(f"/t/{tenant.slug}/members/{colleague.pk}/remove/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Remove kim@example.com from Acme Bikes?" in html
    assert "Their API keys stop working at once." in html
    assert Membership.objects.filter(pk=colleague.pk).exists()


def test_undo_brings_a_removed_member_back_with_their_role_and_handed_over_keys(
    tenant: Tenant,
) -> None:
    tenant.departing_member_keys = "hand_over"
    tenant.save(update_fields=["departing_member_keys"])
    client, owner = signed_in(tenant, Role.OWNER)
    colleague = member(tenant, Role.ADMIN, email="kim@example.com")
    services.api_key_create(
        tenant=tenant, actor=services.Actor(user=colleague.user), name="Kim's sync"
    )
    response = client.post(f"/t/{tenant.slug}/members/{colleague.pk}/remove/", {"confirm": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(user=colleague.user).exists()
    assert ApiKey.objects.get().owner == owner.user

    screen = client.get(f"/t/{tenant.slug}/members/").content.decode()
    assert "Undo brings kim@example.com back as Admin" in screen
    client.post(f"/t/{tenant.slug}/members/removed/{colleague.user_id}/undo/")
    restored = Membership.objects.get(tenant=tenant, user=colleague.user)
    assert restored.role == Role.ADMIN
    assert ApiKey.objects.get().owner == colleague.user
    actions = list(AuditEvent.objects.filter(tenant=tenant).values_list("action", flat=True))
    assert actions[:2] == ["api_key.handed_over", "member.restored"]
    assert "Undo brings" not in client.get(f"/t/{tenant.slug}/members/").content.decode()


def test_a_removal_cannot_be_undone_after_its_window_nor_by_whoever_cannot_manage_members(
    tenant: Tenant,
) -> None:
    owner = member(tenant, Role.OWNER).user
    editor = member(tenant, Role.EDITOR).user
    colleague = member(tenant, Role.VIEWER)
    actor = services.Actor(user=owner)
    services.member_remove(tenant=tenant, actor=actor, membership_id=colleague.pk)
    with pytest.raises(PermissionDenied):
        services.member_remove_undo(
            tenant=tenant, actor=services.Actor(user=editor), user_id=colleague.user_id
        )
    window = timedelta(seconds=settings.MEMBER_REMOVE_UNDO_SECONDS + 1)
    AuditEvent.objects.filter(action="member.removed").update(created_at=timezone.now() - window)
    assert services.member_removals_undoable(tenant=tenant) == []
    with pytest.raises(Conflict, match="can no longer be undone"):
        services.member_remove_undo(tenant=tenant, actor=actor, user_id=colleague.user_id)
    assert not Membership.objects.filter(user=colleague.user).exists()


def test_revoking_a_key_needs_its_name_typed(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    api_key(tenant, name="Zapier sync")
    key = ApiKey.objects.get()
    url = f"/t/{tenant.slug}/api-keys/{key.pk}/revoke/"

    asked = client.post(url)
    assert asked.status_code == 200
    assert "This cannot be undone: a revoked key never works again." in asked.content.decode()
    assert "Type Zapier sync to confirm" in asked.content.decode()

    mistyped = client.post(url, {"confirm": "yes", "confirm_text": "Zapier"})
    assert mistyped.status_code == 400
    assert "That does not match. Type Zapier sync exactly." in mistyped.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None

    client.post(url, {"confirm": "yes", "confirm_text": " Zapier sync "})
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_the_api_keys_screen_holds_each_keys_confirmation_dialog(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    api_key(tenant, name="Zapier sync")
    html = client.get(f"/t/{tenant.slug}/api-keys/").content.decode()
    assert "data-confirm>" in html
    assert 'data-confirm-match="Zapier sync"' in html
    assert "Revoke the API key “Zapier sync”?" in html


# --- Workspace deletion --------------------------------------------------------------------


def test_only_owners_may_delete_a_workspace(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.ADMIN)
    body = {"confirm": "yes", "confirm_text": tenant.name}
    assert client.post(f"/t/{tenant.slug}/delete/", body).status_code == 403
    assert "Delete workspace" not in client.get(f"/t/{tenant.slug}/settings/").content.decode()
    tenant.refresh_from_db()
    assert tenant.delete_after is None


def test_deleting_a_workspace_needs_its_name_then_can_be_restored(tenant: Tenant) -> None:
    client, _ = signed_in(tenant, Role.OWNER)
    url = f"/t/{tenant.slug}/delete/"
    assert "Delete the workspace “Acme Bikes”?" in client.post(url).content.decode()
    assert client.post(url, {"confirm": "yes", "confirm_text": "acme"}).status_code == 400
    tenant.refresh_from_db()
    assert tenant.delete_after is None

    before = timezone.now()
    response = client.post(url, {"confirm": "yes", "confirm_text": "Acme Bikes"}, follow=True)
    tenant.refresh_from_db()
    assert tenant.delete_after is not None
    grace = timedelta(days=settings.WORKSPACE_DELETION_GRACE_DAYS)
    assert before + grace <= tenant.delete_after <= timezone.now() + grace
    html = response.content.decode()
    assert f"“Acme Bikes” will be deleted on {tenant.delete_after:%-d %B %Y}" in html
    assert "Restore workspace" in html
    scheduled = AuditEvent.objects.get(action="tenant.deletion_scheduled")
    assert scheduled.details == {"delete_after": tenant.delete_after.isoformat()}

    client.post(f"/t/{tenant.slug}/restore/")
    tenant.refresh_from_db()
    assert tenant.delete_after is None
    assert AuditEvent.objects.filter(action="tenant.restored").count() == 1


def test_the_task_removes_workspaces_after_their_grace_period_only(
    tenant: Tenant, other_tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    owner = member(tenant, Role.OWNER).user
    page = connected_page(tenant, page_id="111")
    # Everything a workspace holds goes with it: flows, versions, conversations, events.
    published_flow(tenant, page=page)
    handed_off(tenant=tenant, page=page)
    delivered_event(page=page)
    api_key(tenant)
    services.tenant_schedule_deletion(
        tenant=tenant, actor=services.Actor(user=owner), confirm_name="Acme Bikes"
    )
    assert purge_deleted_workspaces() == 0
    assert Tenant.objects.filter(pk=tenant.pk).exists()

    Tenant.objects.filter(pk=tenant.pk).update(delete_after=timezone.now() - timedelta(seconds=1))
    with caplog.at_level(logging.INFO, logger="tenants.services.workspaces"):
        assert purge_deleted_workspaces() == 1
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not ConnectedPage.objects.filter(page_id="111").exists()
    assert not Flow.objects.filter(tenant_id=tenant.pk).exists()
    assert not LoggedEvent.objects.filter(tenant_id=tenant.pk).exists()
    assert Tenant.objects.filter(pk=other_tenant.pk).exists()
    [purged] = [r for r in caplog.records if r.getMessage() == "tenants.workspace.purged"]
    assert purged.tenant_slug == "acme-bikes"  # type: ignore[attr-defined]
