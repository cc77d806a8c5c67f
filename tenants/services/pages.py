"""Connected Facebook Pages: what a login found, connecting, health, transports, key rotation.

Graph calls go through `graph_api` only, and happen before the database transaction that
records their outcome, so a slow Facebook never holds a row lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from graph_api.client import GraphClient
from graph_api.errors import (
    GraphError,
    InvalidRequestError,
    PermissionMissingError,
    TokenInvalidError,
)
from graph_api.types import PageAccount, TokenInfo
from tenants.crypto import decrypt_token, encrypt_token, rotate_token
from tenants.exceptions import Conflict, DomainError, NotFound, PermissionDenied
from tenants.models import (
    AuditAction,
    ConnectedPage,
    Membership,
    PageGrant,
    PageStatus,
    Tenant,
    Transport,
)
from tenants.permissions import role_can
from tenants.services.workspaces import Actor, audit_record, require_permission
from tenants.signals import announce_page_active
from tenants.transports import check_switch, transport_status

logger = logging.getLogger(__name__)

# What Facebook Login asks for (DESIGN.md §5, reference §3.1 and §5).
FACEBOOK_SCOPES = (
    "page_events",
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "business_management",
)
EVENTS_SCOPE = "page_events"
# Tasks: ANALYZE to log events (the guide), one of these to subscribe webhooks (reference §5.4).
EVENTS_TASK = "ANALYZE"
WEBHOOK_TASKS = frozenset({"MANAGE", "MODERATE", "CREATE_CONTENT"})
# Facebook's task of a Page's admins ("full control"): holding it on Facebook, as the person's
# login recorded, is proof enough to take a Page over from another workspace (ADR 0009).
PAGE_ADMIN_TASK = "MANAGE"

# The Events API for Business Messaging "is currently not available for businesses or
# customers based in Europe or Japan" (the guide): the EU, the EEA, the UK, Switzerland, Japan.
NO_PAGE_ACTIVITIES_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
        "GB",
        "CH",
        "JP",
    ]
)


class FacebookUnavailable(DomainError):
    code = "facebook_unavailable"
    status = 503


class PageConnectedElsewhere(Conflict):
    """The Page is connected in another workspace; it must be disconnected or transferred."""

    code = "page_connected_elsewhere"


def region_allows_page_activities(tenant: Tenant) -> bool:
    # Fails closed: a workspace without a country (one stored before countries were checked)
    # may be in Europe or Japan.
    country = str(tenant.country)
    return bool(country) and country not in NO_PAGE_ACTIVITIES_COUNTRIES


def _check_transport(tenant: Tenant, transport: str, *, choosing: bool = True) -> None:
    """Refuse a transport the workspace may not use; ``choosing`` (not a reconnect on the
    Page's own transport) also refuses one Facebook no longer serves."""
    if transport not in Transport.values:
        raise DomainError(
            f"Unknown transport {transport!r}: use 'conversions_api' or 'page_activities'.",
            details={"transport": ["Not a transport."]},
        )
    if transport == Transport.PAGE_ACTIVITIES and not region_allows_page_activities(tenant):
        raise DomainError(
            f"The Events API for Business Messaging (page_activities) is not available to "
            f"businesses in Europe or Japan, and this workspace's country is "
            f"{tenant.country.name or 'not set (set it in the settings)'}. "
            "Use the Conversions API transport.",
            details={"transport": ["Not available in this workspace's country."]},
        )
    status = transport_status(transport)
    if choosing and not status.selectable:
        raise DomainError(status.refusal, details={"transport": [status.refusal]})


def default_transport(tenant: Tenant) -> str:
    """What a new Page gets: ``DEFAULT_EVENT_TRANSPORT``, unless its region or Facebook no
    longer offers that (then the Conversions API)."""
    transport: str = settings.DEFAULT_EVENT_TRANSPORT
    if transport == Transport.PAGE_ACTIVITIES and (
        not region_allows_page_activities(tenant) or not transport_status(transport).selectable
    ):
        return Transport.CONVERSIONS_API
    return transport


def _graph_failure(error: GraphError, page_name: str) -> DomainError:
    """Turn a Graph error met while connecting into an error a person can act on."""
    if isinstance(error, TokenInvalidError):
        return DomainError(
            f"Facebook no longer accepts Pagepulse's access to “{page_name}”. Continue with "
            "Facebook again to renew it, then connect the Page.",
            details={"facebook": [str(error)]},
        )
    if isinstance(error, PermissionMissingError):
        return DomainError(
            f"Facebook refused: a permission or Page task is missing for “{page_name}” "
            f"({error.message}). Continue with Facebook again and allow every permission.",
            details={"facebook": [str(error)]},
        )
    if isinstance(error, InvalidRequestError):
        return DomainError(
            f"Facebook refused the request for “{page_name}”: {error.message}",
            details={"facebook": [str(error)]},
        )
    return FacebookUnavailable(
        "Facebook did not answer properly just now; nothing was changed. Try again in a minute.",
        details={"facebook": [str(error)]},
    )


# --- What a login found --------------------------------------------------------------------


def _page_scopes(info: TokenInfo, page_id: str) -> list[str]:
    """The scopes the person granted that cover this Page (granular grants can exclude it)."""
    granted = []
    for scope in info.scopes:
        targets = info.target_ids(scope)
        if targets is not None and (not targets or page_id in targets):
            granted.append(scope)
    return sorted(granted)


@transaction.atomic
def page_grants_replace(
    *, user: User, accounts: Iterable[PageAccount], token_info: TokenInfo
) -> list[PageGrant]:
    """Store what a login found, replacing the person's earlier grants."""
    PageGrant.objects.filter(user=user).delete()
    now = timezone.now()
    return PageGrant.objects.bulk_create(
        PageGrant(
            user=user,
            page_id=account.id,
            name=account.name,
            tasks=sorted(account.tasks),
            scopes=_page_scopes(token_info, account.id),
            token_encrypted=encrypt_token(account.access_token),
            found_at=now,
        )
        for account in accounts
    )


TASK_WORDS = {
    "MANAGE": "full control",
    "CREATE_CONTENT": "post",
    "MODERATE": "moderate",
    "MESSAGING": "message as the Page",
    "ADVERTISE": "advertise",
    "ANALYZE": "see insights",
}
"""Facebook's Page tasks, as the Pages screen says them (the task names stay in small print)."""


@dataclass(frozen=True)
class PageCandidate:
    """A Page from the person's last login, as the picker shows it for one workspace."""

    page_id: str
    name: str
    tasks: tuple[str, ...]
    scopes: tuple[str, ...]
    connectable: bool
    reason: str
    connected_here: ConnectedPage | None
    connected_elsewhere: bool
    transferable: bool = False

    @property
    def task_words(self) -> str:
        """The person's tasks on the Page in plain words ("full control, see insights, …")."""
        return ", ".join(TASK_WORDS.get(task, task.lower()) for task in self.tasks) or "none"


def page_grant_token_expiry() -> timedelta:
    return timedelta(minutes=settings.PAGE_GRANT_TOKEN_MINUTES)


def _token_forgotten(grant: PageGrant) -> bool:
    return not grant.token_encrypted or grant.found_at <= timezone.now() - page_grant_token_expiry()


def page_grants_forget_tokens(*, user: User | None = None) -> int:
    """Forget the page tokens of `user`'s last login (at sign-out), or, without a user, of
    every login older than PAGE_GRANT_TOKEN_MINUTES. Returns how many were forgotten."""
    grants = PageGrant.objects.exclude(token_encrypted="")
    if user is not None:
        grants = grants.filter(user=user)
    else:
        grants = grants.filter(found_at__lte=timezone.now() - page_grant_token_expiry())
    forgotten = grants.update(token_encrypted="")
    if forgotten:
        logger.info("tenants.page_grants.tokens_forgotten", extra={"count": forgotten})
    return forgotten


def _blocker(grant: PageGrant) -> str:
    if EVENTS_SCOPE not in grant.scopes:
        return (
            "The page_events permission was not granted for this Page, so Pagepulse cannot "
            "log its events. Continue with Facebook again and allow it."
        )
    if EVENTS_TASK not in grant.tasks:
        return (
            "Your role on this Page lacks the ANALYZE task (“see insights”), which Facebook "
            "requires to log events. Ask a Page admin to give you analyst access or higher."
        )
    if not WEBHOOK_TASKS.intersection(grant.tasks):
        return (
            "Your role on this Page can neither manage nor moderate it, so Pagepulse cannot "
            "receive its messages. Ask a Page admin for moderator access or higher."
        )
    if _token_forgotten(grant):
        return (
            "Pagepulse keeps the access a Facebook Login gives it to your Pages only for "
            f"{settings.PAGE_GRANT_TOKEN_MINUTES} minutes after that login, and not past "
            "sign-out. Continue with Facebook again, then connect this Page."
        )
    return ""


def page_candidates(*, tenant: Tenant, user: User) -> list[PageCandidate]:
    grants = list(PageGrant.objects.filter(user=user))
    ids = [grant.page_id for grant in grants]
    here = {
        page.page_id: page
        for page in ConnectedPage.objects.for_tenant(tenant).filter(page_id__in=ids)
    }
    elsewhere = dict(
        ConnectedPage.objects.filter(page_id__in=ids)
        .exclude(tenant=tenant)
        .exclude(status=PageStatus.DISCONNECTED)
        .values_list("page_id", "tenant_id")
    )
    managed = _tenants_managed_by(user)
    candidates = []
    for grant in grants:
        blocker = _blocker(grant)
        connected = here.get(grant.page_id)
        other_tenant = elsewhere.get(grant.page_id)
        transferable = False
        if other_tenant is not None and not blocker:
            transferable = other_tenant in managed or PAGE_ADMIN_TASK in grant.tasks
            if not transferable:
                blocker = _elsewhere_message(grant.name, transferable=False)
        candidates.append(
            PageCandidate(
                page_id=grant.page_id,
                name=grant.name,
                tasks=tuple(grant.tasks),
                scopes=tuple(grant.scopes),
                connectable=not blocker,
                reason=blocker,
                connected_here=connected,
                connected_elsewhere=other_tenant is not None,
                transferable=transferable,
            )
        )
    return candidates


def _tenants_managed_by(user: User) -> set[int]:
    """The workspaces where `user` may manage Pages."""
    return {
        tenant_id
        for tenant_id, role in Membership.objects.filter(user=user).values_list("tenant_id", "role")
        if role_can(role, "page.manage")
    }


def _elsewhere_message(name: str, *, transferable: bool) -> str:
    if transferable:
        return (
            f"“{name}” is connected in another Pagepulse workspace, and a Page runs in one "
            "workspace at a time. Disconnect it there first, or transfer it here: its bot, "
            "events and handoffs then run here and stop there, and that workspace's admins are "
            "told."
        )
    return (
        f"“{name}” is connected in another Pagepulse workspace, and a Page runs in one "
        "workspace at a time. Ask an admin of that workspace to disconnect it there first. "
        "(A transfer here needs an admin of that workspace, or a person with full control of "
        "the Page on Facebook: the MANAGE task.)"
    )


# --- Connecting ----------------------------------------------------------------------------


def _page_elsewhere(*, tenant: Tenant, page_id: str) -> ConnectedPage | None:
    """The Page's connection in another workspace, if it has one (at most one: a constraint)."""
    return (
        ConnectedPage.objects.filter(page_id=page_id)
        .exclude(tenant=tenant)
        .exclude(status=PageStatus.DISCONNECTED)
        .select_related("tenant")
        .first()
    )


def _check_transfer(*, actor: Actor, grant: PageGrant, elsewhere: ConnectedPage) -> str:
    """Why the actor may take the Page over (recorded in both audit logs), or PermissionDenied."""
    if actor.user is not None and elsewhere.tenant_id in _tenants_managed_by(actor.user):
        return "admin_of_previous_workspace"
    if PAGE_ADMIN_TASK in grant.tasks:
        return "page_admin_on_facebook"
    raise PermissionDenied(
        _elsewhere_message(grant.name, transferable=False),
        details={"page_id": ["Connected in another workspace; you may not transfer it."]},
    )


def page_connect(
    *,
    tenant: Tenant,
    actor: Actor,
    page_id: str,
    transport: str | None = None,
    transfer: bool = False,
    graph: GraphClient | None = None,
) -> ConnectedPage:
    """Connect (or reconnect) a Page the acting person's last login found.

    Subscribes the app to the Page's webhooks and, for the Conversions API, creates or fetches
    the Page's dataset, then stores the page token encrypted. Nothing is written if Facebook
    refuses.

    A Page connected in another workspace is refused (`PageConnectedElsewhere`, 409) unless
    `transfer` is set and the person is an admin of that workspace or holds the Page's MANAGE
    task on Facebook (per their login); a transfer disconnects the Page there in the same
    transaction, records it in both audit logs and leaves a notice for that workspace's admins.
    """
    require_permission(tenant=tenant, actor=actor, permission="page.manage")
    if actor.user is None:
        raise PermissionDenied("Only a person who signed in with Facebook can connect a Page.")
    grant = PageGrant.objects.filter(user=actor.user, page_id=str(page_id)).first()
    if grant is None:
        raise DomainError(
            f"Your last Facebook Login did not include Page {page_id}. Continue with Facebook "
            "and select it, then connect it here.",
            details={"page_id": ["Not among the Pages your Facebook Login found."]},
        )
    if blocker := _blocker(grant):
        raise DomainError(blocker, details={"page_id": [blocker]})
    existing = ConnectedPage.objects.for_tenant(tenant).filter(page_id=grant.page_id).first()
    if transport is None:
        transport = existing.transport if existing else default_transport(tenant)
    switching = existing is not None and transport != existing.transport
    _check_transport(tenant, transport, choosing=existing is None or switching)
    if existing is not None and switching:
        check_switch(page=existing, transport=transport)
    elsewhere = _page_elsewhere(tenant=tenant, page_id=grant.page_id)
    proof = ""
    if elsewhere is not None:
        if not transfer:
            may = _may_transfer(actor=actor, grant=grant, elsewhere=elsewhere)
            raise PageConnectedElsewhere(
                _elsewhere_message(grant.name, transferable=may),
                details={"page_id": ["Connected in another workspace."], "transferable": may},
            )
        proof = _check_transfer(actor=actor, grant=grant, elsewhere=elsewhere)

    graph = graph or GraphClient.from_settings()
    token = decrypt_token(grant.token_encrypted)
    try:
        graph.subscribe_app(page_id=grant.page_id, page_token=token)
        dataset_id = existing.dataset_id if existing else ""
        if transport == Transport.CONVERSIONS_API and not dataset_id:
            dataset_id = graph.get_or_create_dataset(page_id=grant.page_id, token=token)
    except GraphError as error:
        raise _graph_failure(error, grant.name) from None

    try:
        with transaction.atomic():
            if elsewhere is not None:
                _transfer_out(page=elsewhere, actor=actor, proof=proof)
            page, created = ConnectedPage.objects.select_for_update().update_or_create(
                tenant=tenant,
                page_id=grant.page_id,
                defaults={
                    "name": grant.name,
                    "tasks": grant.tasks,
                    "granted_scopes": grant.scopes,
                    "transport": transport,
                    "dataset_id": dataset_id,
                    "status": PageStatus.ACTIVE,
                    "token_encrypted": grant.token_encrypted,
                    "token_checked_at": timezone.now(),
                    "last_error": "",
                    "connected_by": actor.user,
                    "connected_at": timezone.now(),
                    "transferred_at": None,
                },
            )
            if elsewhere is not None:
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    action=AuditAction.PAGE_TRANSFERRED_IN,
                    target=page.name,
                    details={"page_id": page.page_id, "transport": transport, "proof": proof},
                )
            else:
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    action=AuditAction.PAGE_CONNECTED if created else AuditAction.PAGE_RECONNECTED,
                    target=page.name,
                    details={"page_id": page.page_id, "transport": transport},
                )
            announce_page_active(page)
    except IntegrityError:
        # Another workspace connected the Page between our check and our write: the
        # constraint keeps the rule, and nothing of ours was written.
        raise PageConnectedElsewhere(
            _elsewhere_message(grant.name, transferable=False),
            details={"page_id": ["Connected in another workspace."], "transferable": False},
        ) from None
    logger.info(
        "tenants.page.connected",
        extra={"tenant_id": tenant.pk, "page_id": page.page_id, "transport": transport},
    )
    return page


def _may_transfer(*, actor: Actor, grant: PageGrant, elsewhere: ConnectedPage) -> bool:
    try:
        _check_transfer(actor=actor, grant=grant, elsewhere=elsewhere)
    except PermissionDenied:
        return False
    return True


def _transfer_out(*, page: ConnectedPage, actor: Actor, proof: str) -> None:
    """Disconnect `page` in its workspace because another one took it over, in the caller's
    transaction. The app's webhook subscription is shared (one app), so it is not removed."""
    locked = (
        ConnectedPage.objects.select_for_update()
        .filter(pk=page.pk)
        .exclude(status=PageStatus.DISCONNECTED)
        .first()
    )
    if locked is None:
        return  # disconnected there meanwhile: nothing to take over
    now = timezone.now()
    notice = (
        f"Transferred to another Pagepulse workspace by {actor.label} on "
        f"{now:%Y-%m-%d %H:%M} UTC: its bot, events and handoffs now run there, not here. If "
        "this was not agreed, an admin here with full control of the Page on Facebook can "
        "transfer it back from the Page picker."
    )
    ConnectedPage.objects.filter(pk=page.pk).update(
        status=PageStatus.DISCONNECTED,
        token_encrypted="",
        transferred_at=now,
        last_error=notice,
        updated_at=now,
    )
    audit_record(
        tenant=page.tenant,
        actor=actor,
        action=AuditAction.PAGE_TRANSFERRED_OUT,
        target=page.name,
        details={"page_id": page.page_id, "proof": proof},
    )
    logger.warning(
        "tenants.page.transferred",
        extra={"page_id": page.page_id, "from_tenant_id": page.tenant_id, "proof": proof},
    )


def pages_reconnect_after_login(*, user: User, graph: GraphClient | None = None) -> list[str]:
    """Put back to active every Page that needed attention and this login renewed.

    Returns the names of the Pages reconnected. A Page that still cannot be connected stays as
    it was; the Pages screen says why.
    """
    grants = {grant.page_id: grant for grant in PageGrant.objects.filter(user=user)}
    memberships = Membership.objects.filter(user=user).select_related("tenant")
    managed = [m.tenant for m in memberships if role_can(m.role, "page.manage")]
    pages = ConnectedPage.objects.filter(
        tenant__in=managed,
        page_id__in=grants,
        status__in=[PageStatus.NEEDS_REAUTH, PageStatus.MISSING_PERMISSION],
    ).select_related("tenant")
    renewed = []
    for page in pages:
        try:
            page_connect(
                tenant=page.tenant,
                actor=Actor(user=user),
                page_id=page.page_id,
                transport=page.transport,
                graph=graph,
            )
        except DomainError as error:
            logger.info(
                "tenants.page.reconnect_failed",
                extra={"page_id": page.page_id, "reason": error.code},
            )
        else:
            renewed.append(page.name)
    return renewed


def _page(tenant: Tenant, page_pk: int) -> ConnectedPage:
    page = ConnectedPage.objects.for_tenant(tenant).filter(pk=page_pk).first()
    if page is None:
        raise NotFound("No such Page in this workspace.")
    return page


def _fetch_dataset(page: ConnectedPage, graph: GraphClient | None) -> str:
    """The Page's Conversions API dataset id, created at Facebook if it has none yet."""
    if not page.token_encrypted:
        raise DomainError(
            "This Page is disconnected: connect it again before changing its transport."
        )
    graph = graph or GraphClient.from_settings()
    try:
        dataset_id: str = graph.get_or_create_dataset(
            page_id=page.page_id, token=decrypt_token(page.token_encrypted)
        )
    except GraphError as error:
        if isinstance(error, TokenInvalidError):
            page_mark_token_invalid(page=page, error=error)
        raise _graph_failure(error, page.name) from None
    return dataset_id


def page_ensure_dataset(
    *, tenant: Tenant, actor: Actor, page_pk: int, graph: GraphClient | None = None
) -> ConnectedPage:
    """Create or fetch the Page's Conversions API dataset and keep its id; the transport stays
    as it is (the first step of a move to the Conversions API, dry run included)."""
    require_permission(tenant=tenant, actor=actor, permission="page.manage")
    page = _page(tenant, page_pk)
    if page.dataset_id:
        return page
    dataset_id = _fetch_dataset(page, graph)
    ConnectedPage.objects.filter(pk=page.pk, dataset_id="").update(
        dataset_id=dataset_id, updated_at=timezone.now()
    )
    page.refresh_from_db()
    return page


def page_update(
    *,
    tenant: Tenant,
    actor: Actor,
    page_pk: int,
    transport: str | None = None,
    name: str | None = None,
    graph: GraphClient | None = None,
    keep_unsendable: bool = False,
    audit_details: dict[str, Any] | None = None,
) -> ConnectedPage:
    """Change a Page's transport or its display name.

    A transport switch first runs the checks the apps above register (tenants.transports):
    it is refused, naming the flows and blocks, while a published flow would stop delivering,
    unless ``keep_unsendable`` (the person chose to keep such events in Pagepulse only).
    """
    require_permission(tenant=tenant, actor=actor, permission="page.manage")
    page = _page(tenant, page_pk)
    dataset_id = page.dataset_id
    if transport is not None and transport != page.transport:
        _check_transport(tenant, transport)
        check_switch(page=page, transport=transport, keep_unsendable=keep_unsendable)
        if transport == Transport.CONVERSIONS_API and not dataset_id:
            dataset_id = _fetch_dataset(page, graph)
    with transaction.atomic():
        page = ConnectedPage.objects.select_for_update().get(pk=page.pk)
        if transport is not None and transport != page.transport:
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.PAGE_TRANSPORT_CHANGED,
                target=page.name,
                details={"transport": [page.transport, transport], **(audit_details or {})},
            )
            page.transport, page.dataset_id = transport, dataset_id
        if name is not None and name.strip() and name.strip() != page.name:
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.PAGE_RENAMED,
                target=name.strip(),
                details={"name": [page.name, name.strip()]},
            )
            page.name = name.strip()
        page.save(update_fields=["transport", "dataset_id", "name", "updated_at"])
    return page


def page_disconnect_undo_window() -> timedelta:
    return timedelta(seconds=settings.PAGE_DISCONNECT_UNDO_SECONDS)


def page_disconnect(
    *, tenant: Tenant, actor: Actor, page_pk: int, graph: GraphClient | None = None
) -> ConnectedPage:
    """Unsubscribe the app from the Page's webhooks and stop delivering its events.

    The row stays (status `disconnected`) so the events and flows that name it keep their page.
    Its token is kept for PAGE_DISCONNECT_UNDO_SECONDS so `page_disconnect_undo` can reconnect
    it without another Facebook Login; then `page_disconnect_forget_tokens` forgets it.
    """
    require_permission(tenant=tenant, actor=actor, permission="page.manage")
    page = _page(tenant, page_pk)
    if page.token_encrypted and page.status != PageStatus.DISCONNECTED:
        graph = graph or GraphClient.from_settings()
        try:
            graph.unsubscribe_app(
                page_id=page.page_id, page_token=decrypt_token(page.token_encrypted)
            )
        except GraphError as error:
            # A dead token cannot unsubscribe; Facebook stops sending webhooks for it anyway.
            logger.info(
                "tenants.page.unsubscribe_failed",
                extra={"page_id": page.page_id, "error_class": type(error).__name__},
            )
    with transaction.atomic():
        ConnectedPage.objects.filter(pk=page.pk).update(
            status=PageStatus.DISCONNECTED,
            disconnected_at=timezone.now(),
            updated_at=timezone.now(),
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.PAGE_DISCONNECTED,
            target=page.name,
            details={"page_id": page.page_id},
        )
    page.refresh_from_db()
    return page


def page_can_undo_disconnect(page: ConnectedPage, *, now: Any = None) -> bool:
    """Whether the Page was disconnected recently enough that its token is still kept."""
    now = now or timezone.now()
    return (
        page.status == PageStatus.DISCONNECTED
        and bool(page.token_encrypted)
        and page.disconnected_at is not None
        and page.disconnected_at > now - page_disconnect_undo_window()
    )


def page_disconnect_undo(
    *, tenant: Tenant, actor: Actor, page_pk: int, graph: GraphClient | None = None
) -> ConnectedPage:
    """Undo a disconnection within PAGE_DISCONNECT_UNDO_SECONDS: subscribe again with the kept
    token and deliver the Page's events again, without another Facebook Login."""
    require_permission(tenant=tenant, actor=actor, permission="page.manage")
    page = _page(tenant, page_pk)
    if not page_can_undo_disconnect(page):
        raise Conflict(
            f"“{page.name}” can no longer be reconnected by Undo: its token was forgotten "
            f"{settings.PAGE_DISCONNECT_UNDO_SECONDS} seconds after it was disconnected. "
            "Continue with Facebook to connect it again.",
            details={"page": ["The Undo window is over."]},
        )
    graph = graph or GraphClient.from_settings()
    try:
        graph.subscribe_app(page_id=page.page_id, page_token=decrypt_token(page.token_encrypted))
    except GraphError as error:
        raise _graph_failure(error, page.name) from None
    try:
        with transaction.atomic():
            ConnectedPage.objects.filter(pk=page.pk).update(
                status=PageStatus.ACTIVE,
                disconnected_at=None,
                last_error="",
                updated_at=timezone.now(),
            )
            page.refresh_from_db()
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.PAGE_RECONNECTED,
                target=page.name,
                details={"page_id": page.page_id, "undo": True},
            )
            announce_page_active(page)
    except IntegrityError:
        raise PageConnectedElsewhere(
            _elsewhere_message(page.name, transferable=False),
            details={"page_id": ["Connected in another workspace."], "transferable": False},
        ) from None
    return page


def page_disconnect_forget_tokens(*, now: Any = None) -> int:
    """Forget the tokens of Pages disconnected longer ago than the Undo window."""
    now = now or timezone.now()
    forgotten = (
        ConnectedPage.objects.filter(status=PageStatus.DISCONNECTED)
        .exclude(token_encrypted="")
        .filter(
            models.Q(disconnected_at__isnull=True)
            | models.Q(disconnected_at__lte=now - page_disconnect_undo_window())
        )
        .update(token_encrypted="")
    )
    if forgotten:
        logger.info("tenants.pages.disconnected_tokens_forgotten", extra={"count": forgotten})
    return forgotten


# --- Token health --------------------------------------------------------------------------


def _needs_attention(page: ConnectedPage, status: str, reason: str) -> None:
    changed = (
        ConnectedPage.objects.filter(pk=page.pk)
        .exclude(status=status)
        .exclude(status=PageStatus.DISCONNECTED)
        .update(status=status, last_error=reason, token_checked_at=timezone.now())
    )
    if changed:
        audit_record(
            tenant=page.tenant,
            actor=Actor(user=None),
            action=AuditAction.PAGE_NEEDS_ATTENTION,
            target=page.name,
            details={"status": status, "reason": reason},
        )
        logger.warning(
            "tenants.page.needs_attention",
            extra={"tenant_id": page.tenant_id, "page_id": page.page_id, "status": status},
        )
    page.refresh_from_db()


def page_mark_token_invalid(*, page: ConnectedPage, error: GraphError) -> None:
    """Any Graph error 190 for a Page's token: the Page needs re-authorization."""
    _needs_attention(
        page,
        PageStatus.NEEDS_REAUTH,
        f"Facebook rejected the Page's access token ({error}). Continue with Facebook to renew it.",
    )


def page_mark_permission_missing(*, page: ConnectedPage, error: GraphError) -> None:
    """A Graph permission error (10, 200-299) for a Page: a permission or task is missing."""
    _needs_attention(
        page,
        PageStatus.MISSING_PERMISSION,
        f"Facebook refused for lack of a permission or Page task ({error}). Continue with "
        "Facebook and allow page_events.",
    )


def page_check_token(*, page: ConnectedPage, graph: GraphClient | None = None) -> ConnectedPage:
    """Ask Facebook whether the Page's token still works and still carries page_events."""
    if page.status == PageStatus.DISCONNECTED or not page.token_encrypted:
        return page
    graph = graph or GraphClient.from_settings()
    try:
        info = graph.debug_token(input_token=decrypt_token(page.token_encrypted))
    except TokenInvalidError as error:
        page_mark_token_invalid(page=page, error=error)
        return page
    except GraphError as error:
        # Facebook could not tell us now; the Page keeps its status until the next check.
        raise _graph_failure(error, page.name) from None
    if not info.is_valid:
        reason = info.error.message if info.error else "Facebook says the token is not valid"
        _needs_attention(
            page,
            PageStatus.NEEDS_REAUTH,
            f"{reason.rstrip('. ')}. Continue with Facebook to renew Pagepulse's access to this "
            "Page.",
        )
    elif EVENTS_SCOPE not in info.scopes:
        _needs_attention(
            page,
            PageStatus.MISSING_PERMISSION,
            "The page_events permission was removed, so events cannot be logged for this "
            "Page. Continue with Facebook and allow it again.",
        )
    else:
        was_active = page.status == PageStatus.ACTIVE
        ConnectedPage.objects.filter(pk=page.pk).update(
            status=PageStatus.ACTIVE,
            last_error="",
            granted_scopes=sorted(info.scopes),
            token_checked_at=timezone.now(),
        )
        page.refresh_from_db()
        if not was_active:
            announce_page_active(page)
    return page


# --- Key rotation --------------------------------------------------------------------------


def _rotate_rows(rows: QuerySet[Any], batch: int) -> Iterator[int]:
    pending: list[Any] = []
    stored = rows.exclude(token_encrypted="").only("pk", "token_encrypted").order_by("pk")
    for row in stored.iterator(chunk_size=batch):
        row.token_encrypted = rotate_token(row.token_encrypted)
        pending.append(row)
        if len(pending) == batch:
            rows.bulk_update(pending, ["token_encrypted"])
            yield len(pending)
            pending = []
    if pending:
        rows.bulk_update(pending, ["token_encrypted"])
        yield len(pending)


def token_keys_rotate(*, batch: int = 200) -> Iterator[int]:
    """Re-encrypt every stored token with the newest key, yielding counts as batches finish.

    Safe to re-run: rotating an already-rotated token just re-encrypts it with the same key.
    """
    tenant_ids = set(
        ConnectedPage.objects.exclude(token_encrypted="").values_list("tenant_id", flat=True)
    )
    yield from _rotate_rows(ConnectedPage.objects.all(), batch)
    yield from _rotate_rows(PageGrant.objects.all(), batch)
    for tenant in Tenant.objects.filter(pk__in=tenant_ids):
        audit_record(
            tenant=tenant,
            actor=Actor(user=None),
            action=AuditAction.TOKEN_KEYS_ROTATED,
            target="page tokens",
            details={"keys": len(settings.TOKEN_ENCRYPTION_KEYS)},
        )


def token_count() -> int:
    return (
        ConnectedPage.objects.exclude(token_encrypted="").count()
        + PageGrant.objects.exclude(token_encrypted="").count()
    )
