"""The flows pages, under /t/<slug>/flows/ (namespace "flows")."""

from django.urls import path

from flows import views

app_name = "flows"
urlpatterns = [
    path("", views.flow_list, name="list"),
    path("new/", views.flow_new, name="new"),
    path("<int:flow_id>/", views.flow_editor, name="editor"),
]
