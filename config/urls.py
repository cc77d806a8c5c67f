from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from events.api import urls as events_api
from flows import views as flows_views
from flows.api import urls as flows_api
from insights import views as insights_views
from messenger.api import urls as messenger_api
from messenger.webhooks import messenger_webhook

TENANT_API = "api/v1/tenants/<slug:tenant_slug>/"

urlpatterns = [
    # The workspace's home page is the marketer's overview (insights), before tenants' pages.
    path("t/<slug:slug>/", include("insights.urls")),
    path("", include("tenants.urls")),
    path("connect/facebook/ads/done/", insights_views.ads_connect_done, name="insights_ads_done"),
    path("t/<slug:slug>/flows/", include("flows.urls")),
    path("t/<slug:slug>/events/", include("events.urls")),
    path("t/<slug:slug>/handoffs/", include("messenger.handoffs_urls")),
    path("t/<slug:slug>/inbox/", include("messenger.inbox_urls")),
    path("t/<slug:slug>/people/", include("messenger.people_urls")),
    path("t/<slug:slug>/pages/<int:page_pk>/move/", flows_views.page_move, name="page_move"),
    path("api/v1/", include("tenants.api.urls")),
    path("api/v1/", include(events_api.urlpatterns)),
    path("api/v1/", include(flows_api.urlpatterns)),
    path(TENANT_API, include(events_api.tenant_urlpatterns)),
    path(TENANT_API, include(flows_api.tenant_urlpatterns)),
    path(TENANT_API, include(messenger_api.tenant_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("webhooks/messenger", messenger_webhook, name="messenger-webhook"),
]

handler404 = "tenants.api.errors.not_found"
handler500 = "tenants.api.errors.server_error"
