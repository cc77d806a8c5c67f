"""Threads a handoff block flagged: GET handoffs/, POST handoffs/<id>/resolve/ (the API), and the
old page's resolve button (the page itself is the inbox's "Needs a person" filter now)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from flows.flow_templates import LEAD_GENERATION
from flows.models import Conversation, ConversationStatus
from messenger.models import OutboundMessage
from tenants.models import AuditAction, AuditEvent, ConnectedPage, Tenant
from tenants.permissions import Role
from tests.flows.factories import FlowFactory, FlowVersionFactory, edge, handed_off, node
from tests.tenants.factories import ConnectedPageFactory, member, signed_in

# handoff_resolve takes the conversation's Redis lock: a real Redis (the runtime tests' database).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runtime_redis")]


def api(tenant: Tenant, path: str = "") -> str:
    return f"/api/v1/tenants/{tenant.slug}/handoffs/{path}"


def test_the_list_shows_open_handoffs_newest_first(
    client_for: Callable[..., APIClient], tenant: Tenant, ada_page: ConnectedPage
) -> None:
    now = timezone.now()
    older = handed_off(tenant=tenant, page=ada_page, handed_off_at=now - timedelta(hours=2))
    newer = handed_off(
        tenant=tenant,
        page=ada_page,
        psid="24571937185104",
        handed_off_at=now - timedelta(minutes=5),
        handoff_note="Unhappy customer (rated 2 of 5): late delivery",
        variables={"rating": "2", "problem": "late delivery"},
    )
    handed_off(tenant=tenant, page=ada_page, is_test=True)  # a test chat: not for agents
    waiting = handed_off(tenant=tenant, page=ada_page, status="waiting")
    handed_off(page=ConnectedPageFactory.create())  # another workspace's

    response = client_for(tenant, Role.VIEWER).get(api(tenant))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [newer.pk, older.pk]
    assert waiting.pk not in [row["id"] for row in body["results"]]
    assert newer.flow is not None
    assert newer.handed_off_at is not None
    assert body["results"][0] == {
        "id": newer.pk,
        "page": {"id": ada_page.pk, "page_id": "300000000000001", "name": "Ada's Bakery"},
        "psid": "24571937185104",
        "flow": {"id": newer.flow.pk, "name": newer.flow.name},
        "version": 1,
        "handed_off_at": newer.handed_off_at.isoformat().replace("+00:00", "Z"),
        "note": "Unhappy customer (rated 2 of 5): late delivery",
        "variables": {"rating": "2", "problem": "late delivery"},
        "state": "open",
        "status": "handed_off",
        "resolved_at": None,
        "resolved_by": None,
    }


def test_the_list_query_count_does_not_grow(
    client_for: Callable[..., APIClient], tenant: Tenant, ada_page: ConnectedPage
) -> None:
    client = client_for(tenant, Role.VIEWER)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(api(tenant)).status_code == 200
        return len(queries)

    handed_off(tenant=tenant, page=ada_page)
    one = count()
    for _ in range(5):
        handed_off(tenant=tenant, page=ConnectedPageFactory.create(tenant=tenant))
    assert count() == one


def resolve(
    client: Client, tenant: Tenant, conversation: Conversation, status_code: int = 200
) -> dict[str, Any]:
    response = client.post(api(tenant, f"{conversation.pk}/resolve/"))
    assert response.status_code == status_code, response.content
    body: dict[str, Any] = response.json()
    return body


def test_resolve_ends_a_thread_whose_handoff_leads_nowhere(
    client_for: Callable[..., APIClient], tenant: Tenant, ada_page: ConnectedPage
) -> None:
    editor = member(tenant, Role.EDITOR, email="eve@example.com")
    client = client_for()
    client.force_login(editor.user)
    version = FlowVersionFactory.create(
        flow=FlowFactory.create(tenant=tenant, page=ada_page), document=LEAD_GENERATION.document()
    )
    conversation = handed_off(tenant=tenant, page=ada_page, flow_version=version)

    body = resolve(client, tenant, conversation)
    conversation.refresh_from_db()
    assert (body["state"], body["status"], body["resolved_by"]) == (
        "resolved",
        "ended",
        "eve@example.com",
    )
    assert conversation.status == ConversationStatus.ENDED
    assert conversation.handoff_resolved_by == editor.user
    audit = AuditEvent.objects.get(tenant=tenant, action=AuditAction.HANDOFF_RESOLVED)
    assert (audit.actor, audit.target, audit.details) == (
        editor.user,
        f"{ada_page.name} / {conversation.psid}",
        {"conversation_id": conversation.pk, "status": "ended"},
    )
    assert conversation.handoff_resolved_at is not None
    assert body["resolved_at"] == conversation.handoff_resolved_at.isoformat().replace(
        "+00:00", "Z"
    )

    listed = client.get(api(tenant), {"state": "resolved"}).json()["results"]
    assert [row["id"] for row in listed] == [conversation.pk]
    assert client.get(api(tenant)).json()["count"] == 0
    assert resolve(client, tenant, conversation, 409)["error"]["code"] == "conflict"


def test_resolve_resumes_the_flow_after_the_handoff(
    client_for: Callable[..., APIClient], tenant: Tenant, ada_page: ConnectedPage
) -> None:
    document = {
        "nodes": [
            node("start", "start"),
            node("to_team", "handoff", note="Call them"),
            node("back", "send_message", text="Thanks for waiting, {{name}}! Anything else?"),
            node("end", "end"),
        ],
        "edges": [edge("start", "to_team"), edge("to_team", "back"), edge("back", "end")],
    }
    version = FlowVersionFactory.create(
        flow=FlowFactory.create(tenant=tenant, page=ada_page), document=document
    )
    conversation = handed_off(
        tenant=tenant, page=ada_page, flow_version=version, variables={"name": "Ada"}
    )

    body = resolve(client_for(tenant, Role.EDITOR), tenant, conversation)
    assert body["status"] == "ended"
    sent = OutboundMessage.objects.get(conversation=conversation)
    assert sent.message == {"text": "Thanks for waiting, Ada! Anything else?"}
    assert sent.status == "pending"  # the runtime sends it through the Send API


@pytest.mark.parametrize(
    ("role", "list_status", "resolve_status"),
    [
        (Role.VIEWER, 200, 403),
        (Role.EDITOR, 200, 200),
        (Role.ADMIN, 200, 200),
    ],
)
def test_permissions(
    client_for: Callable[..., APIClient],
    tenant: Tenant,
    ada_page: ConnectedPage,
    role: str,
    list_status: int,
    resolve_status: int,
) -> None:
    conversation = handed_off(tenant=tenant, page=ada_page)
    client = client_for(tenant, role)
    assert client.get(api(tenant)).status_code == list_status
    response = client.post(api(tenant, f"{conversation.pk}/resolve/"))
    assert response.status_code == resolve_status
    expected = ConversationStatus.HANDED_OFF if resolve_status == 403 else ConversationStatus.ENDED
    conversation.refresh_from_db()
    assert conversation.status == expected


def test_a_test_chat_or_another_tenants_thread_is_404(
    client_for: Callable[..., APIClient],
    tenant: Tenant,
    other_tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    client = client_for(tenant, Role.EDITOR)
    test_chat = handed_off(tenant=tenant, page=ada_page, is_test=True)
    theirs = handed_off(tenant=other_tenant)
    for conversation in (test_chat, theirs):
        assert resolve(client, tenant, conversation, 404)["error"]["code"] == "not_found"
        conversation.refresh_from_db()
        assert conversation.status == ConversationStatus.HANDED_OFF


def test_a_bad_state_filter_is_400(client_for: Callable[..., APIClient], tenant: Tenant) -> None:
    response = client_for(tenant, Role.VIEWER).get(api(tenant), {"state": "closed"})
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["state"]


# --- The page -------------------------------------------------------------------------------


def test_viewers_cannot_press_the_old_resolve_button(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    conversation = handed_off(tenant=tenant, page=ada_page)
    response = signed_in(tenant, Role.VIEWER).post(
        f"/t/{tenant.slug}/handoffs/{conversation.pk}/resolve/"
    )
    assert response.status_code == 403


def test_the_resolved_button(tenant: Tenant, ada_page: ConnectedPage) -> None:
    conversation = handed_off(tenant=tenant, page=ada_page, psid="24571937185104")
    client = signed_in(tenant)
    response = client.post(f"/t/{tenant.slug}/handoffs/{conversation.pk}/resolve/", follow=True)
    assert response.redirect_chain == [
        (f"/t/{tenant.slug}/handoffs/", 302),
        (f"/t/{tenant.slug}/inbox/?state=needs", 302),
    ]
    html = response.content.decode()
    assert "Resolved: the bot answers 24571937185104 on Ada&#x27;s Bakery again." in html
    assert "No conversation needs a person right now." in html
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.ENDED
    html = client.get(f"/t/{tenant.slug}/inbox/", {"state": "closed"}).content.decode()
    assert "<code>24571937185104</code>" in html
    # Resolving again says why not.
    response = client.post(f"/t/{tenant.slug}/handoffs/{conversation.pk}/resolve/", follow=True)
    assert "This conversation is not handed off (any more)" in response.content.decode()


def test_another_tenants_thread_is_404_on_the_page(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = handed_off(tenant=other_tenant)
    response = signed_in(tenant).post(f"/t/{tenant.slug}/handoffs/{theirs.pk}/resolve/")
    assert response.status_code == 404
