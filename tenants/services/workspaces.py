"""Everything that writes workspaces, memberships, API keys and audit events.

Services take the tenant and the acting user explicitly, check the role table, and record an
audit event in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django_countries import countries

from tenants.exceptions import Conflict, DomainError, LastOwnerError, NotFound, PermissionDenied
from tenants.models import ApiKey, AuditAction, AuditEvent, Membership, Tenant, user_label
from tenants.permissions import API_KEY_ROLE, Role, role_can

API_KEY_PREFIX_LENGTH = 8
# How often a key's last_used_at is written at most: every request would be a write hot spot.
API_KEY_TOUCH_INTERVAL_SECONDS = 60


@dataclass(frozen=True)
class Actor:
    """Who performs an action (a signed-in person or an API key), and from where."""

    user: User | None
    ip_address: str | None = None
    api_key: ApiKey | None = None

    @property
    def label(self) -> str:
        if self.api_key is not None:
            return f"API key {self.api_key.display} ({self.api_key.name})"
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
        return API_KEY_ROLE if actor.api_key.tenant_id == tenant.pk else None
    return role_of(tenant=tenant, user=actor.user)


def require_permission(*, tenant: Tenant, actor: Actor, permission: str) -> None:
    role = actor_role(tenant=tenant, actor=actor)
    if not role_can(role, permission):
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
) -> Tenant:
    require_permission(tenant=tenant, actor=actor, permission="tenant.update")
    changes: dict[str, Any] = {}
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
        tenant.save(update_fields=["name", "country", "deliver_test_events"])
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
            f"No Pagepulse user has the email {email.strip()}. Ask them to sign in once, "
            "then add them again.",
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
) -> Membership:
    require_permission(tenant=tenant, actor=actor, permission="member.manage")
    membership = _membership(tenant=tenant, membership_id=membership_id)
    if membership.role == role:
        return membership
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
    return membership


@transaction.atomic
def member_remove(*, tenant: Tenant, actor: Actor, membership_id: int) -> None:
    require_permission(tenant=tenant, actor=actor, permission="member.manage")
    membership = _membership(tenant=tenant, membership_id=membership_id)
    _check_owner_rules(tenant=tenant, actor=actor, old=membership.role, new=None)
    membership.delete()
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.MEMBER_REMOVED,
        target=user_label(membership.user),
        details={"role": membership.role},
    )


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, tenant: Tenant, actor: Actor, name: str) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never retrievable again.

    The secret is `pp_<prefix>_<43 random url-safe characters>` (256 bits of entropy), so a
    plain SHA-256 is the right hash: there is nothing to brute-force as with passwords.
    """
    require_permission(tenant=tenant, actor=actor, permission="api_key.manage")
    name = name.strip()
    if not name:
        raise DomainError("Give the key a name that says which integration uses it.")
    prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
    secret = f"pp_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        prefix=prefix,
        hashed_key=hash_api_key(secret),
        created_by=actor.user,
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.API_KEY_CREATED,
        target=key.display,
        details={"name": name},
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


def api_key_authenticate(secret: str) -> ApiKey | None:
    """The active key whose hash matches `secret`, touching its last-used time (throttled)."""
    if not secret.startswith("pp_"):
        return None
    key = (
        ApiKey.objects.select_related("tenant")
        .filter(hashed_key=hash_api_key(secret), revoked_at__isnull=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    stale = now - timedelta(seconds=API_KEY_TOUCH_INTERVAL_SECONDS)
    if key.last_used_at is None or key.last_used_at < stale:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
