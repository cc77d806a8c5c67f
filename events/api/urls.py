from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from events.api import views as event_views
from events.api.catalog import EventCatalogView

# Routes outside a workspace (e.g. /api/v1/event-catalog).
urlpatterns: list[URLPattern | URLResolver] = [
    path("event-catalog", EventCatalogView.as_view(), name="event-catalog"),
]

# Routes under /api/v1/tenants/<slug:tenant_slug>/ (views subclass tenants.api.base classes).
_scoped = SimpleRouter(use_regex_path=False)
_scoped.register("events", event_views.EventViewSet, basename="event")
tenant_urlpatterns: list[URLPattern | URLResolver] = [*_scoped.urls]
