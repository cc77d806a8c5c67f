from django.contrib import admin

from tenants.models import ApiKey, AuditEvent, ConnectedPage, Membership, Tenant


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
    list_display = [
        "name",
        "display",
        "tenant",
        "role",
        "owner",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    fields = readonly_fields = (
        "tenant",
        "name",
        "prefix",
        "role",
        "owner",
        "created_by",
        "last_used_at",
        "expires_at",
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


@admin.register(ConnectedPage)
class ConnectedPageAdmin(admin.ModelAdmin[ConnectedPage]):
    # The encrypted token is left out on purpose: no admin screen shows anything of it.
    list_display = ["name", "page_id", "tenant", "status", "transport", "token_checked_at"]
    list_filter = ["status", "transport"]
    search_fields = ["name", "page_id", "tenant__name"]
    fields = readonly_fields = (
        "tenant",
        "page_id",
        "name",
        "status",
        "transport",
        "dataset_id",
        "tasks",
        "granted_scopes",
        "token_checked_at",
        "last_error",
        "connected_by",
        "connected_at",
    )

    def has_add_permission(self, request: object) -> bool:
        return False
