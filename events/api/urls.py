from django.urls import URLPattern, URLResolver

# Routes outside a workspace (e.g. /api/v1/event-catalog).
urlpatterns: list[URLPattern | URLResolver] = []

# Routes under /api/v1/tenants/<slug:tenant_slug>/ (views subclass tenants.api.base classes).
tenant_urlpatterns: list[URLPattern | URLResolver] = []
