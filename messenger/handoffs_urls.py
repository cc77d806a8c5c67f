"""The handoffs page, under /t/<slug>/handoffs/ (namespace "handoffs")."""

from django.urls import path

from messenger import handoffs_views

app_name = "handoffs"
urlpatterns = [
    path("", handoffs_views.handoff_list, name="list"),
    path("<int:conversation_id>/resolve/", handoffs_views.handoff_resolve_view, name="resolve"),
]
