from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from tenants import callbacks, views

workspace_patterns = [
    # The home page of a workspace is insights' overview; this is the admin's summary.
    path("workspace/", views.overview, name="workspace"),
    path("settings/", views.workspace_settings, name="settings"),
    path("delete/", views.workspace_delete, name="delete"),
    path("restore/", views.workspace_restore, name="restore"),
    path("members/", views.members, name="members"),
    path("members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path(
        "members/removed/<int:user_id>/undo/",
        views.member_remove_undo,
        name="member_remove_undo",
    ),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("audit/", views.audit, name="audit"),
    path("pages/", views.pages, name="pages"),
    path("pages/connect/", views.page_connect, name="page_connect"),
    path("pages/connect-selected/", views.page_connect_selected, name="page_connect_selected"),
    path("pages/<int:page_pk>/transport/", views.page_transport, name="page_transport"),
    path("pages/<int:page_pk>/check/", views.page_check, name="page_check"),
    path("pages/<int:page_pk>/disconnect/", views.page_disconnect, name="page_disconnect"),
    path(
        "pages/<int:page_pk>/disconnect/undo/",
        views.page_disconnect_undo,
        name="page_disconnect_undo",
    ),
]

tenant_patterns: list[URLPattern | URLResolver] = [
    path("", views.workspace_list, name="workspace_list"),
    path("<slug:slug>/", include(workspace_patterns)),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("t/", include((tenant_patterns, "tenants"))),
    path("connect/facebook/done/", views.facebook_done, name="facebook_done"),
    path("auth/", include("social_django.urls", namespace="social")),
    # Facebook's callbacks for apps with Facebook Login (tenants/callbacks.py).
    path("facebook/data-deletion", callbacks.data_deletion, name="facebook_data_deletion"),
    path(
        "facebook/data-deletion/<str:code>/",
        callbacks.data_deletion_status,
        name="facebook_data_deletion_status",
    ),
    path("facebook/deauthorize", callbacks.deauthorize, name="facebook_deauthorize"),
]
