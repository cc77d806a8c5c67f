"""Reads of the tenants app that are more than a one-line filter."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import OuterRef, Subquery

from tenants.models import ApiKey, Membership, Tenant
from tenants.permissions import role_can


@dataclass(frozen=True)
class ApiKeyRow:
    """A key as the API keys screen shows it: `state` is `active`, `revoked`, `expired` or
    `owner_left` (its owner no longer holds a role that may manage keys, so it is refused)."""

    key: ApiKey
    state: str

    @property
    def works(self) -> bool:
        return self.state == "active"


def api_keys_with_status(*, tenant: Tenant) -> list[ApiKeyRow]:
    """The workspace's keys, newest first, each with whether it works and why not (one query)."""
    keys = (
        ApiKey.objects.for_tenant(tenant)
        .select_related("created_by", "owner")
        .annotate(
            owner_role=Subquery(
                Membership.objects.filter(
                    tenant_id=OuterRef("tenant_id"), user_id=OuterRef("owner_id")
                ).values("role")[:1]
            )
        )
    )
    rows = []
    for key in keys:
        owner_ok = (
            key.owner is not None
            and key.owner.is_active
            and role_can(key.owner_role, "api_key.manage")
        )
        if key.revoked_at is not None:
            state = "revoked"
        elif key.is_expired:
            state = "expired"
        elif not owner_ok:
            state = "owner_left"
        else:
            state = "active"
        rows.append(ApiKeyRow(key=key, state=state))
    return rows


def last_used_workspace(*, user: User) -> Tenant | None:
    """Where signing in lands: the workspace `user` opened last or, if they never opened one
    and belong to exactly one, that one; None sends them to the list."""
    memberships = Membership.objects.filter(user=user).select_related("tenant")
    last = memberships.filter(last_used_at__isnull=False).order_by("-last_used_at", "pk").first()
    if last is not None:
        return last.tenant
    only = list(memberships[:2])
    return only[0].tenant if len(only) == 1 else None
