"""Webhook deliveries in Django's admin: read-only, for support to see what failed and why."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from messenger.models import WebhookDelivery

BODY_PREVIEW_BYTES = 2000


class DeliveryOutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:  # type: ignore[type-arg]
        return [
            ("failed", "Failed (given up or not a delivery)"),
            ("retrying", "Retrying after an error"),
            ("pending", "Not processed yet"),
            ("processed", "Processed"),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]
    ) -> QuerySet[WebhookDelivery]:
        done, failed = Q(processed_at__isnull=False), ~Q(error="")
        filters = {
            "failed": done & failed,
            "retrying": ~done & failed,
            "pending": ~done & ~failed,
            "processed": done & ~failed,
        }
        value = self.value()
        return queryset.filter(filters[value]) if value in filters else queryset


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    """Deliveries Facebook sent, newest first; the failed ones keep their error here."""

    list_display = ["pk", "received_at", "processed_at", "attempts", "outcome", "error"]
    list_filter = [DeliveryOutcomeFilter]
    fields = ("received_at", "processed_at", "attempts", "error", "unrouted", "body_preview")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="outcome")
    def outcome(self, delivery: WebhookDelivery) -> str:
        if delivery.processed_at is None:
            return "retrying" if delivery.error else "pending"
        return "failed" if delivery.error else "processed"

    @admin.display(description="body (start)")
    def body_preview(self, delivery: WebhookDelivery) -> str:
        body = bytes(delivery.body)
        text = body[:BODY_PREVIEW_BYTES].decode("utf-8", errors="replace")
        return text if len(body) <= BODY_PREVIEW_BYTES else f"{text}… ({len(body):,} bytes)"
