"""The control and inspection API under /_sandbox/, for tests, benchmarks and people.

Not part of Facebook's API, so its answers are plain JSON (`{"error": "..."}` with 400 on a bad
request), not Graph-shaped.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

from aiohttp import web

from . import tokens
from .faults import FaultSpecError
from .seed import KNOWN_PERMISSIONS
from .state import SandboxState

EVENT_FILTERS = ("page_id", "psid", "transport", "event_name", "event_id")


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not JSON: {exc}"}), content_type="application/json"
        ) from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}),
            content_type="application/json",
        )
    return body


def _int_query(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{name} must be an integer"}),
            content_type="application/json",
        ) from None


class Control:
    """Handlers for /_sandbox/…"""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        """The control routes, to register before the Graph catch-all."""
        return [
            web.get("/_sandbox", self.status_page),
            web.get("/_sandbox/", self.status_page),
            web.get("/_sandbox/requests", self.requests),
            web.get("/_sandbox/events", self.events),
            web.get("/_sandbox/faults", self.list_faults),
            web.post("/_sandbox/faults", self.add_faults),
            web.delete("/_sandbox/faults", self.clear_faults),
            web.post("/_sandbox/revoke", self.revoke),
            web.post("/_sandbox/inbound", self.inbound),
            web.post("/_sandbox/ad_referrals", self.ad_referral),
            web.post("/_sandbox/insights", self.insights_settings),
            web.post("/_sandbox/reset", self.reset),
            web.post("/_sandbox/tokens", self.mint_token),
            web.get("/_sandbox/seed", self.seed),
        ]

    async def requests(self, request: web.Request) -> web.Response:
        """GET /_sandbox/requests?path=&since=&method=&limit=: the request log, by id.

        A batch envelope is logged when it finishes, after its operations; sorting by id puts it
        back in front of them, in the order the calls arrived.
        """
        since = _int_query(request, "since", 0)
        limit = _int_query(request, "limit", 1000)
        path = request.query.get("path")
        method = request.query.get("method", "").upper() or None
        data = [
            entry
            for entry in sorted(self.state.requests, key=lambda entry: entry["id"])
            if entry["id"] > since
            and (path is None or path in entry["path"])
            and (method is None or entry["method"] == method)
        ]
        return web.json_response({"data": data[-limit:] if limit > 0 else data})

    async def events(self, request: web.Request) -> web.Response:
        """GET /_sandbox/events?since=&page_id=&psid=&transport=&event_name=&event_id=."""
        since = _int_query(request, "since", 0)
        filters = {k: request.query[k] for k in EVENT_FILTERS if k in request.query}
        data = [
            event
            for event in self.state.events[since:]
            if all(str(event.get(k)) == v for k, v in filters.items())
        ]
        return web.json_response(
            {"data": data, "count": len(data), "total": len(self.state.events)}
        )

    async def list_faults(self, request: web.Request) -> web.Response:
        """GET /_sandbox/faults: installed faults with their hit counts."""
        return web.json_response({"data": [fault.to_json() for fault in self.state.faults]})

    async def add_faults(self, request: web.Request) -> web.Response:
        """POST /_sandbox/faults: one fault object, or {"faults": [...]}; answers their ids."""
        body = await _json_body(request)
        specs = body.get("faults", [body])
        if not isinstance(specs, list):
            return _bad("faults must be a list")
        try:
            added = [self.state.faults.add(spec) for spec in specs]
        except FaultSpecError as exc:
            return _bad(str(exc))
        return web.json_response({"ids": [fault.id for fault in added]})

    async def clear_faults(self, request: web.Request) -> web.Response:
        """DELETE /_sandbox/faults[?id=N]: remove one fault or all."""
        fault_id = request.query.get("id")
        if fault_id is not None and not fault_id.isdigit():
            return _bad("id must be an integer")
        removed = self.state.faults.remove(None if fault_id is None else int(fault_id))
        return web.json_response({"removed": removed})

    async def revoke(self, request: web.Request) -> web.Response:
        """POST /_sandbox/revoke {token | user_id | page_id | user_id+page_id, subcode?}."""
        body = await _json_body(request)
        claims = None
        if "token" in body:
            claims = tokens.decode(str(body["token"]))
            if claims is None:
                return _bad("token is not a sandbox token")
        subcode = body.get("subcode")
        if subcode is not None and not isinstance(subcode, int):
            return _bad("subcode must be an integer")
        user_id = None if body.get("user_id") is None else str(body["user_id"])
        page_id = None if body.get("page_id") is None else str(body["page_id"])
        if user_id is not None and self.state.user(user_id) is None:
            return _bad(f"unknown user {user_id}")
        if page_id is not None and self.state.page(page_id) is None:
            return _bad(f"unknown page {page_id}")
        try:
            what = self.state.revoke(
                token=claims, user_id=user_id, page_id=page_id, subcode=subcode
            )
        except ValueError as exc:
            return _bad(str(exc))
        return web.json_response({"revoked": what})

    async def inbound(self, request: web.Request) -> web.Response:
        """POST /_sandbox/inbound {page_id, psid, seconds_ago?}: a person wrote to the Page."""
        body = await _json_body(request)
        page_id, psid = str(body.get("page_id", "")), str(body.get("psid", ""))
        if self.state.page(page_id) is None:
            return _bad(f"unknown page {page_id!r}")
        if not psid.isdigit():
            return _bad("psid must be numeric")
        seconds_ago = body.get("seconds_ago", 0)
        if not isinstance(seconds_ago, int | float) or seconds_ago < 0:
            return _bad("seconds_ago must be a non-negative number")
        self.state.record_inbound(page_id, psid, time.time() - seconds_ago)
        return web.json_response({"success": True})

    async def ad_referral(self, request: web.Request) -> web.Response:
        """POST /_sandbox/ad_referrals {page_id, psid, ad_id, days_ago?}: a person started a
        conversation from an ad (what the webhook's `referral` with source ADS records too)."""
        body = await _json_body(request)
        page_id, psid = str(body.get("page_id", "")), str(body.get("psid", ""))
        ad_id = str(body.get("ad_id", ""))
        ad = self.state.seed.ad_objects.get(ad_id)
        if ad is None or ad.kind != "ad":
            return _bad(f"unknown ad {ad_id!r}; the seed's ads are listed at /_sandbox/seed")
        if page_id not in ad.page_ids:
            return _bad(f"ad {ad_id} advertises page {sorted(ad.page_ids)[0]}, not {page_id!r}")
        if not psid.isdigit():
            return _bad("psid must be numeric")
        days_ago = body.get("days_ago", 0)
        if isinstance(days_ago, bool) or not isinstance(days_ago, int) or not 0 <= days_ago <= 90:
            return _bad("days_ago must be an integer from 0 to 90")
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - days_ago * 86400))
        self.state.record_ad_referral(page_id, psid, ad_id, day)
        return web.json_response({"success": True, "day": day})

    async def insights_settings(self, request: web.Request) -> web.Response:
        """POST /_sandbox/insights {report_same_day}: report an ad's conversions on the day they
        happen instead of from the next day on (as Facebook does)."""
        body = await _json_body(request)
        same_day = body.get("report_same_day")
        if not isinstance(same_day, bool):
            return _bad("report_same_day must be true or false")
        self.state.insights_same_day = same_day
        return web.json_response({"report_same_day": same_day})

    async def reset(self, request: web.Request) -> web.Response:
        """POST /_sandbox/reset: forget requests, events, faults, grants, revocations."""
        self.state.reset()
        return web.json_response({"success": True})

    async def mint_token(self, request: web.Request) -> web.Response:
        """POST /_sandbox/tokens: a token without the login dialog (expired ones too)."""
        body = await _json_body(request)
        kind = body.get("type", "user")
        user = self.state.user(str(body.get("user_id", "")))
        if kind not in ("user", "page") or user is None:
            return _bad("need type user|page and a seed user_id")
        page_id = None if body.get("page_id") is None else str(body["page_id"])
        if kind == "page" and (page_id is None or self.state.page(page_id) is None):
            return _bad("a page token needs a seed page_id")
        scopes = body.get("scopes", sorted(user.default_permissions))
        if not isinstance(scopes, list) or set(scopes) - KNOWN_PERMISSIONS:
            return _bad(f"scopes must be a list of {sorted(KNOWN_PERMISSIONS)}")
        expires_in = body.get("expires_in")
        token, claims = tokens.mint(
            kind=kind,
            app_id=self.state.config.app_id,
            user_id=user.id,
            page_id=page_id,
            scopes=tuple(scopes),
            granted_pages=None if body.get("pages") is None else tuple(map(str, body["pages"])),
            long_lived=bool(body.get("long_lived", kind == "page")),
            expires_at=None if expires_in is None else int(time.time() + expires_in),
        )
        proof = tokens.appsecret_proof(self.state.config.app_secret, token)
        return web.json_response(
            {"access_token": token, "appsecret_proof": proof, "expires_at": claims.expires_at}
        )

    async def seed(self, request: web.Request) -> web.Response:
        """GET /_sandbox/seed: the test users, Pages (with dataset ids) and ad objects."""
        seed = self.state.seed
        return web.json_response(
            {
                "app": {"id": self.state.config.app_id, "name": seed.app_name},
                "users": [
                    {
                        "id": u.id,
                        "name": u.name,
                        "email": u.email,
                        "permissions": sorted(u.default_permissions),
                        "pages": {pid: list(tasks) for pid, tasks in u.page_tasks.items()},
                    }
                    for u in seed.users.values()
                ],
                "pages": [
                    {"id": p.id, "name": p.name, "category": p.category, "dataset_id": p.dataset_id}
                    for p in seed.pages.values()
                ],
                "ad_objects": [
                    {"id": o.id, "name": o.name, "kind": o.kind, "page_ids": sorted(o.page_ids)}
                    for o in seed.ad_objects.values()
                ],
            }
        )

    async def status_page(self, request: web.Request) -> web.Response:
        """GET /_sandbox/: a small HTML overview for people."""
        state = self.state
        esc = html.escape
        users = "".join(
            f"<tr><td>{u.id}</td><td>{esc(u.name)}</td><td>{len(state.pages_of(u.id))}</td>"
            f"<td>{esc(', '.join(sorted(u.default_permissions)))}</td></tr>"
            for u in state.seed.users.values()
        )
        pages = "".join(
            f"<tr><td>{p.id}</td><td>{esc(p.name)}</td><td>{p.dataset_id}</td>"
            f"<td>{esc(', '.join(state.subscriptions.get(p.id, [])))}</td></tr>"
            for p in list(state.seed.pages.values())[:20]
        )
        faults = (
            "".join(f"<li><code>{esc(json.dumps(f.to_json()))}</code></li>" for f in state.faults)
            or "<li>none</li>"
        )
        by_transport: dict[str, int] = {}
        for event in state.events:
            by_transport[event["transport"]] = by_transport.get(event["transport"], 0) + 1
        counts = (
            f"requests logged: {len(state.requests)}; events: {len(state.events)} "
            f"{esc(json.dumps(by_transport))}; messages sent: {state.sent_messages}"
        )
        page = f"""<!doctype html><html lang=en><head><meta charset=utf-8><title>Graph sandbox</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#1c1e21}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left}}code{{font-size:12px}}</style></head>
<body><h1>Graph sandbox</h1><p>app {esc(state.config.app_id)} ({esc(state.seed.app_name)}), up since {state.started_at}.
appsecret_proof required: {state.config.require_appsecret_proof}.</p>
<p>{counts}</p><h2>Faults</h2><ul>{faults}</ul>
<h2>Users</h2><table><tr><th>id</th><th>name</th><th>pages</th><th>grants by default</th></tr>{users}</table>
<h2>Pages (first 20 of {len(state.seed.pages)})</h2><table><tr><th>id</th><th>name</th><th>dataset</th>
<th>subscribed fields</th></tr>{pages}</table>
<p>JSON: <a href=/_sandbox/requests>requests</a> · <a href=/_sandbox/events>events</a> ·
<a href=/_sandbox/faults>faults</a> · <a href=/_sandbox/seed>seed</a></p></body></html>"""
        return web.Response(text=page, content_type="text/html")
