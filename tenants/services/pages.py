"""Connected Facebook Pages: what a login found, connecting, health, transports, key rotation.

Graph calls go through `graph_api` only, and happen before the database transaction that
records their outcome, so a slow Facebook never holds a row lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
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
from tenants.exceptions import DomainError, NotFound, PermissionDenied
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


def region_allows_page_activities(tenant: Tenant) -> bool:
    # Fails closed: a workspace without a country (one stored before countries were checked)
    # may be in Europe or Japan.
    country = str(tenant.country)
    return bool(country) and country not in NO_PAGE_ACTIVITIES_COUNTRIES


def _check_transport(tenant: Tenant, transport: str) -> None:
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


def default_transport(tenant: Tenant) -> str:
    transport: str = settings.DEFAULT_EVENT_TRANSPORT
    if transport == Transport.PAGE_ACTIVITIES and not region_allows_page_activities(tenant):
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


def _blocker(grant: PageGrant) -> str:
    if EVENTS_SCOPE not in grant.scopes:
        return (
            "The page_events permission was not granted for this Page, so Pagepulse cannot "
            "log its events. Continue with Facebook again and allow it."
        )
    if EVENTS_TASK not in grant.tasks:
        return (
            "Your role on this Page lacks the ANALYZE task, which Facebook requires to log "
            "events. Ask a Page admin to give you analyst access or higher."
        )
    if not WEBHOOK_TASKS.intersection(grant.tasks):
        return (
            "Your role on this Page can neither manage nor moderate it, so Pagepulse cannot "
            "receive its messages. Ask a Page admin for moderator access or higher."
        )
    return ""


def page_candidates(*, tenant: Tenant, user: User) -> list[PageCandidate]:
    grants = list(PageGrant.objects.filter(user=user))
    ids = [grant.page_id for grant in grants]
    here = {
        page.page_id: page
        for page in ConnectedPage.objects.for_tenant(tenant).filter(page_id__in=ids)
    }
    elsewhere = set(
        ConnectedPage.objects.filter(page_id__in=ids)
        .exclude(tenant=tenant)
        .exclude(status=PageStatus.DISCONNECTED)
        .values_list("page_id", flat=True)
    )
    candidates = []
    for grant in grants:
        blocker = _blocker(grant)
        connected = here.get(grant.page_id)
        candidates.append(
            PageCandidate(
                page_id=grant.page_id,
                name=grant.name,
                tasks=tuple(grant.tasks),
                scopes=tuple(grant.scopes),
                connectable=not blocker,
                reason=blocker,
                connected_here=connected,
                connected_elsewhere=grant.page_id in elsewhere,
            )
        )
    return candidates


# --- Connecting ----------------------------------------------------------------------------


def page_connect(
    *,
    tenant: Tenant,
    actor: Actor,
    page_id: str,
    transport: str | None = None,
    graph: GraphClient | None = None,
) -> ConnectedPage:
    """Connect (or reconnect) a Page the acting person's last login found.

    Subscribes the app to the Page's webhooks and, for the Conversions API, creates or fetches
    the Page's dataset, then stores the page token encrypted. Nothing is written if Facebook
    refuses.
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
    _check_transport(tenant, transport)

    graph = graph or GraphClient.from_settings()
    token = decrypt_token(grant.token_encrypted)
    try:
        graph.subscribe_app(page_id=grant.page_id, page_token=token)
        dataset_id = existing.dataset_id if existing else ""
        if transport == Transport.CONVERSIONS_API and not dataset_id:
            dataset_id = graph.get_or_create_dataset(page_id=grant.page_id, token=token)
    except GraphError as error:
        raise _graph_failure(error, grant.name) from None

    with transaction.atomic():
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
            },
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.PAGE_CONNECTED if created else AuditAction.PAGE_RECONNECTED,
            target=page.name,
            details={"page_id": page.page_id, "transport": transport},
        )
        announce_page_active(page)
    logger.info(
        "tenants.page.connected",
        extra={"tenant_id": tenant.pk, "page_id": page.page_id, "transport": transport},
    )
    return page


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


def page_update(
    *,
    tenant: Tenant,
    actor: Actor,
    page_pk: int,
    transport: str | None = None,
    name: str | None = None,
    graph: GraphClient | None = None,
) -> ConnectedPage:
    """Change a Page's transport or its display name."""
    require_permission(tenant=tenant, actor=actor, permission="page.manage")
    page = _page(tenant, page_pk)
    dataset_id = page.dataset_id
    if transport is not None and transport != page.transport:
        _check_transport(tenant, transport)
        if transport == Transport.CONVERSIONS_API and not dataset_id:
            if not page.token_encrypted:
                raise DomainError(
                    "This Page is disconnected: connect it again before changing its transport."
                )
            graph = graph or GraphClient.from_settings()
            try:
                dataset_id = graph.get_or_create_dataset(
                    page_id=page.page_id, token=decrypt_token(page.token_encrypted)
                )
            except GraphError as error:
                if isinstance(error, TokenInvalidError):
                    page_mark_token_invalid(page=page, error=error)
                raise _graph_failure(error, page.name) from None
    with transaction.atomic():
        page = ConnectedPage.objects.select_for_update().get(pk=page.pk)
        if transport is not None and transport != page.transport:
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.PAGE_TRANSPORT_CHANGED,
                target=page.name,
                details={"transport": [page.transport, transport]},
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


def page_disconnect(
    *, tenant: Tenant, actor: Actor, page_pk: int, graph: GraphClient | None = None
) -> ConnectedPage:
    """Unsubscribe the app from the Page's webhooks and forget its token.

    The row stays (status `disconnected`) so the events and flows that name it keep their page.
    """
    require_permission(tenant=tenant, actor=actor, permission="page.manage")
    page = _page(tenant, page_pk)
    if page.token_encrypted:
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
            status=PageStatus.DISCONNECTED, token_encrypted="", updated_at=timezone.now()
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
