"""Reads of logged events for the events API and the delivery log. Every one takes the tenant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet

from events.filters import EventFilter
from events.models import DeliveryAttempt, LoggedEvent
from tenants.models import ConnectedPage, Tenant


def events_for_tenant(*, tenant: Tenant) -> QuerySet[LoggedEvent]:
    """The workspace's events, newest first, each with its Page (one query for a list)."""
    return LoggedEvent.objects.for_tenant(tenant).select_related("page").order_by("-id")


def events_filtered(*, tenant: Tenant, params: Mapping[str, Any]) -> EventFilter:
    """`EventFilter` bound to `params` over the workspace's events (check `.is_valid()`)."""
    return EventFilter(data=params, queryset=events_for_tenant(tenant=tenant))


def event_with_attempts(*, tenant: Tenant, event_id: int) -> LoggedEvent | None:
    """One event of the workspace with its delivery attempts oldest first, or None."""
    attempts = DeliveryAttempt.objects.for_tenant(tenant).order_by("created_at", "id")
    return (
        events_for_tenant(tenant=tenant)
        .prefetch_related(Prefetch("delivery_attempts", queryset=attempts))
        .filter(pk=event_id)
        .first()
    )


def page_by_facebook_id(*, tenant: Tenant, page_id: str) -> ConnectedPage | None:
    """The workspace's connected Page with Facebook's id `page_id`, or None."""
    return ConnectedPage.objects.for_tenant(tenant).filter(page_id=page_id).first()


def pages_for_tenant(*, tenant: Tenant) -> QuerySet[ConnectedPage]:
    return ConnectedPage.objects.for_tenant(tenant).order_by("name", "id")


def event_names(*, tenant: Tenant, limit: int = 200) -> list[str]:
    """The distinct event names logged in the workspace (for the log's filter suggestions)."""
    return list(
        LoggedEvent.objects.for_tenant(tenant)
        .order_by("event")
        .values_list("event", flat=True)
        .distinct()[:limit]
    )
