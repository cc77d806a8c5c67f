"""A Content-Security-Policy for the sandbox's own HTML pages (the login dialog, the webhook
form, the control page), as strict as Pagepulse's: their one inline <style> and <script> run
with a per-response nonce, and nothing else inline does.

The login dialog's form posts to the sandbox, which redirects to the app's redirect_uri;
Chromium checks `form-action` on that redirect, so the redirect_uri's origin is allowed too.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def policy(nonce: str, redirect_uri: str = "") -> str:
    form_action = " ".join(filter(None, ["'self'", _origin(redirect_uri)]))
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action {form_action}"
    )


def with_nonce(html: str, nonce: str) -> str:
    """The page with the nonce on its inline <style> and (executable) <script> elements."""
    return html.replace("<style>", f"<style nonce={nonce}>").replace(
        "<script>", f"<script nonce={nonce}>"
    )


@web.middleware
async def content_security_policy(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if (
        isinstance(response, web.Response)
        and response.content_type == "text/html"
        and response.text is not None
    ):
        nonce = secrets.token_urlsafe(16)
        response.text = with_nonce(response.text, nonce)
        response.headers["Content-Security-Policy"] = policy(
            nonce, request.query.get("redirect_uri", "")
        )
    return response
