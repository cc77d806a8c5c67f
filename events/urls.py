"""The delivery log's pages, under /t/<slug>/events/ (namespace "events")."""

from django.urls import path

from events import views

app_name = "events"
urlpatterns = [
    path("", views.delivery_log, name="log"),
    path("counts/", views.delivery_log_counts, name="counts"),
    path("overview/", views.overview, name="summary"),
    path("replay/", views.replay, name="replay"),
    path("<int:event_id>/", views.event_detail, name="detail"),
]
