"""The Graph side: one call in, one Graph-shaped answer out.

`Graph.call` is the whole pipeline for a Graph API call: route (with the version rules), check the
token and its appsecret_proof, draw injected faults, run the handler, add usage headers and record
the call. It works on a transport-neutral `GraphRequest`, so a Graph batch request runs each of
its operations through exactly the same pipeline as a direct call.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from . import tokens
from .errors import (
    GraphError,
    invalid_param,
    invalid_proof,
    invalid_token,
    missing_param,
    missing_permission,
    missing_proof,
    missing_task,
    new_fbtrace_id,
    page_token_required,
    token_required,
    unknown_object,
    unknown_path,
    unsupported_method,
)
from .profiles import picture_url, profile_name
from .seed import AdObject
from .state import HUMAN_AGENT_WINDOW_SECONDS, INBOUND_WINDOW_SECONDS, SandboxState, iso_now
from .tokens import TokenClaims
from .validation import (
    DATE_PRESETS,
    field_list,
    json_param,
    subscribed_fields,
    validate_capi_events,
    validate_page_activities,
    validate_send,
)

# page_activities was served up to and including v20.0 (reference §0, §1.1).
LAST_PAGE_ACTIVITIES_VERSION = (20, 0)
MAX_BATCH_OPS = 50
ACCOUNTS_DEFAULT_LIMIT = 25
ACCOUNTS_MAX_LIMIT = 100
LEAD_EVENT_NAMES = frozenset({"lead_submitted", "LeadSubmitted"})
LEAD_ACTION_TYPE = "onsite_conversion.lead_grouped"
CONVERSATION_ACTION_TYPE = "onsite_conversion.messaging_conversation_started_7d"
PURCHASE_ACTION_TYPE = "onsite_conversion.purchase"
PURCHASE_EVENT_NAMES = frozenset({"fb_mobile_purchase", "Purchase"})
# What the sandbox charges for one conversation started from an ad, in the account's currency.
SPEND_PER_CONVERSATION = 1.25
INSIGHTS_DEFAULT_LIMIT = 25
SUBSCRIBE_TASKS = ("MANAGE", "MODERATE", "CREATE_CONTENT")
DATASET_TASKS = ("MANAGE", "ADVERTISE")
# The reference (§3.1) says the dataset calls need business_management, which ads_read or
# ads_management can stand in for.
BUSINESS_SCOPES = ("business_management", "ads_read", "ads_management")
ADS_SCOPES = ("ads_read", "ads_management")

VERSION_RE = re.compile(r"^v(\d+)\.(\d+)$")

JSON = dict[str, Any]


@dataclass(slots=True)
class GraphRequest:
    """One Graph call, from HTTP or from a batch operation."""

    method: str
    path: str  # without the version prefix, e.g. "/me/accounts"
    version: str | None  # "v20.0", or None for an unversioned path
    query: dict[str, str]
    body: dict[str, Any]
    base_url: str
    header_token: str | None = None
    parent_id: int | None = None
    request_id: int = 0  # set by Graph.call; events point back at the call that carried them
    params: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.params = {**self.query, **self.body}

    @property
    def version_tuple(self) -> tuple[int, int] | None:
        """The version as numbers; None when unversioned."""
        match = VERSION_RE.match(self.version or "")
        return (int(match[1]), int(match[2])) if match else None

    @property
    def full_path(self) -> str:
        """The path as received, version included."""
        return f"/{self.version}{self.path}" if self.version else self.path


@dataclass(slots=True)
class GraphResponse:
    """A Graph answer; `timed_out` marks a batch operation Facebook would answer with null."""

    status: int
    body: Any
    headers: dict[str, str]
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: an app token, or a user or Page token with its claims."""

    kind: Literal["app", "user", "page"]
    token: str
    claims: TokenClaims | None = None

    @property
    def user_id(self) -> str | None:
        return self.claims.user_id if self.claims else None

    @property
    def page_id(self) -> str | None:
        return self.claims.page_id if self.claims else None

    def has_scope(self, *scopes: str) -> bool:
        """True when the token carries any of `scopes`."""
        return self.claims is not None and any(s in self.claims.scopes for s in scopes)


Auth = Literal["none", "token", "app"]
Handler = Callable[[GraphRequest, Caller | None], JSON | Awaitable[JSON]]


@dataclass(frozen=True, slots=True)
class Route:
    """A resolved call: its handler, what token it needs, and the Page it concerns."""

    handler: Handler
    auth: Auth = "token"
    page_id: str | None = None
    faults: bool = True


class Graph:
    """The Graph API handlers over one SandboxState."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.config = state.config
        # Called with the Page id when an app subscribes to a Page (the webhook handshake).
        self.on_subscribed: Callable[[str], None] | None = None

    # --- The pipeline -----------------------------------------------------------------------------

    async def call(self, req: GraphRequest, *, record: bool = True) -> GraphResponse:
        """Run one Graph call and record it in the request log."""
        started = time.perf_counter()
        generation = self.state.generation
        req.request_id = request_id = self.state.next_request_id()
        fbtrace_id = new_fbtrace_id()
        caller: Caller | None = None
        headers: dict[str, str] = {}
        try:
            route = self._route(req)
            if route.auth != "none":
                caller = self._authenticate(req, app_only=route.auth == "app")
            page_id = route.page_id or (caller.page_id if caller else None)
            if route.faults and self.state.faults:
                timed_out = await self._apply_faults(req, page_id, generation)
                if timed_out:
                    return GraphResponse(504, None, {}, timed_out=True)
            result = route.handler(req, caller)
            body: Any = await result if asyncio.iscoroutine(result) else result
            status = 200
        except GraphError as error:
            body, status, headers = error.body(fbtrace_id), error.status, dict(error.headers)
        response = GraphResponse(
            status, body, self._usage_headers(caller, headers, fbtrace_id, req)
        )
        if record and generation == self.state.generation:
            self._record(req, request_id, response, started)
        return response

    def _usage_headers(
        self, caller: Caller | None, headers: dict[str, str], fbtrace_id: str, req: GraphRequest
    ) -> dict[str, str]:
        page_id = caller.page_id if caller and caller.kind == "page" else None
        self.state.usage.record(page_id)
        headers.setdefault("X-App-Usage", self.state.usage.app_usage())
        if page_id is not None:
            headers.setdefault("X-Business-Use-Case-Usage", self.state.usage.page_usage(page_id))
        headers["x-fb-trace-id"] = fbtrace_id
        headers["facebook-api-version"] = req.version or "v26.0"
        return headers

    async def _apply_faults(self, req: GraphRequest, page_id: str | None, generation: int) -> bool:
        """Sleep for latency faults and raise the error of a firing fault; True = timed out."""
        latency_ms, fault = self.state.faults.draw(
            method=req.method, path=req.path, page_id=page_id
        )
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        if fault is None:
            return False
        if fault.kind == "timeout":
            if req.parent_id is not None:
                return True  # Facebook answers a batch operation that ran out of time with null
            await asyncio.sleep(fault.seconds)
            if fault.process and generation == self.state.generation:
                return False
            raise GraphError(
                "An unexpected error has occurred. Please retry your request later.",
                2,
                status=500,
                is_transient=True,
            )
        raise fault.error(page_id)

    def _record(
        self, req: GraphRequest, request_id: int, response: GraphResponse, started: float
    ) -> None:
        error = None
        if response.status >= 400 and isinstance(response.body, dict):
            body_error = response.body.get("error", {})
            error = {k: body_error.get(k) for k in ("code", "error_subcode", "message")}
        self.state.log_request(
            request_id=request_id,
            method=req.method,
            path=req.full_path,
            version=req.version,
            query=req.query,
            body=req.body,
            status=response.status,
            started=started,
            batch_parent=req.parent_id,
            error=error,
            timed_out=response.timed_out,
        )

    # --- Authentication ------------------------------------------------------------------------------

    def _authenticate(self, req: GraphRequest, *, app_only: bool = False) -> Caller:
        token = req.params.get("access_token") or req.header_token
        if not token:
            raise token_required()
        token = str(token)
        if "|" in token:
            app_id, _, secret = token.partition("|")
            if app_id != self.config.app_id or not hmac.compare_digest(
                secret, self.config.app_secret
            ):
                raise invalid_token(None, "Invalid OAuth access token signature.")
            return Caller("app", token)
        if app_only:
            raise invalid_param(
                "You must provide an app access token, or a user access token that is an owner "
                "or developer of the app"
            )
        claims = tokens.decode(token)
        if claims is None or claims.app_id != self.config.app_id:
            raise invalid_token(None)
        if self.config.require_appsecret_proof:
            proof = req.params.get("appsecret_proof")
            if not proof:
                raise missing_proof()
            expected = tokens.appsecret_proof(self.config.app_secret, token)
            if not hmac.compare_digest(str(proof), expected):
                raise invalid_proof()
        self._check_alive(claims)
        return Caller(claims.kind, token, claims)

    def _check_alive(self, claims: TokenClaims) -> None:
        """Raise 190 for an expired or revoked token."""
        now = time.time()
        if claims.is_expired(now):
            raise invalid_token(463, expired_message(claims.expires_at, now))
        subcode = self.state.revocation_subcode(claims)
        if subcode is not None:
            raise invalid_token(subcode)

    # --- Routing -------------------------------------------------------------------------------------

    def _route(self, req: GraphRequest) -> Route:
        parts = [p for p in req.path.split("/") if p]
        method = req.method
        if not parts:
            if method != "POST":
                raise unsupported_method(method)
            return Route(self.batch, faults=False)
        head, edge, rest = parts[0], parts[1] if len(parts) > 1 else None, parts[2:]
        if rest:
            raise unknown_path("/" + "/".join(parts[1:]))

        if head == "oauth" and edge == "access_token":
            _allow(method, "GET", "POST")
            return Route(self.oauth_access_token, auth="none")
        if head == "debug_token" and edge is None:
            _allow(method, "GET")
            return Route(self.debug_token, auth="app")
        if edge == "page_activities":
            # Checked before the object: from v21.0 on the edge does not exist for anyone.
            version = req.version_tuple
            if version is None or version > LAST_PAGE_ACTIVITIES_VERSION:
                raise unknown_path("/page_activities")
            if head != self.config.app_id:
                if head in self.state.seed.pages or head == "me":
                    raise unknown_path("/page_activities")
                raise unknown_object(method, head)
            _allow(method, "POST")
            return Route(self.page_activities)

        seed = self.state.seed
        if head == "me":
            return self._me_route(method, edge)
        if head in seed.pages:
            return self._page_route(method, head, edge)
        if head in seed.datasets:
            if edge != "events":
                raise unknown_path(f"/{edge}") if edge else unknown_object(method, head)
            _allow(method, "POST")
            return Route(self.capi_events, page_id=seed.datasets[head])
        if head in seed.users:
            return self._user_route(method, head, edge)
        if head in seed.ad_objects:
            # Throttling of ads calls is per ad account: faults and BUC headers name the account.
            account_id = seed.ad_objects[head].account_id
            if edge is None:
                _allow(method, "GET")
                return Route(self.ad_object_node, page_id=account_id)
            if edge != "insights":
                raise unknown_path(f"/{edge}")
            _allow(method, "GET")
            return Route(self.insights, page_id=account_id)
        if head == self.config.app_id and edge is None:
            _allow(method, "GET")
            return Route(self.app_node)
        if head == self.config.app_id:
            raise unknown_path(f"/{edge}")
        if edge is None and method == "GET" and head.isascii() and head.isdigit():
            # Perhaps a PSID (User Profile API); the handler answers 100 for anything else.
            return Route(self.user_profile)
        raise unknown_object(method, head)

    def _me_route(self, method: str, edge: str | None) -> Route:
        if edge is None:
            _allow(method, "GET")
            return Route(self.me)
        if edge == "accounts":
            _allow(method, "GET")
            return Route(self.accounts)
        if edge == "adaccounts":
            _allow(method, "GET")
            return Route(self.adaccounts)
        if edge == "messages":
            _allow(method, "POST")
            return Route(self.messages)
        if edge == "permissions":
            _allow(method, "GET", "DELETE")
            return Route(self.permissions)
        raise unknown_path(f"/{edge}")

    def _user_route(self, method: str, user_id: str, edge: str | None) -> Route:
        def same_user(handler: Handler) -> Handler:
            def checked(req: GraphRequest, caller: Caller | None) -> JSON | Awaitable[JSON]:
                if caller is None or caller.user_id != user_id or caller.kind != "user":
                    raise unknown_object(req.method, user_id)
                return handler(req, caller)

            return checked

        if edge is None:
            _allow(method, "GET")
            return Route(same_user(self.me))
        if edge == "accounts":
            _allow(method, "GET")
            return Route(same_user(self.accounts))
        if edge == "permissions":
            _allow(method, "GET", "DELETE")
            return Route(same_user(self.permissions))
        raise unknown_path(f"/{edge}")

    def _page_route(self, method: str, page_id: str, edge: str | None) -> Route:
        handlers: dict[str | None, tuple[Handler, tuple[str, ...]]] = {
            None: (self.page_node, ("GET",)),
            "subscribed_apps": (self.subscribed_apps, ("GET", "POST", "DELETE")),
            "dataset": (self.dataset, ("GET", "POST")),
            "messages": (self.messages, ("POST",)),
        }
        if edge not in handlers:
            raise unknown_path(f"/{edge}")
        handler, methods = handlers[edge]
        _allow(method, *methods)
        return Route(handler, page_id=page_id)

    # --- Nodes: /me, /{user}, /{page}, /{app}, /{ad object} -------------------------------------------

    def me(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /me: the person (user token) or the Page (Page token)."""
        if caller is None or caller.kind == "app" or caller.claims is None:
            raise GraphError(
                "An active access token must be used to query information about the current user.",
                2500,
            )
        if caller.kind == "page" and caller.page_id is not None:
            return self._page_fields(req, caller, caller.page_id)
        user = self.state.user(caller.claims.user_id)
        if user is None:
            raise invalid_token(None)
        fields = field_list(req.params, ("id", "name", "email"), "User", ("id", "name"))
        values = {"id": user.id, "name": user.name}
        # Facebook only returns email when the person granted the email permission.
        if caller.has_scope("email"):
            values["email"] = user.email
        return {name: values[name] for name in fields if name in values}

    def page_node(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /{page-id}: id, name, category; access_token and tasks for people who manage it."""
        page_id = req.path.strip("/").split("/")[0]
        return self._page_fields(req, caller, page_id)

    def _page_fields(self, req: GraphRequest, caller: Caller | None, page_id: str) -> JSON:
        page = self.state.page(page_id)
        if page is None:
            raise unknown_object(req.method, page_id)
        fields = field_list(
            req.params, ("id", "name", "category", "access_token", "tasks"), "Page", ("id", "name")
        )
        values: JSON = {"id": page.id, "name": page.name, "category": page.category}
        claims = caller.claims if caller else None
        tasks = self.state.tasks(claims.user_id, page_id) if claims else ()
        if claims and tasks and claims.kind == "user" and claims.grants_page(page_id):
            values["access_token"] = self._page_token(claims, page_id)
            values["tasks"] = list(tasks)
        elif caller and claims and tasks and claims.page_id == page_id:
            values["access_token"] = caller.token
            values["tasks"] = list(tasks)
        # Like Facebook, fields the caller may not see are left out rather than refused.
        return {name: values[name] for name in fields if name in values}

    def app_node(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /{app-id}."""
        return {"id": self.config.app_id, "name": self.state.seed.app_name}

    def ad_object_node(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /{act_…|campaign-id}."""
        ad_object = self._ad_object_for(req, caller)
        return {"id": ad_object.id, "name": ad_object.name}

    # --- /me/accounts and /me/permissions -------------------------------------------------------------

    def accounts(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /me/accounts: the Pages the person has a task on and granted, paged."""
        claims = self._user_claims(caller, "accounts")
        if not caller or not caller.has_scope("pages_show_list"):
            raise missing_permission("pages_show_list")
        fields = field_list(
            req.params,
            ("id", "name", "access_token", "tasks", "category"),
            "Page",
            ("access_token", "category", "name", "id", "tasks"),
        )
        page_ids = [p for p in self.state.pages_of(claims.user_id) if claims.grants_page(p)]
        limit = _limit(req.params.get("limit"))
        start, end = _cursor_window(req.params, page_ids, limit)
        window = page_ids[start:end]
        data = []
        for page_id in window:
            page = self.state.seed.pages[page_id]
            values: JSON = {
                "id": page.id,
                "name": page.name,
                "category": page.category,
                "tasks": list(self.state.tasks(claims.user_id, page_id)),
            }
            if "access_token" in fields:
                values["access_token"] = self._page_token(claims, page_id)
            data.append({name: values[name] for name in fields})
        if not data:
            return {"data": []}
        paging: JSON = {"cursors": {"before": _cursor(window[0]), "after": _cursor(window[-1])}}
        if end < len(page_ids):
            paging["next"] = _page_url(req, {"after": _cursor(window[-1])})
        if start > 0:
            paging["previous"] = _page_url(req, {"before": _cursor(window[0])})
        return {"data": data, "paging": paging}

    def _page_token(self, user: TokenClaims, page_id: str) -> str:
        # Page tokens from a long-lived user token never expire; from a short-lived one they end
        # with the user token (reference §5.3).
        token, _ = tokens.mint(
            kind="page",
            app_id=self.config.app_id,
            user_id=user.user_id,
            page_id=page_id,
            scopes=user.scopes,
            long_lived=user.long_lived,
            expires_at=None if user.long_lived else user.expires_at,
        )
        return token

    def permissions(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /me/permissions lists grants; DELETE removes the app (all tokens -> 190/458)."""
        claims = self._user_claims(caller, "permissions")
        grant = self.state.grant_for(claims.user_id)
        if req.method == "DELETE":
            self.state.revoke(user_id=claims.user_id, subcode=458)
            self.state.grants.pop(claims.user_id, None)
            return {"success": True}
        granted = set(claims.scopes) | grant.granted
        rows = [{"permission": p, "status": "granted"} for p in sorted(granted)]
        rows += [{"permission": p, "status": "declined"} for p in sorted(grant.declined - granted)]
        return {"data": rows}

    def _user_claims(self, caller: Caller | None, edge: str) -> TokenClaims:
        if caller is None or caller.kind == "app" or caller.claims is None:
            raise GraphError(
                "An active access token must be used to query information about the current user.",
                2500,
            )
        if caller.kind == "page":
            raise invalid_param(f"Tried accessing nonexisting field ({edge}) on node type (Page)")
        return caller.claims

    # --- Page edges ---------------------------------------------------------------------------------------

    def subscribed_apps(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET/POST/DELETE /{page-id}/subscribed_apps with that Page's token."""
        page_id = _path_id(req)
        claims = self._page_claims(caller, page_id)
        if not set(self.state.tasks(claims.user_id, page_id)) & set(SUBSCRIBE_TASKS):
            raise missing_task("MANAGE, MODERATE or CREATE_CONTENT", page_id)
        if not caller or not caller.has_scope("pages_manage_metadata"):
            raise missing_permission("pages_manage_metadata")
        if req.method == "GET":
            if not caller.has_scope("pages_show_list"):
                raise missing_permission("pages_show_list")
            fields = self.state.subscriptions.get(page_id)
            if fields is None:
                return {"data": []}
            app = {"id": self.config.app_id, "name": self.state.seed.app_name}
            return {"data": [{**app, "subscribed_fields": list(fields)}]}
        if req.method == "DELETE":
            self.state.subscriptions.pop(page_id, None)
            return {"success": True}
        self.state.subscriptions[page_id] = subscribed_fields(req.params)
        if self.on_subscribed is not None:
            self.on_subscribed(page_id)
        return {"success": True}

    def dataset(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET/POST /{page-id}/dataset: create or get the Page's one dataset."""
        page_id = _path_id(req)
        self._check_page_events_access(req, caller, page_id, object_id=page_id)
        if not caller or not caller.has_scope(*BUSINESS_SCOPES):
            raise missing_permission("business_management")
        name = req.params.get("dataset_name")
        if name is not None and not isinstance(name, str):
            raise invalid_param("Param dataset_name must be a string")
        self.state.datasets_created.add(page_id)
        return {"id": self.state.seed.pages[page_id].dataset_id}

    def _check_page_events_access(
        self, req: GraphRequest, caller: Caller | None, page_id: str, *, object_id: str
    ) -> None:
        """A Page token of this Page, or a user token of a person who manages it; page_events."""
        claims = caller.claims if caller else None
        if caller is None or claims is None:
            raise unknown_object(req.method, object_id)
        if claims.kind == "page":
            if claims.page_id != page_id:
                raise unknown_object(req.method, object_id)
            if not self.state.tasks(claims.user_id, page_id):
                raise invalid_token(492)
        else:
            if not set(self.state.tasks(claims.user_id, page_id)) & set(DATASET_TASKS):
                raise missing_task("MANAGE or ADVERTISE", page_id)
            if not claims.grants_page(page_id):
                raise page_not_granted(page_id)
        if not caller.has_scope("page_events"):
            raise missing_permission("page_events")

    def _page_claims(self, caller: Caller | None, page_id: str) -> TokenClaims:
        """The claims of a Page token for exactly this Page, else (#210)."""
        if caller is None or caller.claims is None or caller.claims.kind != "page":
            raise page_token_required()
        if caller.claims.page_id != page_id:
            raise page_token_required()
        return caller.claims

    # --- Events: page_activities and the Conversions API -------------------------------------------------

    def page_activities(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """POST /{app-id}/page_activities (v20.0 and older), reference §1.2-§1.6."""
        if caller is None or caller.claims is None or caller.kind != "page":
            raise page_token_required()
        claims = caller.claims
        token_page = claims.page_id or ""
        if not caller.has_scope("page_events"):
            raise missing_permission("page_events")
        if "ANALYZE" not in self.state.tasks(claims.user_id, token_page):
            raise missing_task("ANALYZE", token_page)
        call = validate_page_activities(req.params)
        if call.page_id != token_page:
            raise GraphError(
                f"(#200) The access token is the Page access token of Page {token_page}, "
                f"not of page_id {call.page_id}: use that Page's token",
                200,
            )
        received_at = iso_now()
        self.state.record_events(
            {
                "transport": "page_activities",
                "page_id": call.page_id,
                "psid": call.psid,
                "event_name": event.name,
                "event_id": None,
                "params": event.params,
                "custom_data": None,
                "value": event.value,
                "currency": event.params.get("fb_currency"),
                "logging_target": call.logging_target.lower(),
                "logging_source": call.logging_source.lower() if call.logging_source else None,
                "advertiser_tracking_enabled": call.advertiser_tracking_enabled,
                "application_tracking_enabled": call.application_tracking_enabled,
                "event_time": event.meta.get("_logTime"),
                "meta": event.meta,
                "dataset_id": None,
                "api_version": req.version,
                "request_id": req.request_id,
                "received_at": received_at,
            }
            for event in call.events
        )
        return {"success": True}

    def capi_events(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """POST /{dataset-id}/events: Conversions API for Business Messaging, reference §3.3."""
        dataset_id = _path_id(req)
        page_id = self.state.seed.datasets[dataset_id]
        self._check_page_events_access(req, caller, page_id, object_id=dataset_id)
        events = validate_capi_events(req.params, page_id, time.time())
        received_at = iso_now()
        test_code = req.params.get("test_event_code")
        self.state.record_events(
            {
                "transport": "conversions_api",
                "page_id": page_id,
                "psid": event.psid,
                "event_name": event.event_name,
                "event_id": event.event_id,
                "params": None,
                "custom_data": event.custom_data,
                "value": event.value,
                "currency": event.currency,
                "logging_target": None,
                "logging_source": None,
                "event_time": event.event_time,
                "dataset_id": dataset_id,
                "test_event_code": test_code,
                "partner_agent": req.params.get("partner_agent"),
                "api_version": req.version,
                "request_id": req.request_id,
                "received_at": received_at,
            }
            for event in events
        )
        return {"events_received": len(events), "messages": [], "fbtrace_id": new_fbtrace_id()}

    # --- User Profile API ----------------------------------------------------------------------------

    def user_profile(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /{psid}?fields=first_name,last_name,profile_pic with the Page's token (§11).

        Only a PSID that wrote to the token's Page is known; everything else is the same
        "does not exist or missing permissions" error (100/33) Graph gives for any hidden id.
        """
        psid = _path_id(req)
        if caller is None or caller.claims is None or caller.kind != "page":
            raise unknown_object(req.method, psid)
        page_id = caller.claims.page_id or ""
        if not caller.has_scope("pages_messaging"):
            raise missing_permission("pages_messaging", 10)
        if self.state.last_inbound(page_id, psid) is None:
            raise unknown_object(req.method, psid)
        fields = field_list(
            req.params,
            ("id", "first_name", "last_name", "name", "profile_pic"),
            "User",
            ("id", "first_name", "last_name", "profile_pic"),
        )
        first, last = profile_name(self.state.seed, page_id, psid)
        values: dict[str, Any] = {
            "id": psid,
            "first_name": first,
            "last_name": last,
            "name": f"{first} {last}",
            "profile_pic": picture_url(req.base_url, self.config.app_secret, psid),
        }
        return {key: values[key] for key in fields if key in values}

    # --- Send API ------------------------------------------------------------------------------------------

    def messages(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """POST /me/messages or /{page-id}/messages with the Page's token, reference §6.5-§6.6."""
        if caller is None or caller.claims is None or caller.kind != "page":
            raise page_token_required()
        claims = caller.claims
        page_id = claims.page_id or ""
        path_id = _path_id(req)
        if path_id != "me" and path_id != page_id:
            raise page_token_required()
        if "MESSAGING" not in self.state.tasks(claims.user_id, page_id):
            raise missing_task("MESSAGING", page_id)
        if not caller.has_scope("pages_messaging"):
            raise missing_permission("pages_messaging", 230)
        send = validate_send(req.params)
        last = self.state.last_inbound(page_id, send.psid)
        if last is None:
            raise GraphError("(#100) No matching user found", 100, subcode=2018001)
        window = HUMAN_AGENT_WINDOW_SECONDS if send.tag else INBOUND_WINDOW_SECONDS
        if send.messaging_type != "UTILITY" and time.time() - last > window:
            raise GraphError(
                "(#10) This message is sent outside of allowed window.", 10, subcode=2018278
            )
        self.state.sent_messages += 1
        answer: JSON = {"recipient_id": send.psid}
        if send.sender_action is None:
            answer["message_id"] = "m_" + os.urandom(18).hex()
        # What the bot said, for /_sandbox/messages and the webhook form's conversation.
        self.state.record_sent(
            {
                "page_id": page_id,
                "psid": send.psid,
                "messaging_type": send.messaging_type,
                "tag": send.tag,
                "sender_action": send.sender_action,
                "message": json_param(req.params, "message"),
                "message_id": answer.get("message_id"),
            }
        )
        return answer

    # --- Insights ----------------------------------------------------------------------------------------

    def _ad_object_for(self, req: GraphRequest, caller: Caller | None) -> AdObject:
        object_id = _path_id(req)
        ad_object = self.state.seed.ad_objects[object_id]
        if caller is None or caller.kind != "user" or caller.user_id not in ad_object.user_ids:
            raise unknown_object(req.method, object_id)
        if not caller.has_scope(*ADS_SCOPES):
            raise missing_permission("ads_read")
        return ad_object

    def adaccounts(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /me/adaccounts: the ad accounts the person can read (ads_read), paged."""
        claims = self._user_claims(caller, "adaccounts")
        if not caller or not caller.has_scope(*ADS_SCOPES):
            raise missing_permission("ads_read")
        fields = field_list(
            req.params,
            ("id", "account_id", "name", "currency", "account_status"),
            "AdAccount",
            ("id",),
        )
        account_ids = [
            o.id
            for o in self.state.seed.ad_objects.values()
            if o.kind == "account" and claims.user_id in o.user_ids
        ]
        limit = _limit(req.params.get("limit"))
        start, end = _cursor_window(req.params, account_ids, limit)
        window = account_ids[start:end]
        data = []
        for account_id in window:
            account = self.state.seed.ad_objects[account_id]
            values: JSON = {
                "id": account.id,
                "account_id": account.id.removeprefix("act_"),
                "name": account.name,
                "currency": account.currency,
                "account_status": 1,
            }
            data.append({name: values[name] for name in fields})
        if not data:
            return {"data": []}
        paging: JSON = {"cursors": {"before": _cursor(window[0]), "after": _cursor(window[-1])}}
        if end < len(account_ids):
            paging["next"] = _page_url(req, {"after": _cursor(window[-1])})
        return {"data": data, "paging": paging}

    def insights(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /{object}/insights?fields=actions: leads counted from the events received."""
        ad_object = self._ad_object_for(req, caller)
        if req.params.get("level") == "ad":
            return self._ad_level_insights(req, ad_object)
        if req.params.get("level") not in (None, "", "account", "campaign"):
            raise invalid_param("Param level must be one of {ad, campaign, account} in the sandbox")
        fields = field_list(
            req.params,
            ("actions", "date_start", "date_stop", "account_id", "campaign_id", "campaign_name"),
            "AdsInsights",
            ("date_start", "date_stop"),
        )
        since, until = _insights_window(req.params)
        leads = sum(
            1
            for event in self.state.events
            if event["event_name"] in LEAD_EVENT_NAMES
            and event["page_id"] in ad_object.page_ids
            and since <= date.fromisoformat(event["received_at"][:10]) <= until
        )
        row: JSON = {"date_start": since.isoformat(), "date_stop": until.isoformat()}
        if "account_id" in fields:
            row["account_id"] = ad_object.account_id.removeprefix("act_")
        if ad_object.kind == "campaign":
            if "campaign_id" in fields:
                row["campaign_id"] = ad_object.id
            if "campaign_name" in fields:
                row["campaign_name"] = ad_object.name
        # Like Facebook, an object with no actions in the window has no "actions" key at all.
        if "actions" in fields and leads:
            row["actions"] = [{"action_type": LEAD_ACTION_TYPE, "value": str(leads)}]
        return {"data": [row], "paging": {"cursors": {"before": "MAZDZD", "after": "MAZDZD"}}}

    def _ad_level_insights(self, req: GraphRequest, ad_object: AdObject) -> JSON:
        """level=ad, time_increment=1: one row per ad and day with delivery, paged.

        Conversations started count the ad referrals the sandbox sent; leads and purchases count
        the accepted events of people whose last referral was that ad, on the day received,
        reported from the next day on (like Facebook) unless `insights_same_day` is set.
        """
        fields = field_list(
            req.params,
            (
                "ad_id",
                "ad_name",
                "campaign_id",
                "campaign_name",
                "account_id",
                "spend",
                "actions",
                "action_values",
                "date_start",
                "date_stop",
            ),
            "AdsInsights",
            ("date_start", "date_stop"),
        )
        if str(req.params.get("time_increment", "1")) != "1":
            raise invalid_param("The sandbox serves time_increment=1 only")
        since, until = _insights_window(req.params)
        today = datetime.now(UTC).date()
        reported_until = today if self.state.insights_same_day else today - timedelta(days=1)
        ads = {
            o.id: o
            for o in self.state.seed.ad_objects.values()
            if o.kind == "ad"
            and (
                ad_object.id in (o.id, o.campaign_id)
                or (ad_object.kind == "account" and o.account_id == ad_object.id)
            )
        }
        cells: dict[tuple[str, str], dict[str, float]] = {}

        def cell(ad_id: str, day: str) -> dict[str, float]:
            return cells.setdefault(
                (ad_id, day), {"conversations": 0, "leads": 0, "purchases": 0, "value": 0.0}
            )

        for ad_id, day in self.state.ad_conversations:
            if ad_id in ads and since <= date.fromisoformat(day) <= until:
                cell(ad_id, day)["conversations"] += 1
        for event in self.state.events:
            if event.get("test_event_code"):
                continue
            referral = self.state.ad_referrals.get((event["page_id"], str(event["psid"])))
            if referral is None or referral[0] not in ads:
                continue
            day = event["received_at"][:10]
            if not since <= date.fromisoformat(day) <= min(until, reported_until):
                continue
            if event["event_name"] in LEAD_EVENT_NAMES:
                cell(referral[0], day)["leads"] += 1
            elif event["event_name"] in PURCHASE_EVENT_NAMES:
                bucket = cell(referral[0], day)
                bucket["purchases"] += 1
                bucket["value"] += float(event.get("value") or 0)
        rows: list[JSON] = []
        for (ad_id, day), counts in sorted(
            cells.items(), key=lambda item: (item[0][1], item[0][0])
        ):
            ad = ads[ad_id]
            values: JSON = {
                "ad_id": ad.id,
                "ad_name": ad.name,
                "campaign_id": ad.campaign_id,
                "campaign_name": ad.campaign_name,
                "account_id": ad.account_id.removeprefix("act_"),
                "spend": f"{counts['conversations'] * SPEND_PER_CONVERSATION:.2f}",
            }
            row: JSON = {name: values[name] for name in fields if name in values}
            actions = [
                {"action_type": action_type, "value": str(int(counts[key]))}
                for action_type, key in (
                    (CONVERSATION_ACTION_TYPE, "conversations"),
                    (LEAD_ACTION_TYPE, "leads"),
                    (PURCHASE_ACTION_TYPE, "purchases"),
                )
                if counts[key]
            ]
            # Like Facebook, a row with no actions has no "actions" key at all.
            if "actions" in fields and actions:
                row["actions"] = actions
            if "action_values" in fields and counts["purchases"]:
                row["action_values"] = [
                    {"action_type": PURCHASE_ACTION_TYPE, "value": f"{counts['value']:.2f}"}
                ]
            row["date_start"] = row["date_stop"] = day
            rows.append(row)
        keys = [f"{n}:{row['date_start']}" for n, row in enumerate(rows)]
        limit = _limit(req.params.get("limit") or INSIGHTS_DEFAULT_LIMIT)
        start, end = _cursor_window(req.params, keys, limit)
        window = rows[start:end]
        if not window:
            return {"data": []}
        last = keys[start + len(window) - 1]
        paging: JSON = {"cursors": {"before": _cursor(keys[start]), "after": _cursor(last)}}
        if end < len(rows):
            paging["next"] = _page_url(req, {"after": _cursor(last)})
        return {"data": window, "paging": paging}

    # --- debug_token and oauth/access_token ---------------------------------------------------------------

    def debug_token(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET /debug_token?input_token=… with the app token, reference §5.5."""
        input_token = req.params.get("input_token")
        if not input_token:
            raise missing_param("input_token")
        input_token = str(input_token)
        if input_token == f"{self.config.app_id}|{self.config.app_secret}":
            return {"data": {**self._app_fields(), "type": "APP", "is_valid": True, "scopes": []}}
        claims = tokens.decode(input_token)
        if claims is None or claims.app_id != self.config.app_id:
            error = invalid_token(None)
            return {
                "data": {
                    "error": {"code": 190, "message": error.message},
                    "is_valid": False,
                    "scopes": [],
                }
            }
        data: JSON = {
            **self._app_fields(),
            "type": claims.kind.upper(),
            "data_access_expires_at": claims.issued_at + tokens.DATA_ACCESS_SECONDS,
            "expires_at": claims.expires_at,
            "is_valid": True,
            "issued_at": claims.issued_at,
            "scopes": list(claims.scopes),
            "granular_scopes": self._granular_scopes(claims),
            "user_id": claims.user_id,
        }
        if claims.kind == "page":
            data["profile_id"] = claims.page_id
        try:
            self._check_alive(claims)
        except GraphError as error:
            data["is_valid"] = False
            data["error"] = {"code": 190, "subcode": error.subcode, "message": error.message}
        return {"data": data}

    def _app_fields(self) -> JSON:
        return {"app_id": self.config.app_id, "application": self.state.seed.app_name}

    def _granular_scopes(self, claims: TokenClaims) -> list[JSON]:
        page_scoped = {
            "page_events",
            "pages_show_list",
            "pages_messaging",
            "pages_manage_metadata",
            "pages_read_engagement",
        }
        if claims.kind == "page":
            targets = [claims.page_id]
        else:
            targets = [p for p in self.state.pages_of(claims.user_id) if claims.grants_page(p)]
        return [
            {"scope": scope, "target_ids": targets} if scope in page_scoped else {"scope": scope}
            for scope in claims.scopes
        ]

    def oauth_access_token(self, req: GraphRequest, caller: Caller | None) -> JSON:
        """GET|POST /oauth/access_token: code exchange, fb_exchange_token, client_credentials."""
        params = req.params
        for name in ("client_id", "client_secret"):
            if not params.get(name):
                raise missing_param(name)
        if params["client_id"] != self.config.app_id:
            raise GraphError("Error validating application. Invalid application ID.", 101)
        if not hmac.compare_digest(str(params["client_secret"]), self.config.app_secret):
            raise GraphError("Error validating client secret.", 1)
        grant_type = params.get("grant_type")
        if grant_type == "fb_exchange_token":
            return self._exchange_token(params)
        if grant_type == "client_credentials":
            return {
                "access_token": f"{self.config.app_id}|{self.config.app_secret}",
                "token_type": "bearer",
            }
        if grant_type not in (None, "authorization_code"):
            raise invalid_param(f"Unsupported grant_type {grant_type}")
        return self._exchange_code(params)

    def _exchange_code(self, params: dict[str, Any]) -> JSON:
        for name in ("redirect_uri", "code"):
            if not params.get(name):
                raise missing_param(name)
        value = str(params["code"])
        if value in self.state.used_codes:
            raise GraphError("This authorization code has been used.", 100, subcode=36009)
        code = self.state.auth_codes.get(value)
        if code is None:
            raise GraphError("Invalid verification code format.", 100, subcode=36018)
        if code.redirect_uri != params["redirect_uri"]:
            raise GraphError(
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request",
                100,
                subcode=36008,
            )
        if time.time() > code.expires_at:
            del self.state.auth_codes[value]
            raise GraphError("This authorization code has expired.", 100, subcode=36007)
        # Single use: Facebook refuses a code the second time.
        del self.state.auth_codes[value]
        self.state.used_codes.add(value)
        token, claims = tokens.mint(
            kind="user",
            app_id=self.config.app_id,
            user_id=code.user_id,
            scopes=code.scopes,
            granted_pages=code.granted_pages,
        )
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": claims.expires_at - int(time.time()),
        }

    def _exchange_token(self, params: dict[str, Any]) -> JSON:
        raw = params.get("fb_exchange_token")
        if not raw:
            raise missing_param("fb_exchange_token")
        claims = tokens.decode(str(raw))
        if claims is None or claims.app_id != self.config.app_id:
            raise invalid_token(None)
        self._check_alive(
            claims
        )  # "You can not use an expired token to request a long-lived token."
        if claims.kind != "user":
            raise invalid_param("fb_exchange_token must be a user access token")
        token, long_claims = tokens.mint(
            kind="user",
            app_id=self.config.app_id,
            user_id=claims.user_id,
            scopes=claims.scopes,
            granted_pages=claims.granted_pages,
            long_lived=True,
        )
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": long_claims.expires_at - int(time.time()),
        }

    # --- Batch -----------------------------------------------------------------------------------------

    async def batch(self, req: GraphRequest, caller: Caller | None) -> Any:
        """POST / with `batch`: each operation runs through `call`, answers in order."""
        ops = json_param(req.params, "batch")
        if ops is None:
            raise missing_param("batch")
        if not isinstance(ops, list) or not ops:
            raise invalid_param("Param batch must be a non-empty JSON array")
        if len(ops) > MAX_BATCH_OPS:
            raise invalid_param(
                f"Too many requests in batch message. Maximum batch size is {MAX_BATCH_OPS}"
            )
        results: list[Any] = []
        for index, op in enumerate(ops):
            try:
                sub = self._batch_request(req, op, index)
            except GraphError as error:
                results.append(
                    _batch_entry(GraphResponse(error.status, error.body(new_fbtrace_id()), {}))
                )
                continue
            response = await self.call(sub)
            results.append(None if response.timed_out else _batch_entry(response))
        return results

    def _batch_request(self, parent: GraphRequest, op: Any, index: int) -> GraphRequest:
        if not isinstance(op, dict):
            raise invalid_param(f"batch[{index}] must be an object")
        method = str(op.get("method", "")).upper()
        if method not in ("GET", "POST", "DELETE", "PUT"):
            raise invalid_param(f"batch[{index}][method] must be GET, POST, PUT or DELETE")
        relative_url = op.get("relative_url")
        if not isinstance(relative_url, str) or not relative_url.strip("/"):
            raise missing_param(f"batch[{index}][relative_url]")
        body_text = op.get("body")
        if body_text is not None and (
            method in ("GET", "DELETE") or not isinstance(body_text, str)
        ):
            raise invalid_param(
                f"batch[{index}][body] is only for POST and PUT and must be a raw form string"
            )
        path, _, query_text = relative_url.partition("?")
        parts = [p for p in path.split("/") if p]
        version = parent.version
        if parts and VERSION_RE.match(parts[0]):
            version = parts.pop(0)
        query = dict(parse_qsl(query_text, keep_blank_values=True))
        body = dict(parse_qsl(body_text or "", keep_blank_values=True))
        own_token = "access_token" in query or "access_token" in body
        own_proof = "appsecret_proof" in query or "appsecret_proof" in body
        # An operation without its own token uses the top-level one; the top-level
        # appsecret_proof only proves that token, so an operation with its own token must carry
        # its own proof (strict reading of an unconfirmed rule, see README).
        if not own_token:
            query["access_token"] = str(parent.params.get("access_token", ""))
        if not own_proof and "appsecret_proof" in parent.params:
            query["appsecret_proof"] = str(parent.params["appsecret_proof"])
        return GraphRequest(
            method="POST" if method == "PUT" else method,
            path="/" + "/".join(parts),
            version=version,
            query=query,
            body=body,
            base_url=parent.base_url,
            parent_id=parent.request_id,
        )


def page_not_granted(page_id: str) -> GraphError:
    """The person has a role on the Page but did not grant this app access to it."""
    return GraphError(
        f"(#200) The user has not granted this app access to Page {page_id}; ask again with "
        f"auth_type=rerequest",
        200,
    )


def expired_message(expires_at: int, now: float) -> str:
    """Facebook's wording for an expired session."""
    fmt = "%A, %d-%b-%y %H:%M:%S UTC"
    ended = datetime.fromtimestamp(expires_at, UTC).strftime(fmt)
    current = datetime.fromtimestamp(now, UTC).strftime(fmt)
    return f"Error validating access token: Session has expired on {ended}. The current time is {current}."


def _allow(method: str, *methods: str) -> None:
    if method not in methods:
        raise unsupported_method(method)


def _path_id(req: GraphRequest) -> str:
    return req.path.strip("/").split("/")[0]


def _batch_entry(response: GraphResponse) -> JSON:
    headers = [{"name": "Content-Type", "value": "application/json; charset=UTF-8"}]
    headers += [{"name": k, "value": v} for k, v in response.headers.items()]
    return {
        "code": response.status,
        "headers": headers,
        "body": json.dumps(response.body, separators=(",", ":")),
    }


def _limit(raw: Any) -> int:
    if raw is None or raw == "":
        return ACCOUNTS_DEFAULT_LIMIT
    text = str(raw)
    if not text.isdigit() or int(text) < 1:
        raise invalid_param("Param limit must be a positive integer")
    return min(int(text), ACCOUNTS_MAX_LIMIT)


def _cursor(page_id: str) -> str:
    return base64.urlsafe_b64encode(page_id.encode()).decode().rstrip("=")


def _uncursor(cursor: Any, page_ids: list[str], name: str) -> int:
    try:
        text = str(cursor)
        page_id = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        return page_ids.index(page_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_param(f"Param {name} is not a valid cursor") from None


def _cursor_window(params: dict[str, Any], page_ids: list[str], limit: int) -> tuple[int, int]:
    if params.get("after"):
        start = _uncursor(params["after"], page_ids, "after") + 1
        return start, start + limit
    if params.get("before"):
        end = _uncursor(params["before"], page_ids, "before")
        return max(0, end - limit), end
    return 0, limit


def _page_url(req: GraphRequest, cursor: dict[str, str]) -> str:
    query = {k: v for k, v in req.query.items() if k not in ("after", "before")}
    query.update(cursor)
    return f"{req.base_url}{req.full_path}?{urlencode(query)}"


def _insights_window(params: dict[str, Any]) -> tuple[date, date]:
    """The [since, until] dates of date_preset or time_range.

    Unlike Facebook, presets such as last_7d include today: the sandbox's events all happen
    today, and a read-back test should see them.
    """
    today = datetime.now(UTC).date()
    time_range = json_param(params, "time_range")
    if time_range is not None:
        try:
            return date.fromisoformat(time_range["since"]), date.fromisoformat(time_range["until"])
        except (TypeError, KeyError, ValueError):
            raise invalid_param(
                "Param time_range must be {'since':'YYYY-MM-DD','until':'YYYY-MM-DD'}"
            ) from None
    preset = params.get("date_preset") or "last_30d"
    if preset not in DATE_PRESETS:
        raise invalid_param(
            f'Param date_preset must be one of {{{", ".join(DATE_PRESETS)}}} - got "{preset}"'
        )
    if preset.startswith("last_") and preset.endswith("d"):
        return today - timedelta(days=int(preset[5:-1])), today
    month_start = today.replace(day=1)
    quarter_start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    monday = today - timedelta(days=today.weekday())
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    windows = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "this_month": (month_start, today),
        "last_month": (
            (month_start - timedelta(days=1)).replace(day=1),
            month_start - timedelta(days=1),
        ),
        "this_quarter": (quarter_start, today),
        "last_quarter": (
            (quarter_start - timedelta(days=1)).replace(
                month=(quarter_start - timedelta(days=1)).month - 2, day=1
            ),
            quarter_start - timedelta(days=1),
        ),
        "this_year": (today.replace(month=1, day=1), today),
        "last_year": (
            today.replace(year=today.year - 1, month=1, day=1),
            today.replace(month=1, day=1) - timedelta(days=1),
        ),
        "this_week_mon_today": (monday, today),
        "this_week_sun_today": (sunday, today),
        "last_week_mon_sun": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "last_week_sun_sat": (sunday - timedelta(days=7), sunday - timedelta(days=1)),
    }
    return windows.get(preset, (date(2015, 1, 1), today))
