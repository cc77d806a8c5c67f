from django.contrib import admin

from tenants.models import ApiKey, AuditEvent, Membership, Tenant


class MembershipInline(admin.TabularInline[Membership, Tenant]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin[Tenant]):
    list_display = ["name", "slug", "country", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    # The hash is left out on purpose: nothing secret-derived is shown anywhere.
    list_display = ["name", "display", "tenant", "created_at", "last_used_at", "revoked_at"]
    fields = readonly_fields = (
        "tenant",
        "name",
        "prefix",
        "created_by",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ["revoked_at"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ["created_at", "tenant", "actor_label", "action", "target", "ip_address"]
    list_filter = ["action"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
