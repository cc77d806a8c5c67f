"""The app's URLs plus views that fail, for the error-page tests (ROOT_URLCONF)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import handler404, handler500
from config.urls import urlpatterns as app_urlpatterns


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


urlpatterns = [
    path("boom/", boom),
    path("api/v1/boom/", boom),
    *app_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
