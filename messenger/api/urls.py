from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from messenger.api import handoffs

scoped = SimpleRouter(use_regex_path=False)
scoped.register("handoffs", handoffs.HandoffViewSet, basename="handoff")

# Routes under /api/v1/tenants/<slug:tenant_slug>/ (views subclass tenants.api.base classes).
tenant_urlpatterns: list[URLPattern | URLResolver] = [*scoped.urls]
