from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from flows.api import testchat, transport_move, views

# Routes outside a workspace (e.g. /api/v1/event-catalog).
urlpatterns: list[URLPattern | URLResolver] = [
    path("blocks/", views.BlockTypesView.as_view(), name="block-types"),
    path("flow-templates/", views.FlowTemplatesView.as_view(), name="flow-templates"),
]

scoped = SimpleRouter(use_regex_path=False)
scoped.register("flows", views.FlowViewSet, basename="flow")

# Routes under /api/v1/tenants/<slug:tenant_slug>/ (views subclass tenants.api.base classes).
tenant_urlpatterns: list[URLPattern | URLResolver] = [
    *scoped.urls,
    path("flows/<int:flow_id>/test-chat/", testchat.TestChatView.as_view(), name="flow-test-chat"),
    # A Page's route, but the move reads the Page's flows, which only this app may.
    path(
        "pages/<int:page_id>/move-transport/",
        transport_move.MoveTransportView.as_view(),
        name="page-move-transport",
    ),
]
