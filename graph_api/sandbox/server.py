"""The aiohttp server: Graph, the www login dialog and /_sandbox/ on one port.

HTTP is only the wrapper here: requests become `GraphRequest`s for `Graph.call`, and answers go
back as JSON with Graph's headers.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from .app_removal import AppRemoval
from .control import Control
from .csp import content_security_policy
from .errors import GraphError, invalid_param, new_fbtrace_id
from .graph import VERSION_RE, Graph, GraphRequest
from .login import LoginDialog
from .profiles import ProfilePictures
from .seed import Seed
from .state import SandboxConfig, SandboxState
from .webhook import Webhooks

STATE_KEY = web.AppKey("state", SandboxState)
JSON_CONTENT_TYPE = "application/json"


def build_app(
    config: SandboxConfig, seed: Seed, faults: Iterable[dict[str, Any]] = ()
) -> web.Application:
    """The sandbox as an aiohttp application, with start-up faults installed."""
    state = SandboxState(config, seed)
    for spec in faults:
        state.faults.add(spec)
    graph = Graph(state)
    dialog = LoginDialog(state)
    control = Control(state)
    webhooks = Webhooks(state)
    graph.on_subscribed = webhooks.page_subscribed

    async def graph_handler(request: web.Request) -> web.Response:
        version, path = split_version(request.path)
        try:
            body = await parse_body(request)
        except GraphError as error:
            return web.Response(
                status=error.status,
                text=json.dumps(error.body(new_fbtrace_id())),
                content_type=JSON_CONTENT_TYPE,
            )
        graph_request = GraphRequest(
            method=request.method,
            path=path,
            version=version,
            query=dict(request.query),
            body=body,
            base_url=f"{request.scheme}://{request.host}",
            header_token=bearer_token(request.headers.get("Authorization")),
        )
        response = await graph.call(graph_request)
        return web.Response(
            status=response.status,
            text=json.dumps(response.body, separators=(",", ":")),
            content_type=JSON_CONTENT_TYPE,
            headers=response.headers,
        )

    app = web.Application(client_max_size=16 * 1024**2, middlewares=[content_security_policy])
    app[STATE_KEY] = state
    version = r"{version:v\d+\.\d+}"
    app.add_routes(control.routes())
    app.add_routes(webhooks.routes())
    app.add_routes(ProfilePictures(state).routes())
    app.add_routes(AppRemoval(state).routes())
    app.on_cleanup.append(webhooks.close)
    for prefix in ("", f"/{version}"):
        app.add_routes(
            [
                web.get(f"{prefix}/dialog/oauth", dialog.show),
                web.post(f"{prefix}/dialog/oauth/confirm", dialog.confirm),
            ]
        )
    # Browsers ask every host for /favicon.ico; without this the Graph catch-all answered 400,
    # a console error on every sandbox page.
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_route("*", "/{tail:.*}", graph_handler)
    return app


# The sandbox's icon: a grey "G" (for Graph), so its tabs are told apart from the app's.
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#475467"/>'
    '<text x="16" y="23" font-family="sans-serif" font-size="20" font-weight="700" fill="#fff" '
    'text-anchor="middle">G</text></svg>'
)


async def favicon(request: web.Request) -> web.Response:
    return web.Response(
        text=FAVICON_SVG,
        content_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def split_version(path: str) -> tuple[str | None, str]:
    """("v20.0", "/me") for "/v20.0/me"; (None, path) for an unversioned path."""
    first, sep, rest = path.lstrip("/").partition("/")
    if VERSION_RE.match(first):
        return first, "/" + rest if sep else "/"
    return None, path


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer|OAuth <token>` header (Graph accepts both)."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() in ("bearer", "oauth") else None


async def parse_body(request: web.Request) -> dict[str, Any]:
    """A JSON, urlencoded or multipart body as a dict (JSON bodies keep their types)."""
    if not request.can_read_body:
        return {}
    if request.content_type == JSON_CONTENT_TYPE:
        try:
            body = json.loads(await request.text() or "{}")
        except json.JSONDecodeError:
            raise invalid_param("The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise invalid_param("The request body must be a JSON object")
        return body
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    return {}


async def serve(
    config: SandboxConfig,
    seed: Seed,
    *,
    host: str,
    port: int,
    faults: Iterable[dict[str, Any]] = (),
) -> None:
    """Run until SIGINT or SIGTERM; print the listening line once the port is bound."""
    app = build_app(config, seed, faults)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    site = web.SockSite(runner, sock)
    await site.start()
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    # Tests and `make dev` wait for exactly this line.
    sys.stdout.write(f"graph sandbox listening on http://{shown_host}:{bound_port}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
