"""The inbox, under /t/<slug>/inbox/ (namespace "inbox")."""

from django.urls import path

from messenger import inbox_views

app_name = "inbox"
urlpatterns = [
    path("", inbox_views.inbox_list, name="list"),
    path("notifications/", inbox_views.inbox_notifications, name="notifications"),
    path("<int:conversation_id>/", inbox_views.conversation_view, name="conversation"),
    path("<int:conversation_id>/reply/", inbox_views.conversation_reply, name="reply"),
    path("<int:conversation_id>/hand-back/", inbox_views.conversation_hand_back, name="hand_back"),
    path("<int:conversation_id>/close/", inbox_views.conversation_close, name="close"),
]
