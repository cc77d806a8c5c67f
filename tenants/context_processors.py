from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tenants.models import Tenant


def workspace(request: HttpRequest) -> dict[str, Any]:
    """The workspace switcher's data: the current workspace (if any) and the user's others."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "my_workspaces": Tenant.objects.filter(membership__user=user).order_by("name"),
        "current_tenant": getattr(request, "tenant", None),
        "current_role": getattr(request, "tenant_role", None),
    }
