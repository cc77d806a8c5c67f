from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tenants.models import ConnectedPage, PageStatus, Tenant
from tenants.permissions import role_can


def workspace(request: HttpRequest) -> dict[str, Any]:
    """The workspace switcher's data: the current workspace (if any) and the user's others."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    tenant = getattr(request, "tenant", None)
    role = getattr(request, "tenant_role", None)
    attention = 0
    if tenant is not None and role_can(role, "page.manage"):
        attention = (
            ConnectedPage.objects.for_tenant(tenant)
            .filter(status__in=[PageStatus.NEEDS_REAUTH, PageStatus.MISSING_PERMISSION])
            .count()
        )
    return {
        "my_workspaces": Tenant.objects.filter(membership__user=user).order_by("name"),
        "current_tenant": tenant,
        "current_role": role,
        "pages_needing_attention": attention,
    }
