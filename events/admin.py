"""The outbox in Django's admin: read-only, for support. Replays go through events.services."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from events.models import DeliveryAttempt, LoggedEvent, PageRateLimit


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(LoggedEvent)
class LoggedEventAdmin(_ReadOnly, admin.ModelAdmin[LoggedEvent]):
    list_display = ["pk", "created_at", "tenant", "page", "event", "status", "attempts", "test"]
    list_filter = ["status", "source", "test"]
    search_fields = ["psid", "event", "idempotency_key"]
    list_select_related = ["tenant", "page"]
    raw_id_fields = ["page", "api_key"]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(_ReadOnly, admin.ModelAdmin[DeliveryAttempt]):
    # `request` is stored without secrets (graph_api.redaction through events.scrub).
    list_display = ["pk", "created_at", "tenant", "page", "transport", "outcome", "http_status"]
    list_filter = ["transport", "outcome"]
    list_select_related = ["tenant", "page"]
    raw_id_fields = ["page", "events"]


@admin.register(PageRateLimit)
class PageRateLimitAdmin(admin.ModelAdmin[PageRateLimit]):
    list_display = ["page", "tenant", "calls_per_second"]
    raw_id_fields = ["page"]
