"""The Content-Security-Policy (django-csp), with the Facebook Login host (and the Graph
sandbox's, for profile pictures) read per request.

Chromium checks `form-action` on every redirect a submitted form leads to, and "Continue with
Facebook" posts to our own /auth/login/facebook/, which redirects to FACEBOOK_WWW_URL's login
dialog. So that host must be in `form-action`, and it is read at each response rather than
frozen at start-up: tests point it at a Graph sandbox on a port chosen at run time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class PagepulseCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, adding the Facebook Login host to `form-action` and, where
    GRAPH_API_URL is not Facebook's, its host to `img-src`."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        update: dict[str, Any] = dict(parts.update or {})
        update["form-action"] = [
            *update.get("form-action", []),
            origin(settings.FACEBOOK_WWW_URL),
        ]
        graph = origin(settings.GRAPH_API_URL)
        if graph != "https://graph.facebook.com":  # the sandbox serves profile pictures
            update["img-src"] = [*update.get("img-src", []), graph]
        return replace(parts, update=update)
