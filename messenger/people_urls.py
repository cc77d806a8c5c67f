"""People, under /t/<slug>/people/ (namespace "people")."""

from django.urls import path

from messenger import people_views

app_name = "people"
urlpatterns = [
    path("", people_views.people_list_view, name="list"),
    path("<int:person_id>/", people_views.person_view, name="person"),
    path("<int:person_id>/tags/", people_views.person_tag_add, name="tag_add"),
    path(
        "<int:person_id>/tags/<int:tag_id>/remove/",
        people_views.person_tag_remove,
        name="tag_remove",
    ),
    path("<int:person_id>/delete/", people_views.person_delete, name="delete"),
]
