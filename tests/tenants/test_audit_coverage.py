"""Every state-changing entry point of the services writes an audit row.

The test lists the public functions of each service module and fails on one it does not know:
a new entry point must be added either to AUDITED, with a scenario that calls it and the action
it must record (the scenario runs, and the row is checked), to AUDITED_ELSEWHERE (it needs the
Graph API; the named test checks its row) or to NOT_AUDITED, saying why no row is wanted.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

import events.services
import flows.services
import insights.services
import messenger.inbox
import messenger.people
import tenants.services.pages
import tenants.services.workspaces
from events.models import EventStatus
from flows.models import Flow
from insights.models import AdsConnection, FollowedAdAccount
from tenants import services
from tenants.models import ApiKey, AuditEvent, Membership, Tenant
from tenants.permissions import Role
from tests.events.factories import LoggedEventFactory
from tests.flows.factories import published_flow
from tests.tenants.factories import ConnectedPageFactory, member

pytestmark = pytest.mark.django_db

MODULES: list[ModuleType] = [
    tenants.services.workspaces,
    tenants.services.pages,
    flows.services,
    events.services,
    insights.services,
    messenger.inbox,
    messenger.people,
]

Scenario = Callable[[Tenant, services.Actor], object]


def _flow(tenant: Tenant) -> Flow:
    return published_flow(tenant, page=ConnectedPageFactory.create(tenant=tenant))


def _other(tenant: Tenant, role: str = Role.EDITOR) -> Membership:
    return member(tenant, role)


def _key(tenant: Tenant, actor: services.Actor) -> ApiKey:
    return services.api_key_create(tenant=tenant, actor=actor, name="Zapier")[0]


def _follow(tenant: Tenant, actor: services.Actor) -> object:
    connection = AdsConnection.objects.create(
        tenant=tenant, facebook_user_id="1", facebook_user_name="Ada", token_encrypted="x"
    )
    account = FollowedAdAccount.objects.create(
        tenant=tenant, connection=connection, account_id="act_1", name="Ada's Ads"
    )
    return insights.services.ad_accounts_follow(
        tenant=tenant, actor=actor, account_ids=[account.pk]
    )


def _replay(tenant: Tenant, actor: services.Actor) -> object:
    event = LoggedEventFactory.create(
        page=ConnectedPageFactory.create(tenant=tenant), status=EventStatus.FAILED
    )
    return events.services.events_replay(tenant=tenant, actor=actor, event_ids=[event.pk])


def _undo_removal(tenant: Tenant, actor: services.Actor) -> object:
    gone = _other(tenant)
    services.member_remove(tenant=tenant, actor=actor, membership_id=gone.pk)
    return services.member_remove_undo(tenant=tenant, actor=actor, user_id=gone.user_id)


def _restore_workspace(tenant: Tenant, actor: services.Actor) -> object:
    services.tenant_schedule_deletion(tenant=tenant, actor=actor, confirm_name=tenant.name)
    return services.tenant_restore(tenant=tenant, actor=actor)


def _first_use(tenant: Tenant, actor: services.Actor) -> object:
    _, secret = services.api_key_create(tenant=tenant, actor=actor, name="Zapier")
    return services.api_key_authenticate(secret)


def _export_import(tenant: Tenant, actor: services.Actor) -> object:
    flow = _flow(tenant)
    return flows.services.flow_import(
        tenant=tenant, actor=actor, page_id=flow.page_id, data=flows.services.flow_export(flow=flow)
    )


# name: (scenario, the action its row records)
AUDITED: dict[str, tuple[Scenario, str]] = {
    "tenant_create": (
        lambda t, a: services.tenant_create(name="New", country="US", owner=a.user, actor=a),  # type: ignore[arg-type]
        "tenant.created",
    ),
    "tenant_update": (
        lambda t, a: services.tenant_update(tenant=t, actor=a, name="Renamed"),
        "tenant.updated",
    ),
    "tenant_schedule_deletion": (
        lambda t, a: services.tenant_schedule_deletion(tenant=t, actor=a, confirm_name=t.name),
        "tenant.deletion_scheduled",
    ),
    "tenant_restore": (_restore_workspace, "tenant.restored"),
    "member_add": (
        lambda t, a: services.member_add(
            tenant=t,
            actor=a,
            email=User.objects.create(username="z", email="z@x.io").email,
            role=Role.VIEWER,
        ),
        "member.added",
    ),
    "member_change_role": (
        lambda t, a: services.member_change_role(
            tenant=t, actor=a, membership_id=_other(t).pk, role=Role.VIEWER
        ),
        "member.role_changed",
    ),
    "member_remove": (
        lambda t, a: services.member_remove(tenant=t, actor=a, membership_id=_other(t).pk),
        "member.removed",
    ),
    "member_remove_undo": (_undo_removal, "member.restored"),
    "api_key_create": (_key, "api_key.created"),
    "api_key_revoke": (
        lambda t, a: services.api_key_revoke(tenant=t, actor=a, key_id=_key(t, a).pk),
        "api_key.revoked",
    ),
    "api_key_authenticate": (_first_use, "api_key.first_used"),
    "flow_create": (
        lambda t, a: flows.services.flow_create(
            tenant=t, actor=a, page_id=ConnectedPageFactory.create(tenant=t).pk, name="Leads"
        ),
        "flow.created",
    ),
    "flow_update_draft": (
        lambda t, a: flows.services.flow_update_draft(
            tenant=t, actor=a, flow_id=(f := _flow(t)).pk, revision=f.revision, name="Spring"
        ),
        "flow.updated",
    ),
    "flow_delete": (
        lambda t, a: flows.services.flow_delete(tenant=t, actor=a, flow_id=_flow(t).pk),
        "flow.deleted",
    ),
    "flow_publish": (
        lambda t, a: flows.services.flow_publish(tenant=t, actor=a, flow_id=_flow(t).pk),
        "flow.published",
    ),
    "flow_restore": (
        lambda t, a: flows.services.flow_restore(tenant=t, actor=a, flow_id=_flow(t).pk, number=1),
        "flow.restored",
    ),
    "flow_duplicate": (
        lambda t, a: flows.services.flow_duplicate(tenant=t, actor=a, flow_id=_flow(t).pk),
        "flow.duplicated",
    ),
    "flow_import": (_export_import, "flow.imported"),
    "events_replay": (_replay, "events.replayed"),
    "ad_accounts_follow": (_follow, "ad_accounts.followed"),
}

# They call the Graph API (or its sandbox); the named tests check their audit rows.
AUDITED_ELSEWHERE: dict[str, str] = {
    "page_connect": "tests/tenants/test_pages_services.py",
    "page_disconnect": "tests/tenants/test_confirmations.py",
    "page_disconnect_undo": "tests/tenants/test_confirmations.py",
    "page_update": "tests/tenants/test_pages_services.py (the transport switch)",
    "ads_connection_save": "tests/insights/test_ads_reader.py (through the sandbox)",
    "token_keys_rotate": "tests/tenants/test_pages_services.py",
    "page_disconnect_forget_tokens": "tests/tenants/test_confirmations.py (a task)",
    "inbox_reply": "tests/messenger/test_inbox.py (taking a bot's thread over is audited)",
    "inbox_hand_back": "tests/messenger/test_handoffs.py (handoff_resolve's row)",
    "inbox_close": "tests/messenger/test_inbox.py",
    "person_delete": "tests/messenger/test_people.py",
    "events_forget_person": "tests/messenger/test_people.py (person_delete's row)",
}

NOT_AUDITED: dict[str, str] = {
    # Reads, checks and helpers: nothing changes.
    **dict.fromkeys(
        [
            "audit_record",
            "role_of",
            "actor_role",
            "actor_can",
            "require_permission",
            "hash_api_key",
            "api_key_owner_role",
            "member_remove_undo_window",
            "member_removals_undoable",
            "workspace_deletion_grace",
            "region_allows_page_activities",
            "default_transport",
            "page_grant_token_expiry",
            "page_candidates",
            "page_disconnect_undo_window",
            "page_can_undo_disconnect",
            "token_count",
            "flow_version_get",
            "flow_validate",
            "flow_export",
            "flow_versions_diff",
            "flow_version_draft_diff",
            "read_window",
            "inbox_conversations",
            "inbox_counts",
            "inbox_cursor",
            "conversation_for_inbox",
            "transcript_cursor",
            "transcript",
            "where_the_flow_is",
            "gathered",
            "cached_names",
            "reply_window",
            "people_list",
            "person_get",
            "person_for",
            "person_conversations",
        ],
        "reads or checks; changes nothing",
    ),
    "membership_mark_used": "remembers the last workspace a person opened, for sign-in",
    "tenants_purge_due": "the audit log goes with the workspace; the log line records it",
    "page_grants_replace": "a login's list of Pages, before anything joins the workspace",
    "page_grants_forget_tokens": "a task forgetting a login's tokens after its time",
    "pages_reconnect_after_login": "renews tokens of Pages already connected, by a login",
    "page_ensure_dataset": "Facebook's dataset id, looked up once, for a connected Page",
    "page_mark_token_invalid": "Facebook's answer, shown on the Page; a task, not a person",
    "page_mark_permission_missing": "Facebook's answer, shown on the Page; a task",
    "page_check_token": "a check of the token's state against Facebook",
    "log_events": "each event is its own record: the delivery log",
    "log_event_batch": "each event is its own record: the delivery log",
    "events_move_transport": "part of page_update's transport switch, which is audited",
    "ad_account_read_soon": "asks for an earlier read; changes no setting",
    "ad_account_read": "a task reading Ads Manager's numbers",
    "membership_notify_set": "a member's own email preference, shown on the inbox",
    "handoff_notify": "a task sending emails; the handoff itself is in the transcript",
    "person_seen": "the runtime's bookkeeping of when someone wrote",
    "person_name_keep": "Facebook's name for a person, kept for search",
    "person_tag_add": "a label for finding people; shown on the person",
    "person_tag_remove": "a label for finding people; shown on the person",
}


def entry_points() -> set[str]:
    return {
        name
        for module in MODULES
        for name, value in vars(module).items()
        if inspect.isfunction(value)
        and value.__module__ == module.__name__
        and not name.startswith("_")
    }


def test_every_service_entry_point_is_classified() -> None:
    known = AUDITED.keys() | AUDITED_ELSEWHERE.keys() | NOT_AUDITED.keys()
    unknown = sorted(entry_points() - known)
    assert unknown == [], (
        "New service entry points: add each to AUDITED (with a scenario), AUDITED_ELSEWHERE or "
        f"NOT_AUDITED (with why) in {__name__}: {unknown}"
    )
    assert sorted(known - entry_points()) == [], "classified functions that no longer exist"


@pytest.mark.parametrize("name", sorted(AUDITED))
def test_each_state_change_writes_an_audit_row_naming_the_actor(name: str) -> None:
    tenant = Tenant.objects.create(name="Acme Bikes", slug="acme-bikes", country="US")
    owner = member(tenant, Role.OWNER, email="owner@example.com").user
    actor = services.Actor(user=owner, ip_address="192.0.2.1")
    scenario, action = AUDITED[name]
    since = timezone.now()
    scenario(tenant, actor)
    rows = AuditEvent.objects.filter(action=action, created_at__gte=since)
    assert rows.exists(), f"{name} wrote no {action} audit row"
    row = rows.latest("created_at")
    if name == "api_key_authenticate":
        assert row.actor_label.startswith("API key “Zapier”")
        assert row.actor_label.endswith("of owner@example.com")
    else:
        assert row.actor_label == "owner@example.com"
