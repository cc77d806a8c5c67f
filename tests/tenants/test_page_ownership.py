"""A Page is connected in at most one workspace (issue #12, access 2; ADR 0009).

Connecting a Page that another workspace holds is refused with what to do, or is an explicit
transfer by an admin of that workspace or a person with the Page's MANAGE task on Facebook,
recorded in both audit logs and shown to the first workspace's admins. A database constraint
holds the rule. After every path (connect, transfer, disconnect, reconnect) the webhook
runtime routes the Page's Messenger traffic to the one workspace that holds it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.test import Client

from flows.models import Conversation, TriggerKind
from graph_api.types import PageAccount, TokenInfo
from messenger import runtime
from messenger.models import WebhookDelivery
from tenants import services
from tenants.exceptions import Conflict, PermissionDenied
from tenants.models import AuditEvent, ConnectedPage, PageStatus, Tenant
from tenants.permissions import Role
from tenants.services import pages as page_services
from tests.flows.factories import published_flow
from tests.messenger.runtime_support import (
    encode,
    entry,
    envelope,
    text,
)
from tests.tenants.factories import (
    ConnectedPageFactory,
    MembershipFactory,
    TenantFactory,
    member,
)
from tests.tenants.helpers import GRAPH

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runtime_redis")]

PAGE = "300000000000001"
SCOPES = (
    "page_events",
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "business_management",
)
PAGE_ADMIN_TASKS = ("ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE")
MODERATOR_TASKS = ("ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT")
_psids = itertools.count(6100000000000100)


@pytest.fixture(autouse=True)
def graph() -> Iterator[responses.RequestsMock]:
    """Facebook, stubbed at the edge: subscribing, unsubscribing, the Page's dataset."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{GRAPH}/{PAGE}/subscribed_apps", json={"success": True})
        mock.delete(f"{GRAPH}/{PAGE}/subscribed_apps", json={"success": True})
        mock.post(f"{GRAPH}/{PAGE}/dataset", json={"id": "555"})
        yield mock


def found_by_login(user: User, *, tasks: tuple[str, ...] = PAGE_ADMIN_TASKS) -> None:
    """What the person's last Facebook Login recorded: the Page, with these tasks."""
    account = PageAccount(
        id=PAGE, name="Ada's Bakery", access_token=f"test-page-token-{user.pk}", tasks=tasks
    )
    services.page_grants_replace(
        user=user, accounts=[account], token_info=TokenInfo(is_valid=True, scopes=SCOPES)
    )


def connect(tenant: Tenant, user: User, **options: Any) -> ConnectedPage:
    return services.page_connect(
        tenant=tenant, actor=services.Actor(user=user), page_id=PAGE, **options
    )


def routed_to() -> str:
    """Send the Page one Messenger message, as Facebook would, and say which workspace's bot
    answered it (its slug), or why none did."""
    delivery = WebhookDelivery.objects.create(
        body=encode(envelope(entry(PAGE, text(PAGE, str(next(_psids)), "hi"))))
    )
    before = set(Conversation.objects.values_list("pk", flat=True))
    report = runtime.delivery_process(delivery_id=delivery.pk)
    if report.unrouted:
        return report.unrouted[0]["reason"]
    [started] = Conversation.objects.exclude(pk__in=before).select_related("tenant")
    return started.tenant.slug


def bot(tenant: Tenant) -> None:
    """A published flow on the workspace's connection of the Page that answers anything."""
    page = ConnectedPage.objects.get(tenant=tenant, page_id=PAGE)
    published_flow(tenant, page=page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[])


@pytest.fixture
def first() -> tuple[Tenant, User]:
    """Workspace A: its admin connected the Page, and its bot answers it."""
    tenant = TenantFactory.create(name="Ada's Bakery HQ", slug="first")
    admin = member(tenant, Role.ADMIN, email="ada@example.com").user
    found_by_login(admin)
    connect(tenant, admin)
    bot(tenant)
    return tenant, admin


@pytest.fixture
def second() -> tuple[Tenant, User]:
    """Workspace B, whose admin's login also found the Page."""
    tenant = TenantFactory.create(name="Rival Agency", slug="second")
    return tenant, member(tenant, Role.ADMIN, email="bob@example.com").user


def test_connecting_a_page_held_elsewhere_is_refused_saying_what_to_do(
    first: tuple[Tenant, User], second: tuple[Tenant, User], graph: responses.RequestsMock
) -> None:
    tenant, bob = second
    found_by_login(bob, tasks=MODERATOR_TASKS)  # may connect a Page, but is no Page admin
    assert routed_to() == "first"  # its bot answers (a Send API call)
    subscribes_before = len(graph.calls)

    with pytest.raises(Conflict) as refused:
        connect(tenant, bob)

    assert refused.value.status == 409
    assert refused.value.code == "page_connected_elsewhere"
    assert refused.value.message == (
        "“Ada's Bakery” is connected in another Pagepulse workspace, and a Page runs in one "
        "workspace at a time. Ask an admin of that workspace to disconnect it there first. "
        "(A transfer here needs an admin of that workspace, or a person with full control of "
        "the Page on Facebook: the MANAGE task.)"
    )
    assert refused.value.details["transferable"] is False
    assert not ConnectedPage.objects.filter(tenant=tenant).exists()
    assert len(graph.calls) == subscribes_before  # nothing was asked of Facebook
    assert routed_to() == "first"


def test_the_api_answers_409_and_offers_the_transfer_to_a_page_admin(
    first: tuple[Tenant, User], second: tuple[Tenant, User]
) -> None:
    tenant, bob = second
    found_by_login(bob)  # holds MANAGE: may transfer, but must say so
    client = Client()
    client.force_login(bob)
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/pages/", {"page_id": PAGE}, content_type="application/json"
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "page_connected_elsewhere"
    assert "Disconnect it there first, or transfer it here" in error["message"]
    assert error["details"] == {
        "page_id": ["Connected in another workspace."],
        "transferable": True,
    }
    [candidate] = client.get(f"/api/v1/tenants/{tenant.slug}/pages/available/").json()
    assert (candidate["connected_elsewhere"], candidate["transferable"]) == (True, True)
    assert candidate["connectable"] is True
    assert routed_to() == "first"


def test_a_transfer_needs_a_page_admin_or_an_admin_of_the_first_workspace(
    first: tuple[Tenant, User], second: tuple[Tenant, User]
) -> None:
    tenant, bob = second
    found_by_login(bob, tasks=MODERATOR_TASKS)
    with pytest.raises(PermissionDenied):
        connect(tenant, bob, transfer=True)
    assert not ConnectedPage.objects.filter(tenant=tenant).exists()
    assert ConnectedPage.objects.get(tenant=first[0]).status == PageStatus.ACTIVE
    assert not AuditEvent.objects.filter(action__startswith="page.transferred").exists()
    assert routed_to() == "first"


def test_a_page_admin_transfers_it_audited_in_both_workspaces_and_the_first_is_told(
    first: tuple[Tenant, User], second: tuple[Tenant, User]
) -> None:
    (a, ada), (b, bob) = first, second
    found_by_login(bob)  # MANAGE: full control of the Page on Facebook
    page = connect(b, bob, transfer=True)
    bot(b)

    assert (page.tenant, page.status) == (b, PageStatus.ACTIVE)
    old = ConnectedPage.objects.get(tenant=a)
    assert (old.status, old.token_encrypted) == (PageStatus.DISCONNECTED, "")
    assert old.transferred_at is not None
    out = AuditEvent.objects.get(tenant=a, action="page.transferred_out")
    into = AuditEvent.objects.get(tenant=b, action="page.transferred_in")
    assert (out.actor, out.target, out.details) == (
        bob,
        "Ada's Bakery",
        {"page_id": PAGE, "proof": "page_admin_on_facebook"},
    )
    assert (into.actor, into.details) == (
        bob,
        {"page_id": PAGE, "transport": "conversions_api", "proof": "page_admin_on_facebook"},
    )
    assert routed_to() == "second"

    # The first workspace's admins see it on their Pages screen.
    screen = Client()
    screen.force_login(ada)
    html = screen.get(f"/t/{a.slug}/pages/").content.decode()
    assert "“Ada&#x27;s Bakery” was transferred to another workspace" in html
    assert "Transferred to another Pagepulse workspace by bob@example.com on " in html
    assert "Transferred away" in html


def test_an_admin_of_the_first_workspace_may_transfer_without_the_manage_task(
    first: tuple[Tenant, User],
) -> None:
    a, ada = first
    b = TenantFactory.create(slug="branch")
    MembershipFactory.create(tenant=b, user=ada, role=Role.ADMIN)
    found_by_login(ada, tasks=MODERATOR_TASKS)
    connect(b, ada, transfer=True)
    bot(b)
    out = AuditEvent.objects.get(tenant=a, action="page.transferred_out")
    assert out.details["proof"] == "admin_of_previous_workspace"
    assert routed_to() == "branch"


def test_routing_follows_connect_transfer_disconnect_and_reconnect(
    first: tuple[Tenant, User], second: tuple[Tenant, User]
) -> None:
    (a, ada), (b, bob) = first, second
    assert routed_to() == "first"  # connect

    found_by_login(bob)
    connect(b, bob, transfer=True)  # transfer
    bot(b)
    assert routed_to() == "second"

    services.page_disconnect(  # disconnect
        tenant=b, actor=services.Actor(user=bob), page_pk=ConnectedPage.objects.get(tenant=b).pk
    )
    assert routed_to() == "disconnected_page"

    found_by_login(ada)
    page = connect(a, ada)  # reconnect in the first workspace: nobody holds it now
    assert (page.status, page.transferred_at) == (PageStatus.ACTIVE, None)
    assert routed_to() == "first"
    assert AuditEvent.objects.filter(tenant=a, action="page.reconnected").count() == 1

    with pytest.raises(Conflict):  # and the second workspace may not simply take it back
        connect(b, bob)
    assert routed_to() == "first"


def test_the_database_refuses_a_second_connection_of_a_page(first: tuple[Tenant, User]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ConnectedPageFactory.create(
            tenant=TenantFactory.create(), page_id=PAGE, status=PageStatus.NEEDS_REAUTH
        )
    # Disconnected rows are history, and may be many.
    ConnectedPageFactory.create(
        tenant=TenantFactory.create(), page_id=PAGE, status=PageStatus.DISCONNECTED
    )
    ConnectedPageFactory.create(
        tenant=TenantFactory.create(), page_id=PAGE, status=PageStatus.DISCONNECTED
    )
    assert ConnectedPage.objects.filter(page_id=PAGE).exclude(status="disconnected").count() == 1


def test_a_race_lost_to_another_workspace_is_a_409_and_writes_nothing(
    first: tuple[Tenant, User], second: tuple[Tenant, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both checked before either wrote: the constraint decides, and the loser is told."""
    tenant, bob = second
    found_by_login(bob)
    monkeypatch.setattr(page_services, "_page_elsewhere", lambda **_: None)
    with pytest.raises(Conflict) as refused:
        connect(tenant, bob)
    assert refused.value.code == "page_connected_elsewhere"
    assert not ConnectedPage.objects.filter(tenant=tenant).exists()
    assert not AuditEvent.objects.filter(tenant=tenant, action__startswith="page.").exists()
    assert routed_to() == "first"


def test_the_picker_offers_a_transfer_button_to_a_page_admin(
    first: tuple[Tenant, User], second: tuple[Tenant, User]
) -> None:
    tenant, bob = second
    found_by_login(bob)
    client = Client()
    client.force_login(bob)
    html = client.get(f"/t/{tenant.slug}/pages/").content.decode()
    assert '<input type="hidden" name="transfer" value="1">' in html
    assert 'aria-label="Transfer Ada&#x27;s Bakery here"' in html
    moved = client.post(
        f"/t/{tenant.slug}/pages/connect/", {"page_id": PAGE, "transfer": "1"}, follow=True
    )
    assert "is transferred here and connected; the other workspace" in moved.content.decode()
    assert ConnectedPage.objects.get(tenant=tenant).status == PageStatus.ACTIVE


def test_the_picker_tells_a_moderator_to_ask_for_a_disconnect(
    first: tuple[Tenant, User], second: tuple[Tenant, User]
) -> None:
    tenant, bob = second
    found_by_login(bob, tasks=MODERATOR_TASKS)
    client = Client()
    client.force_login(bob)
    html = client.get(f"/t/{tenant.slug}/pages/").content.decode()
    assert "Ask an admin of that workspace to disconnect it there first." in html
    assert 'name="transfer"' not in html
