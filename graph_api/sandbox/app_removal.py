"""A person removing the app on Facebook, played by the sandbox: their tokens stop working,
their grant is forgotten, and the app's deauthorize callback (and, if asked, its data deletion
request callback) receive a ``signed_request`` as Facebook posts them (reference §11).

``POST /_sandbox/remove_app {"user_id", "delete_data"?: bool, "app_url"?: str}``: the
callbacks are ``{app_url}/facebook/deauthorize`` and ``{app_url}/facebook/data-deletion``;
``app_url`` defaults to the origin of the webhook URL (the app that receives the webhooks).
It answers what each callback answered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .state import SandboxState

CALLBACK_TIMEOUT_SECONDS = 10
DEAUTHORIZE_PATH = "/facebook/deauthorize"
DATA_DELETION_PATH = "/facebook/data-deletion"
NOT_AUTHORIZED_SUBCODE = 458
"""190/458 "The user has not authorized this application", what a removed app's tokens get."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_request(user_id: str, secret: str, issued_at: int | None = None) -> str:
    """``base64url(HMAC-SHA256(payload part)) "." base64url(JSON)``, as Facebook signs it."""
    payload = {
        "algorithm": "HMAC-SHA256",
        "user_id": user_id,
        "issued_at": int(time.time()) if issued_at is None else issued_at,
    }
    encoded = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return (
        _b64(hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()) + "." + encoded
    )


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


class AppRemoval:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/_sandbox/remove_app", self.remove_app)]

    async def remove_app(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
        except json.JSONDecodeError:
            return _bad("body is not JSON")
        if not isinstance(body, dict):
            return _bad("body must be a JSON object")
        user_id = str(body.get("user_id", ""))
        if self.state.user(user_id) is None:
            return _bad(f"unknown user {user_id!r}: give the user_id of a seed user")
        app_url = body.get("app_url") or self._app_origin()
        if not isinstance(app_url, str) or urlsplit(app_url).scheme not in ("http", "https"):
            return _bad(
                "no app URL: give app_url, or set the webhook URL (its origin is the app's)"
            )
        self.state.revoke(user_id=user_id, subcode=NOT_AUTHORIZED_SUBCODE)
        self.state.grants.pop(user_id, None)
        value = signed_request(user_id, self.state.config.app_secret)
        answers = {"deauthorize": await self._post(app_url.rstrip("/") + DEAUTHORIZE_PATH, value)}
        if body.get("delete_data"):
            answers["data_deletion"] = await self._post(
                app_url.rstrip("/") + DATA_DELETION_PATH, value
            )
        return web.json_response({"user_id": user_id, **answers})

    def _app_origin(self) -> str | None:
        url = self.state.webhook.url
        if not url:
            return None
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    async def _post(self, url: str, value: str) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, data={"signed_request": value}) as response,
            ):
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return {"url": url, "error": f"{type(exc).__name__}: {exc}".strip(": ")}
        try:
            answer: Any = json.loads(text)
        except json.JSONDecodeError:
            answer = text[:500]
        return {"url": url, "status": response.status, "body": answer}
