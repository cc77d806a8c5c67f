"""Connecting Pages, transports, token health and key rotation, with Graph stubbed by `responses`.

The full Facebook Login against the real sandbox is in test_facebook_login.py.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import responses
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from pytest_django.fixtures import Settings

from graph_api.types import GranularScope, PageAccount, TokenInfo
from tenants import services
from tenants.crypto import TokenDecryptError, decrypt_token
from tenants.exceptions import DomainError, PermissionDenied
from tenants.models import AuditEvent, ConnectedPage, PageGrant, PageStatus, Tenant, Transport
from tenants.permissions import Role
from tests.tenants.factories import ConnectedPageFactory, TenantFactory, member
from tests.tenants.helpers import ALL_SCOPES, ALL_TASKS, GRAPH, grant

pytestmark = pytest.mark.django_db


def actor(user: User) -> services.Actor:
    return services.Actor(user=user, ip_address="198.51.100.7")


@responses.activate
def test_connecting_subscribes_the_app_fetches_the_dataset_and_encrypts_the_token(
    tenant: Tenant, admin: User
) -> None:
    grant(admin)
    subscribe = responses.post(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    dataset = responses.post(f"{GRAPH}/111/dataset", json={"id": "555"})

    page = services.page_connect(tenant=tenant, actor=actor(admin), page_id="111")

    assert (page.status, page.transport, page.dataset_id) == ("active", "conversions_api", "555")
    assert subscribe.call_count == dataset.call_count == 1
    assert "subscribed_fields=messages%2Cmessaging_postbacks" in subscribe.calls[0].request.url
    assert decrypt_token(page.token_encrypted) == "test-page-token-111"
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_encrypted FROM tenants_connectedpage")
        (stored,) = cursor.fetchone()
    assert "test-page-token-111" not in stored
    event = AuditEvent.objects.get(action="page.connected")
    assert event.details == {"page_id": "111", "transport": "conversions_api"}


@responses.activate
def test_page_activities_needs_no_dataset(tenant: Tenant, admin: User) -> None:
    grant(admin)
    responses.post(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    page = services.page_connect(
        tenant=tenant, actor=actor(admin), page_id="111", transport="page_activities"
    )
    assert (page.transport, page.dataset_id) == ("page_activities", "")
    assert len(responses.calls) == 1


@pytest.mark.parametrize("country", ["DE", "FR", "GB", "CH", "NO", "JP"])
def test_europe_and_japan_cannot_pick_page_activities(
    country: str, admin: User, tenant: Tenant
) -> None:
    tenant.country = country
    tenant.save()
    grant(admin)
    with pytest.raises(DomainError, match="not available to businesses in Europe or Japan"):
        services.page_connect(
            tenant=tenant, actor=actor(admin), page_id="111", transport="page_activities"
        )
    assert not ConnectedPage.objects.exists()


@override_settings(DEFAULT_EVENT_TRANSPORT="page_activities")
@responses.activate
def test_the_default_transport_falls_back_to_capi_in_europe(admin: User, tenant: Tenant) -> None:
    tenant.country = "IE"
    tenant.save()
    grant(admin)
    responses.post(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    responses.post(f"{GRAPH}/111/dataset", json={"id": "9"})
    assert (
        services.page_connect(tenant=tenant, actor=actor(admin), page_id="111").transport
        == "conversions_api"
    )


@pytest.mark.parametrize(
    ("tasks", "scopes", "granular", "reason"),
    [
        (ALL_TASKS, ("pages_show_list",), (), "page_events permission was not granted"),
        (("MESSAGING", "MANAGE"), ALL_SCOPES, (), "lacks the ANALYZE task"),
        (("ANALYZE", "ADVERTISE"), ALL_SCOPES, (), "can neither manage nor moderate it"),
        (
            ALL_TASKS,
            ALL_SCOPES,
            (GranularScope("page_events", ("222",)),),
            "page_events permission was not granted",
        ),
    ],
)
def test_a_page_that_cannot_be_connected_says_why(
    tasks: tuple[Any, ...],
    scopes: tuple[Any, ...],
    granular: tuple[Any, ...],
    reason: str,
    tenant: Tenant,
    admin: User,
) -> None:
    grant(admin, tasks=tasks, scopes=scopes, granular=granular)
    [candidate] = services.page_candidates(tenant=tenant, user=admin)
    assert candidate.connectable is False
    assert reason in candidate.reason
    with pytest.raises(DomainError, match=re.escape(candidate.reason)):
        services.page_connect(tenant=tenant, actor=actor(admin), page_id="111")
    assert not ConnectedPage.objects.exists()


def test_a_page_not_in_the_login_cannot_be_connected(tenant: Tenant, admin: User) -> None:
    with pytest.raises(DomainError, match="did not include Page 999"):
        services.page_connect(tenant=tenant, actor=actor(admin), page_id="999")


def test_editors_cannot_connect_pages(tenant: Tenant) -> None:
    editor = member(tenant, Role.EDITOR).user
    grant(editor)
    with pytest.raises(PermissionDenied):
        services.page_connect(tenant=tenant, actor=actor(editor), page_id="111")


@responses.activate
def test_facebook_refusing_writes_nothing_and_says_what_to_do(tenant: Tenant, admin: User) -> None:
    grant(admin)
    responses.post(
        f"{GRAPH}/111/subscribed_apps",
        status=400,
        json={
            "error": {
                "message": "Error validating access token",
                "type": "OAuthException",
                "code": 190,
                "error_subcode": 460,
                "fbtrace_id": "AbC",
            }
        },
    )
    with pytest.raises(DomainError, match="Continue with Facebook again to renew it") as caught:
        services.page_connect(tenant=tenant, actor=actor(admin), page_id="111")
    assert "test-page-token" not in str(caught.value.details)
    assert not ConnectedPage.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="page.").exists()


@responses.activate
def test_facebook_down_is_a_503(tenant: Tenant, admin: User) -> None:
    grant(admin)
    responses.post(
        f"{GRAPH}/111/subscribed_apps",
        status=500,
        json={"error": {"message": "x", "code": 2, "is_transient": True}},
    )
    with pytest.raises(DomainError) as caught:
        services.page_connect(tenant=tenant, actor=actor(admin), page_id="111")
    assert caught.value.status == 503


def test_candidates_say_where_a_page_is_connected(tenant: Tenant, admin: User) -> None:
    other = TenantFactory.create(slug="elsewhere")
    ConnectedPageFactory.create(tenant=other, page_id="111")
    here = ConnectedPageFactory.create(tenant=tenant, page_id="222", status=PageStatus.NEEDS_REAUTH)
    grant(admin, page_id="111")
    services.page_grants_replace(
        user=admin,
        accounts=[
            PageAccount(id="111", name="A", access_token="test-a", tasks=ALL_TASKS),
            PageAccount(id="222", name="B", access_token="test-b", tasks=ALL_TASKS),
        ],
        token_info=TokenInfo(is_valid=True, scopes=ALL_SCOPES),
    )
    a, b = services.page_candidates(tenant=tenant, user=admin)
    assert (a.page_id, a.connected_elsewhere, a.connected_here) == ("111", True, None)
    assert (b.page_id, b.connected_elsewhere, b.connected_here) == ("222", False, here)


@responses.activate
def test_changing_to_capi_fetches_a_dataset_and_is_audited(tenant: Tenant, admin: User) -> None:
    page = ConnectedPageFactory.create(
        tenant=tenant, page_id="111", transport=Transport.PAGE_ACTIVITIES, dataset_id=""
    )
    responses.post(f"{GRAPH}/111/dataset", json={"id": "777"})
    page = services.page_update(
        tenant=tenant, actor=actor(admin), page_pk=page.pk, transport="conversions_api"
    )
    assert (page.transport, page.dataset_id) == ("conversions_api", "777")
    assert AuditEvent.objects.get(action="page.transport_changed").details == {
        "transport": ["page_activities", "conversions_api"]
    }


@responses.activate
def test_disconnecting_unsubscribes_and_forgets_the_token_after_the_undo_window(
    tenant: Tenant, admin: User
) -> None:
    page = ConnectedPageFactory.create(tenant=tenant, page_id="111")
    unsubscribe = responses.delete(f"{GRAPH}/111/subscribed_apps", json={"success": True})
    page = services.page_disconnect(tenant=tenant, actor=actor(admin), page_pk=page.pk)
    assert unsubscribe.call_count == 1
    assert page.status == "disconnected"
    assert AuditEvent.objects.get(action="page.disconnected").target == page.name
    # Kept for Undo, then forgotten by the minutely task once the window is over.
    assert page.token_encrypted != ""
    assert page.disconnected_at is not None
    assert services.page_disconnect_forget_tokens(now=page.disconnected_at) == 0
    later = page.disconnected_at + timedelta(seconds=settings.PAGE_DISCONNECT_UNDO_SECONDS)
    assert services.page_disconnect_forget_tokens(now=later) == 1
    page.refresh_from_db()
    assert page.token_encrypted == ""


@pytest.mark.parametrize(
    ("debug", "status", "error"),
    [
        ({"is_valid": True, "scopes": list(ALL_SCOPES), "type": "PAGE"}, "active", ""),
        (
            {"is_valid": True, "scopes": ["pages_show_list"], "type": "PAGE"},
            "missing_permission",
            "page_events permission was removed",
        ),
        (
            {
                "is_valid": False,
                "error": {
                    "code": 190,
                    "subcode": 460,
                    "message": "The session has been invalidated",
                },
            },
            "needs_reauth",
            "The session has been invalidated",
        ),
    ],
)
@responses.activate
def test_token_health(debug: dict[str, Any], status: str, error: str, tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant, page_id="111")
    responses.get(f"{GRAPH}/debug_token", json={"data": debug})
    page = services.page_check_token(page=page)
    assert page.status == status
    assert error in page.last_error
    assert page.token_checked_at is not None
    assert AuditEvent.objects.filter(action="page.needs_attention").count() == (status != "active")


def test_a_190_anywhere_marks_the_page(tenant: Tenant) -> None:
    from graph_api.errors import TokenInvalidError

    page = ConnectedPageFactory.create(tenant=tenant)
    services.page_mark_token_invalid(
        page=page, error=TokenInvalidError(code=190, message="Session has expired", http_status=400)
    )
    page.refresh_from_db()
    assert page.status == "needs_reauth"
    assert "Session has expired" in page.last_error


def test_rotation_reencrypts_with_the_newest_key_and_the_old_key_can_go(
    tenant: Tenant, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = settings.TOKEN_ENCRYPTION_KEYS[0], "bmV3LWtleS1mb3Itcm90YXRpb24tdGVzdHMtMDAwMDA="
    pages = [ConnectedPageFactory.create(tenant=tenant, page_id=str(100 + n)) for n in range(5)]
    before = [p.token_encrypted for p in pages]

    settings.TOKEN_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_token_keys", "--batch", "2")
    assert "Re-encrypted 5 tokens" in capsys.readouterr().out
    call_command("rotate_token_keys")  # safe to re-run

    settings.TOKEN_ENCRYPTION_KEYS = [new]
    for page, old_ciphertext in zip(pages, before, strict=True):
        page.refresh_from_db()
        assert page.token_encrypted != old_ciphertext
        assert decrypt_token(page.token_encrypted) == f"test-page-token-{page.page_id}"
        with pytest.raises(TokenDecryptError):
            decrypt_token(old_ciphertext)
    assert AuditEvent.objects.filter(action="token_keys.rotated", tenant=tenant).count() == 2


def test_grants_replace_the_last_login(admin: User) -> None:
    grant(admin, page_id="1")
    grant(admin, page_id="2")
    assert list(PageGrant.objects.values_list("page_id", flat=True)) == ["2"]
