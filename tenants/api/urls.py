"""Routes of the tenants app's API. Tenant-scoped ones live under tenants/<tenant_slug>/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tenants.api import views

TENANT_PREFIX = "tenants/<slug:tenant_slug>/"

scoped = SimpleRouter(use_regex_path=False)
scoped.register("members", views.MemberViewSet, basename="member")
scoped.register("api-keys", views.ApiKeyViewSet, basename="api-key")
scoped.register("audit-events", views.AuditEventViewSet, basename="audit-event")
scoped.register("pages", views.ConnectedPageViewSet, basename="page")

app_name = "api"
urlpatterns = [
    path(
        "tenants/",
        views.TenantCollectionViewSet.as_view({"get": "list", "post": "create"}),
        name="tenant-list",
    ),
    path(
        TENANT_PREFIX,
        views.TenantDetailViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update"}
        ),
        name="tenant-detail",
    ),
    path(TENANT_PREFIX, include(scoped.urls)),
]
