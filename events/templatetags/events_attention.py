"""``{% attention_list %}``: what in the workspace's events needs a person, for the overviews.

A template tag, so the workspace overview (a tenants page, and tenants imports nothing from
events) shows the same list as the events overview.
"""

from __future__ import annotations

from typing import Any

from django import template

from events import selectors
from events.transport_status import transport_status
from tenants.models import ConnectedPage, PageStatus, Tenant

register = template.Library()


def attention(tenant: Tenant) -> dict[str, Any]:
    """Live events not sent in the last 24 h (by reason) and Pages on a retired transport."""
    pages = ConnectedPage.objects.for_tenant(tenant).exclude(status=PageStatus.DISCONNECTED)
    retired = []
    for page in pages.order_by("name", "pk"):
        status = transport_status(page.transport)
        if status.retired:
            retired.append({"page": page, "status": status})
    return {"unsent": selectors.tenant_unsent_summary(tenant=tenant), "retired_pages": retired}


@register.inclusion_tag("events/_attention.html", takes_context=True)
def attention_list(context: template.Context) -> dict[str, Any]:
    tenant = context.get("current_tenant")
    if tenant is None:
        return {}
    return {
        **attention(tenant),
        "current_tenant": tenant,
        "can_manage_pages": context.get("current_role") in {"owner", "admin"},
    }
