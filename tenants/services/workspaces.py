"""Everything that writes workspaces, memberships, API keys and audit events.

Services take the tenant and the acting user explicitly, check the role table, and record an
audit event in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, ProtectedError, Subquery
from django.utils import timezone
from django.utils.text import slugify
from django_countries import countries

from tenants.exceptions import (
    ApiKeyRefused,
    Conflict,
    DomainError,
    LastOwnerError,
    NotFound,
    PermissionDenied,
)
from tenants.models import (
    TRANSCRIPT_RETENTION_MAX_DAYS,
    TRANSCRIPT_RETENTION_MIN_DAYS,
    ApiKey,
    AuditAction,
    AuditEvent,
    DepartingMemberKeys,
    Membership,
    Tenant,
    user_label,
)
from tenants.permissions import API_KEY_ROLE, API_KEY_ROLES, ROLE_RANK, Role, api_key_can, role_can

API_KEY_PREFIX_LENGTH = 8
# How often a key's last_used_at is written at most: every request would be a write hot spot.
API_KEY_TOUCH_INTERVAL_SECONDS = 60


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who performs an action (a signed-in person or an API key), and from where."""

    user: User | None
    ip_address: str | None = None
    api_key: ApiKey | None = None

    @property
    def label(self) -> str:
        if self.api_key is not None:
            # Which key, and whose: the key acts for its owner, who answers for it.
            owner = self.api_key.owner
            whose = f" of {user_label(owner)}" if owner is not None else " (no owner)"
            return f"API key “{self.api_key.name}” ({self.api_key.display}){whose}"
        return user_label(self.user)


def audit_record(
    *,
    tenant: Tenant,
    actor: Actor,
    action: AuditAction,
    target: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor.user,
        actor_label=actor.label,
        action=action,
        target=target,
        details=details or {},
        ip_address=actor.ip_address,
    )


def role_of(*, tenant: Tenant, user: User | AnonymousUser | None) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    return (
        Membership.objects.for_tenant(tenant)
        .filter(user=user)
        .values_list("role", flat=True)
        .first()
    )


def actor_role(*, tenant: Tenant, actor: Actor) -> str | None:
    """The role `actor` holds in `tenant`, or None when they hold none there."""
    if actor.api_key is not None:
        return actor.api_key.role if actor.api_key.tenant_id == tenant.pk else None
    return role_of(tenant=tenant, user=actor.user)


def actor_can(*, role: str | None, actor: Actor, permission: str) -> bool:
    """Whether `actor`, holding `role`, has `permission` (keys never hold person-only ones)."""
    if actor.api_key is not None:
        return api_key_can(role, permission)
    return role_can(role, permission)


def require_permission(*, tenant: Tenant, actor: Actor, permission: str) -> None:
    role = actor_role(tenant=tenant, actor=actor)
    if not actor_can(role=role, actor=actor, permission=permission):
        raise PermissionDenied(
            f"Your role ({role or 'none'}) may not do this; ask an owner or admin of "
            f"“{tenant.name}”."
        )


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _check_country(country: str) -> None:
    # The country decides which transports the workspace's Pages may use: never blank.
    if not isinstance(country, str) or country not in countries:
        raise DomainError(
            f"{country!r} is not an ISO 3166-1 alpha-2 country code: give the two-letter code "
            'of where the business is based, e.g. "DE" or "US".',
            details={"country": ["Not an ISO 3166-1 alpha-2 country code."]},
        )


@transaction.atomic
def tenant_create(*, name: str, country: str, owner: User, actor: Actor) -> Tenant:
    """Create a workspace with `owner` as its first owner."""
    _check_country(country)
    tenant = Tenant.objects.create(name=name.strip(), slug=_unique_slug(name), country=country)
    Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.TENANT_CREATED,
        target=tenant.name,
        details={"country": country},
    )
    return tenant


@transaction.atomic
def tenant_update(
    *,
    tenant: Tenant,
    actor: Actor,
    name: str | None = None,
    country: str | None = None,
    deliver_test_events: bool | None = None,
    departing_member_keys: str | None = None,
    transcript_retention_days: int | None = None,
) -> Tenant:
    require_permission(tenant=tenant, actor=actor, permission="tenant.update")
    changes: dict[str, Any] = {}
    if (
        transcript_retention_days is not None
        and transcript_retention_days != tenant.transcript_retention_days
    ):
        if not (
            TRANSCRIPT_RETENTION_MIN_DAYS
            <= transcript_retention_days
            <= TRANSCRIPT_RETENTION_MAX_DAYS
        ):
            raise DomainError(
                f"transcript_retention_days is a number of days from "
                f"{TRANSCRIPT_RETENTION_MIN_DAYS} to {TRANSCRIPT_RETENTION_MAX_DAYS}, "
                f"not {transcript_retention_days}.",
                details={"transcript_retention_days": ["Out of range."]},
            )
        changes["transcript_retention_days"] = [
            tenant.transcript_retention_days,
            transcript_retention_days,
        ]
        tenant.transcript_retention_days = transcript_retention_days
    if departing_member_keys is not None and departing_member_keys != tenant.departing_member_keys:
        if departing_member_keys not in DepartingMemberKeys.values:
            raise DomainError(
                f"departing_member_keys is 'revoke' or 'hand_over', not {departing_member_keys!r}.",
                details={"departing_member_keys": ["Not a choice."]},
            )
        changes["departing_member_keys"] = [tenant.departing_member_keys, departing_member_keys]
        tenant.departing_member_keys = departing_member_keys
    if deliver_test_events is not None and deliver_test_events != tenant.deliver_test_events:
        changes["deliver_test_events"] = [tenant.deliver_test_events, deliver_test_events]
        tenant.deliver_test_events = deliver_test_events
    if name is not None and name.strip() != tenant.name:
        changes["name"] = [tenant.name, name.strip()]
        tenant.name = name.strip()
    if country is not None and country != str(tenant.country):
        _check_country(country)
        changes["country"] = [str(tenant.country), country]
        tenant.country = country
    if changes:
        tenant.save(
            update_fields=[
                "name",
                "country",
                "deliver_test_events",
                "departing_member_keys",
                "transcript_retention_days",
            ]
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.TENANT_UPDATED,
            target=tenant.name,
            details=changes,
        )
    return tenant


def _check_owner_rules(*, tenant: Tenant, actor: Actor, old: str | None, new: str | None) -> None:
    """Only owners grant or take away the owner role, and the last owner always stays."""
    if Role.OWNER in (old, new) and not role_can(
        actor_role(tenant=tenant, actor=actor), "member.manage_owners"
    ):
        raise PermissionDenied("Only an owner can grant, change or remove the owner role.")
    if old == Role.OWNER and new != Role.OWNER:
        owners = Membership.objects.for_tenant(tenant).filter(role=Role.OWNER)
        if owners.select_for_update().count() <= 1:
            raise LastOwnerError(
                "This is the workspace's last owner: make another member an owner first."
            )


@transaction.atomic
def member_add(*, tenant: Tenant, actor: Actor, email: str, role: str) -> Membership:
    """Add an existing user, found by email, to the workspace with `role`."""
    require_permission(tenant=tenant, actor=actor, permission="member.manage")
    user = get_user_model().objects.filter(email__iexact=email.strip()).order_by("id").first()
    if user is None:
        raise DomainError(
            f"No Pagepulse user has the email {email.strip()}. Ask them to sign in once (with "
            "Facebook, they must allow Pagepulse to see their email), then add them again.",
            details={"email": ["No user with this email."]},
        )
    _check_owner_rules(tenant=tenant, actor=actor, old=None, new=role)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    except IntegrityError:
        raise Conflict(
            f"{email.strip()} is already a member of this workspace; change their role instead.",
            details={"email": ["Already a member."]},
        ) from None
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.MEMBER_ADDED,
        target=user_label(user),
        details={"role": role},
    )
    return membership


@dataclass(frozen=True)
class KeysOutcome:
    """What became of a departing member's active API keys."""

    revoked: int = 0
    handed_over: int = 0
    to: str = ""
    handed_over_ids: tuple[int, ...] = ()

    @property
    def message(self) -> str:
        """A sentence for the person who made the change, or "" when there were no keys."""
        if self.revoked:
            return f"Their {self.revoked} API key{'s' if self.revoked > 1 else ''} stopped working."
        if self.handed_over:
            plural = "s" if self.handed_over > 1 else ""
            return f"Their {self.handed_over} API key{plural} now belong{'' if plural else 's'} to {self.to}."
        return ""


def _membership(*, tenant: Tenant, membership_id: int) -> Membership:
    membership = (
        Membership.objects.for_tenant(tenant)
        .select_for_update()
        .select_related("user")
        .filter(pk=membership_id)
        .first()
    )
    if membership is None:
        raise NotFound("No such member in this workspace.")
    return membership


@transaction.atomic
def member_change_role(
    *, tenant: Tenant, actor: Actor, membership_id: int, role: str
) -> tuple[Membership, KeysOutcome]:
    """Change a member's role. Below admin they may no longer manage keys, so their API keys
    are revoked or handed over, as the workspace chose."""
    require_permission(tenant=tenant, actor=actor, permission="member.manage")
    membership = _membership(tenant=tenant, membership_id=membership_id)
    if membership.role == role:
        return membership, KeysOutcome()
    _check_owner_rules(tenant=tenant, actor=actor, old=membership.role, new=role)
    old_role, membership.role = membership.role, role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.MEMBER_ROLE_CHANGED,
        target=user_label(membership.user),
        details={"role": [old_role, role]},
    )
    outcome = KeysOutcome()
    if not role_can(role, "api_key.manage"):
        outcome = _departing_member_keys(tenant=tenant, actor=actor, departing=membership)
    return membership, outcome


@transaction.atomic
def member_remove(*, tenant: Tenant, actor: Actor, membership_id: int) -> KeysOutcome:
    """Remove a member; their API keys are revoked or handed over, as the workspace chose."""
    require_permission(tenant=tenant, actor=actor, permission="member.manage")
    membership = _membership(tenant=tenant, membership_id=membership_id)
    _check_owner_rules(tenant=tenant, actor=actor, old=membership.role, new=None)
    outcome = _departing_member_keys(tenant=tenant, actor=actor, departing=membership)
    membership.delete()
    # The row says what Undo needs: who, with which role, and which keys were handed over.
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.MEMBER_REMOVED,
        target=user_label(membership.user),
        details={
            "role": membership.role,
            "user_id": membership.user_id,
            "keys_handed_over": list(outcome.handed_over_ids),
        },
    )
    return outcome


def member_remove_undo_window() -> timedelta:
    return timedelta(seconds=settings.MEMBER_REMOVE_UNDO_SECONDS)


def member_removals_undoable(*, tenant: Tenant, now: datetime | None = None) -> list[AuditEvent]:
    """Removals made less than MEMBER_REMOVE_UNDO_SECONDS ago whose person is not a member
    again, newest first: what the Members screen offers to Undo."""
    since = (now or timezone.now()) - member_remove_undo_window()
    rows = AuditEvent.objects.for_tenant(tenant).filter(
        action=AuditAction.MEMBER_REMOVED, created_at__gt=since, details__has_key="user_id"
    )
    seen = set(Membership.objects.for_tenant(tenant).values_list("user_id", flat=True))
    undoable = []
    for row in rows.order_by("-created_at", "-id"):
        if row.details["user_id"] not in seen:
            seen.add(row.details["user_id"])
            undoable.append(row)
    return undoable


@transaction.atomic
def member_remove_undo(*, tenant: Tenant, actor: Actor, user_id: int) -> Membership:
    """Undo a removal within MEMBER_REMOVE_UNDO_SECONDS: the person is a member again with the
    role they had, and the API keys handed over when they left (still active, still held by
    whoever received them) are theirs again. Keys that were revoked stay revoked."""
    require_permission(tenant=tenant, actor=actor, permission="member.manage")
    removal = next(
        (r for r in member_removals_undoable(tenant=tenant) if r.details["user_id"] == user_id),
        None,
    )
    if removal is None:
        raise Conflict(
            f"This removal can no longer be undone: Undo works for "
            f"{settings.MEMBER_REMOVE_UNDO_SECONDS} seconds. Add them again in Add a member.",
            details={"member": ["The Undo window is over."]},
        )
    role = removal.details["role"]
    _check_owner_rules(tenant=tenant, actor=actor, old=None, new=role)
    user = get_user_model().objects.get(pk=user_id)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    except IntegrityError:
        raise Conflict("They are a member again already.") from None
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.MEMBER_RESTORED,
        target=user_label(user),
        details={"role": role, "undo": True},
    )
    keys = (
        ApiKey.objects.for_tenant(tenant)
        .select_for_update()
        .filter(pk__in=removal.details.get("keys_handed_over", []), revoked_at__isnull=True)
    )
    if role_can(role, "api_key.manage"):
        for key in keys:
            was = user_label(key.owner)
            key.owner = user
            key.save(update_fields=["owner", "updated_at"])
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.API_KEY_HANDED_OVER,
                target=key.display,
                details={"name": key.name, "owner": [was, user_label(user)], "undo": True},
            )
    return membership


def _key_recipient(*, tenant: Tenant, actor: Actor, departing: Membership) -> User | None:
    """Who takes over a departing member's keys: the admin making the change, or, when they
    remove or demote themselves, the longest-standing other owner."""
    if (
        actor.user is not None
        and actor.user.pk != departing.user_id
        and role_can(role_of(tenant=tenant, user=actor.user), "api_key.manage")
    ):
        return actor.user
    other = (
        Membership.objects.for_tenant(tenant)
        .filter(role=Role.OWNER)
        .exclude(pk=departing.pk)
        .select_related("user")
        .order_by("created_at", "pk")
        .first()
    )
    return other.user if other else None


def _departing_member_keys(*, tenant: Tenant, actor: Actor, departing: Membership) -> KeysOutcome:
    """Revoke, or hand over, the active keys of a member who leaves or may no longer manage
    keys, each recorded in the audit log, in the caller's transaction."""
    keys = list(
        ApiKey.objects.for_tenant(tenant)
        .select_for_update()
        .filter(owner_id=departing.user_id, revoked_at__isnull=True)
    )
    if not keys:
        return KeysOutcome()
    was = user_label(departing.user)
    recipient = None
    if tenant.departing_member_keys == DepartingMemberKeys.HAND_OVER:
        recipient = _key_recipient(tenant=tenant, actor=actor, departing=departing)
    now = timezone.now()
    for key in keys:
        if recipient is not None:
            key.owner = recipient
            key.save(update_fields=["owner", "updated_at"])
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.API_KEY_HANDED_OVER,
                target=key.display,
                details={"name": key.name, "owner": [was, user_label(recipient)]},
            )
        else:
            key.revoked_at = now
            key.save(update_fields=["revoked_at", "updated_at"])
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.API_KEY_REVOKED,
                target=key.display,
                details={"name": key.name, "reason": f"its owner {was} left or was demoted"},
            )
    if recipient is not None:
        return KeysOutcome(
            handed_over=len(keys),
            to=user_label(recipient),
            handed_over_ids=tuple(key.pk for key in keys),
        )
    return KeysOutcome(revoked=len(keys))


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant,
    actor: Actor,
    name: str,
    role: str = API_KEY_ROLE,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key owned by the acting member and return it with its secret, which is never
    retrievable again.

    The key's `role` (viewer, editor or admin) may not be above the creator's own role; an
    optional `expires_at` must lie in the future. The secret is
    `pp_<prefix>_<43 random url-safe characters>` (256 bits of entropy), so a plain SHA-256 is
    the right hash: there is nothing to brute-force as with passwords.
    """
    require_permission(tenant=tenant, actor=actor, permission="api_key.manage")
    name = name.strip()
    if not name:
        raise DomainError("Give the key a name that says which integration uses it.")
    if role not in API_KEY_ROLES:
        raise DomainError(
            f"A key's role is one of {', '.join(API_KEY_ROLES)}; {role!r} is not.",
            details={"role": ["Choose viewer, editor or admin."]},
        )
    creator_role = actor_role(tenant=tenant, actor=actor)
    if creator_role is None or ROLE_RANK[role] > ROLE_RANK[creator_role]:
        raise PermissionDenied(
            f"A key's role may not be above yours ({creator_role or 'none'}): choose "
            f"{creator_role or 'a lower role'} or lower.",
            details={"role": ["Above your own role."]},
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError(
            "The expiry date is in the past: choose a later one, or none for a key that lasts "
            "until revoked.",
            details={"expires_at": ["Must be in the future."]},
        )
    prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
    secret = f"pp_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        prefix=prefix,
        hashed_key=hash_api_key(secret),
        created_by=actor.user,
        owner=actor.user,
        role=role,
        expires_at=expires_at,
    )
    details: dict[str, Any] = {"name": name, "role": role}
    if expires_at is not None:
        details["expires_at"] = expires_at.isoformat()
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.API_KEY_CREATED,
        target=key.display,
        details=details,
    )
    return key, secret


@transaction.atomic
def api_key_revoke(*, tenant: Tenant, actor: Actor, key_id: int) -> ApiKey:
    require_permission(tenant=tenant, actor=actor, permission="api_key.manage")
    key = ApiKey.objects.for_tenant(tenant).select_for_update().filter(pk=key_id).first()
    if key is None:
        raise NotFound("No such API key in this workspace.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.API_KEY_REVOKED,
            target=key.display,
            details={"name": key.name},
        )
    return key


def api_key_owner_role(key: ApiKey) -> str | None:
    """The role the key's owner holds in the key's workspace now (None: not a member)."""
    if key.owner_id is None:
        return None
    return (
        Membership.objects.filter(tenant_id=key.tenant_id, user_id=key.owner_id)
        .values_list("role", flat=True)
        .first()
    )


def api_key_authenticate(secret: str) -> ApiKey:
    """The key whose hash matches `secret`, touching its last-used time (throttled).

    Raises `ApiKeyRefused`, saying why and what to do, for an unknown, revoked or expired key
    and for one whose owner no longer holds a role that may manage keys (however they left:
    removed here, in the admin, or their account deleted or deactivated).
    """
    key = None
    if secret.startswith("pp_"):
        key = (
            ApiKey.objects.select_related("tenant", "owner")
            .annotate(
                owner_role=Subquery(
                    Membership.objects.filter(
                        tenant_id=OuterRef("tenant_id"), user_id=OuterRef("owner_id")
                    ).values("role")[:1]
                )
            )
            .filter(hashed_key=hash_api_key(secret))
            .first()
        )
    if key is None:
        raise ApiKeyRefused(
            "This API key is not valid. Check that the whole key was sent, or create a new key "
            "on the workspace's API keys page."
        )
    now = timezone.now()
    if key.revoked_at is not None:
        raise ApiKeyRefused(
            f"This API key was revoked on {key.revoked_at:%Y-%m-%d %H:%M} UTC. Ask an admin of "
            "the workspace for a new key."
        )
    if key.expires_at is not None and key.expires_at <= now:
        raise ApiKeyRefused(
            f"This API key expired on {key.expires_at:%Y-%m-%d %H:%M} UTC. Ask an admin of the "
            "workspace for a new key (its API keys page)."
        )
    owner_role: str | None = key.owner_role
    owner_active = key.owner is not None and key.owner.is_active
    if not owner_active or not role_can(owner_role, "api_key.manage"):
        raise ApiKeyRefused(
            "This API key's owner is no longer an admin of the workspace, so the key stopped "
            "working. Ask an admin of the workspace for a new key."
        )
    # Key use: its first request is audited (once: the conditional update wins for one request
    # only); later ones only move last_used_at, at most once a minute, shown on the keys screen.
    # An audit row per request would bury everything else in the log.
    if key.last_used_at is None:
        with transaction.atomic():
            if ApiKey.objects.filter(pk=key.pk, last_used_at__isnull=True).update(last_used_at=now):
                audit_record(
                    tenant=key.tenant,
                    actor=Actor(user=key.owner, api_key=key),
                    action=AuditAction.API_KEY_FIRST_USED,
                    target=key.display,
                    details={"name": key.name},
                )
        key.last_used_at = now
    stale = now - timedelta(seconds=API_KEY_TOUCH_INTERVAL_SECONDS)
    if key.last_used_at < stale:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


# --- Workspace deletion: scheduled, restorable for a grace period, then purged --------------


def workspace_deletion_grace() -> timedelta:
    return timedelta(days=settings.WORKSPACE_DELETION_GRACE_DAYS)


def tenant_schedule_deletion(*, tenant: Tenant, actor: Actor, confirm_name: str) -> Tenant:
    """An owner deletes the workspace: it is removed for good after the grace period
    (WORKSPACE_DELETION_GRACE_DAYS) unless an owner restores it before then.

    `confirm_name` must be the workspace's name as typed by the owner (what they delete)."""
    require_permission(tenant=tenant, actor=actor, permission="tenant.delete")
    if confirm_name.strip() != tenant.name:
        raise DomainError(
            f"Type the workspace's name, {tenant.name}, exactly to delete it.",
            details={"confirm_text": ["Does not match the workspace's name."]},
        )
    if tenant.delete_after is not None:
        return tenant
    with transaction.atomic():
        tenant.delete_after = timezone.now() + workspace_deletion_grace()
        tenant.save(update_fields=["delete_after"])
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.TENANT_DELETION_SCHEDULED,
            target=tenant.name,
            details={"delete_after": tenant.delete_after.isoformat()},
        )
    logger.info("tenants.workspace.deletion_scheduled", extra={"tenant_id": tenant.pk})
    return tenant


def tenant_restore(*, tenant: Tenant, actor: Actor) -> Tenant:
    """An owner takes the deletion back during the grace period."""
    require_permission(tenant=tenant, actor=actor, permission="tenant.delete")
    if tenant.delete_after is None:
        return tenant
    with transaction.atomic():
        tenant.delete_after = None
        tenant.save(update_fields=["delete_after"])
        audit_record(
            tenant=tenant, actor=actor, action=AuditAction.TENANT_RESTORED, target=tenant.name
        )
    logger.info("tenants.workspace.restored", extra={"tenant_id": tenant.pk})
    return tenant


def tenants_purge_due(*, now: datetime | None = None) -> list[int]:
    """Remove every workspace whose grace period is over, with everything in it. Its own audit
    log goes with it, so each purge is recorded as a structured log line
    (`tenants.workspace.purged`) instead. Returns the purged ids."""
    now = now or timezone.now()
    purged: list[int] = []
    for tenant in Tenant.objects.filter(delete_after__lte=now).order_by("pk"):
        if _tenant_purge(tenant.pk, now=now):
            purged.append(tenant.pk)
            logger.info(
                "tenants.workspace.purged",
                extra={
                    "tenant_id": tenant.pk,
                    "tenant_slug": tenant.slug,
                    "scheduled_for": tenant.delete_after.isoformat() if tenant.delete_after else "",
                },
            )
    return purged


def _tenant_purge(tenant_pk: int, *, now: datetime) -> bool:
    """Delete one workspace and all its rows in one transaction, or nothing if it was restored.

    Rows that keep a Page alive (flows, events and attempts PROTECT their ConnectedPage) block
    the cascade, and the tenants app may not import those apps; so each model a ProtectedError
    names is deleted first, within the workspace, in the order the errors reveal (a model that
    protects another goes before it), and the whole deletion is tried again.
    """
    first: list[type[Any]] = []  # deleted in this order before the workspace itself
    for _ in range(20):
        try:
            with transaction.atomic():
                # The row lock makes a concurrent restore wait, and a restored workspace is kept.
                if (
                    not Tenant.objects.select_for_update()
                    .filter(pk=tenant_pk, delete_after__lte=now)
                    .exists()
                ):
                    return False
                for model in first:
                    model._default_manager.filter(tenant_id=tenant_pk).delete()
                Tenant.objects.filter(pk=tenant_pk).delete()
            return True
        except ProtectedError as error:
            for model in {type(row) for row in error.protected_objects}:
                if model in first:
                    first.remove(model)
                first.insert(0, model)
    raise RuntimeError(f"Workspace {tenant_pk}: its rows still protect each other after 20 tries")


# How stale Membership.last_used_at may get before a page view writes it again.
LAST_USED_PRECISION = timedelta(minutes=1)


def membership_mark_used(*, tenant: Tenant, user: User) -> None:
    """Remember that `user` opened `tenant` now (at most one write a minute), so their next
    sign-in lands there."""
    now = timezone.now()
    Membership.objects.filter(tenant=tenant, user=user).exclude(
        last_used_at__gt=now - LAST_USED_PRECISION
    ).update(last_used_at=now)
