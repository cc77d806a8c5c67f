"""Webhook deliveries: the sandbox sends what Facebook would send when a person writes to a Page.

A delivery is the envelope of reference §6.4 (`{"object": "page", "entry": [...]}`) serialized
once, signed over those exact bytes with the app secret (`X-Hub-Signature-256: sha256=<hex>`,
§6.2) and POSTed to the configured webhook URL. A non-200 answer is retried a few times with a
short doubling back-off (Facebook retries for 36 hours, §6.3; the sandbox keeps it short). The
message also opens the Send API's 24-hour window for that Page and PSID, as on Facebook.

`GET /_sandbox/webhook` is a small page that plays the Messenger user: pick a test user and a
Page, type, press quick replies and buttons, and see what the bot answered through the Send API.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .control import _bad, _int_query, _json_body
from .login import STYLE
from .seed import psid_for
from .state import SandboxState, iso_now

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Facebook's webhook requests come from its crawler's user agent.
USER_AGENT = "facebookexternalua"
SIGNATURE_MODES = ("valid", "wrong", "none")
WRONG_SECRET = b"not-the-app-secret"  # signs the deliberately wrong signatures
KINDS = ("text", "quick_reply", "postback", "referral")
REFERRAL_SOURCES = ("ADS", "SHORTLINK", "CUSTOMER_CHAT_PLUGIN")
REF_RE = re.compile(r"^[A-Za-z0-9_=-]+$")  # reference §6.4: alphanumerics, -, _ and =
AD_ID_RE = re.compile(r"^[0-9]{1,30}$")
ADS_CONTEXT_FIELDS = ("ad_title", "photo_url", "video_url", "post_id", "product_id", "flow_id")
MAX_UPDATES = 1000  # reference §6.3: "a batch with a maximum of 1000 updates"
MAX_RETRIES = 10
ATTEMPT_TIMEOUT_SECONDS = 10
ANSWER_PREVIEW_CHARS = 2000


class WebhookSpecError(ValueError):
    """A /_sandbox/webhook/send body that does not describe a delivery; the message says why."""


def signature(secret: bytes, raw: bytes) -> str:
    """The X-Hub-Signature-256 value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()


def new_mid() -> str:
    """A fresh message id in Facebook's current `m_…` form."""
    return "m_" + base64.urlsafe_b64encode(os.urandom(30)).decode()


# --- Building deliveries (pure) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendSpec:
    """A checked /_sandbox/webhook/send body."""

    page_id: str
    psid: str
    kind: str
    event: dict[str, Any]  # the kind's value: text, {"text", "payload"}, ...
    mid: str | None = None
    timestamp_ms: int | None = None
    count: int = 1
    entries: int = 1
    signature: str = "valid"
    retries: int | None = None


def _text(value: Any, name: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise WebhookSpecError(f"{name} must be a non-empty string")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookSpecError(f"{name} must be an object")
    return value


def _int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WebhookSpecError(f"{name} must be an integer from {low} to {high}")
    return int(value)


def _referral(value: Any, name: str) -> dict[str, Any]:
    """A referral object in the reference's key order (§6.4, ``messaging_referrals``): ``ref``
    (optional for a click-to-Messenger ad), ``ad_id`` (required with source ADS), ``source``,
    ``type``, and an ad's ``ads_context_data``."""
    referral = _object(value, name)
    source = referral.get("source", "SHORTLINK")
    if source not in REFERRAL_SOURCES:
        raise WebhookSpecError(f"{name}.source must be one of {', '.join(REFERRAL_SOURCES)}")
    is_ad = source == "ADS"
    ref = _text(referral.get("ref"), f"{name}.ref", required=not is_ad)
    if ref is not None and not REF_RE.fullmatch(ref):
        raise WebhookSpecError(f"{name}.ref allows only alphanumerics, '-', '_' and '='")
    out: dict[str, Any] = {} if ref is None else {"ref": ref}
    ad_id = referral.get("ad_id")
    if is_ad and ad_id is None:
        raise WebhookSpecError(f"{name}.ad_id is required with source ADS (the ad's id)")
    if ad_id is not None:
        if not AD_ID_RE.fullmatch(str(ad_id)):
            raise WebhookSpecError(f"{name}.ad_id must be the ad's numeric id")
        out["ad_id"] = str(ad_id)
    out["source"] = source
    out["type"] = _text(referral.get("type", "OPEN_THREAD"), f"{name}.type")
    context = referral.get("ads_context_data")
    if context is not None:
        if not is_ad:
            raise WebhookSpecError(f"{name}.ads_context_data comes only with source ADS")
        context = _object(context, f"{name}.ads_context_data")
        unknown = sorted(set(context) - set(ADS_CONTEXT_FIELDS))
        if unknown:
            raise WebhookSpecError(
                f"{name}.ads_context_data has unknown fields {', '.join(unknown)}: "
                f"use {', '.join(ADS_CONTEXT_FIELDS)}"
            )
        out["ads_context_data"] = {
            key: _text(context[key], f"{name}.ads_context_data.{key}")
            for key in ADS_CONTEXT_FIELDS
            if key in context
        }
    return out


def parse_send(body: dict[str, Any], state: SandboxState) -> SendSpec:
    """Check a send body against the seed; raise WebhookSpecError saying what is wrong."""
    page_id = str(body.get("page_id", ""))
    if state.page(page_id) is None:
        raise WebhookSpecError(f"page_id {page_id!r} is not a seed Page")
    if body.get("psid") is not None:
        psid = str(body["psid"])
        if not (psid.isascii() and psid.isdigit()):
            raise WebhookSpecError("psid must be numeric")
    elif state.user(str(body.get("user_id", ""))) is not None:
        psid = psid_for(str(body["user_id"]), page_id)
    else:
        raise WebhookSpecError("give a psid, or the user_id of a seed user")
    kinds = [kind for kind in KINDS if kind in body]
    if len(kinds) != 1:
        raise WebhookSpecError(f"give exactly one of {', '.join(KINDS)}")
    kind = kinds[0]
    event: dict[str, Any]
    if kind == "text":
        event = {"text": _text(body["text"], "text")}
        # A new thread's first message from a click-to-Messenger ad carries the referral.
        if body.get("message_referral") is not None:
            event["referral"] = _referral(body["message_referral"], "message_referral")
    elif kind == "quick_reply":
        quick = _object(body["quick_reply"], "quick_reply")
        event = {
            "text": _text(quick.get("text"), "quick_reply.text"),
            "payload": _text(quick.get("payload"), "quick_reply.payload"),
        }
    elif kind == "postback":
        postback = _object(body["postback"], "postback")
        event = {
            "title": _text(postback.get("title"), "postback.title"),
            "payload": _text(postback.get("payload"), "postback.payload"),
        }
        if postback.get("referral") is not None:
            event["referral"] = _referral(postback["referral"], "postback.referral")
    else:
        event = _referral(body["referral"], "referral")
    count = _int(body, "count", 1, MAX_UPDATES) or 1
    entries = _int(body, "entries", 1, MAX_UPDATES) or 1
    if count * entries > MAX_UPDATES:
        raise WebhookSpecError(f"count x entries is at most {MAX_UPDATES} updates")
    mid = _text(body.get("mid"), "mid", required=False)
    if mid is not None and (kind == "referral" or count * entries > 1):
        raise WebhookSpecError("mid names one message or postback; leave it out for batches")
    mode = body.get("signature", "valid")
    if mode not in SIGNATURE_MODES:
        raise WebhookSpecError(f"signature must be one of {', '.join(SIGNATURE_MODES)}")
    return SendSpec(
        page_id=page_id,
        psid=psid,
        kind=kind,
        event=event,
        mid=mid,
        timestamp_ms=_int(body, "timestamp", 0, 2**53),
        count=count,
        entries=entries,
        signature=mode,
        retries=_int(body, "retries", 0, MAX_RETRIES),
    )


def messaging_item(spec: SendSpec, *, timestamp_ms: int, mid: str) -> dict[str, Any]:
    """One `messaging` element of reference §6.4, keys in Facebook's order."""
    item: dict[str, Any] = {
        "sender": {"id": spec.psid},
        "recipient": {"id": spec.page_id},
        "timestamp": timestamp_ms,
    }
    event = spec.event
    if spec.kind == "text":
        item["message"] = {"mid": mid, **event}
    elif spec.kind == "quick_reply":
        item["message"] = {
            "mid": mid,
            "text": event["text"],
            "quick_reply": {"payload": event["payload"]},
        }
    elif spec.kind == "postback":
        item["postback"] = {"mid": mid, **event}
    else:
        item["referral"] = dict(event)
    return item


def build_envelope(
    spec: SendSpec, *, now_ms: int, mint_mid: Callable[[], str] = new_mid
) -> dict[str, Any]:
    """The delivery body: `entries` entries of `count` messaging items each, 1 ms apart, in order."""
    first = spec.timestamp_ms if spec.timestamp_ms is not None else now_ms
    entry_list = []
    for e in range(spec.entries):
        items = [
            messaging_item(
                spec,
                timestamp_ms=first + e * spec.count + i,
                mid=spec.mid if spec.mid is not None else mint_mid(),
            )
            for i in range(spec.count)
        ]
        entry_list.append({"id": spec.page_id, "time": now_ms, "messaging": items})
    return {"object": "page", "entry": entry_list}


def serialize(envelope: dict[str, Any]) -> bytes:
    """Compact JSON with non-ASCII escaped as \\uXXXX, as Facebook's payloads arrive.

    An app that re-serializes the parsed body before checking the signature fails on any
    non-ASCII text, as it would with Facebook.
    """
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=True).encode()


# --- Deliveries and handshakes --------------------------------------------------------------------------


@dataclass(slots=True)
class Delivery:
    """One webhook POST as sent (the exact bytes and headers) and every attempt's answer."""

    id: int
    url: str
    page_id: str
    psid: str
    kind: str
    signature_mode: str
    raw: bytes
    headers: dict[str, str]
    subscribed_fields: list[str] | None
    resent_from: int | None = None
    at: float = field(default_factory=time.time)
    created: str = field(default_factory=iso_now)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False

    @property
    def status(self) -> int | None:
        return self.attempts[-1]["status"] if self.attempts else None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.created,
            "url": self.url,
            "page_id": self.page_id,
            "psid": self.psid,
            "kind": self.kind,
            "signature": self.signature_mode,
            "resent_from": self.resent_from,
            # Facebook delivers only for Pages the app subscribed to; the sandbox delivers anyway
            # (subscriptions live in memory) and says whether it would have.
            "subscribed": self.subscribed_fields is not None,
            "headers": self.headers,
            "body": json.loads(self.raw),
            "attempts": self.attempts,
            "status": self.status,
            "ok": self.status == 200,
            "done": self.done,
        }


class Webhooks:
    """The webhook sender and its control routes, over one SandboxState."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._session: aiohttp.ClientSession | None = None
        self._next_id = 1
        self._background: set[asyncio.Task[Any]] = set()

    def routes(self) -> list[web.RouteDef]:
        """The /_sandbox/webhook… and /_sandbox/messages routes."""
        return [
            web.get("/_sandbox/webhook", self.form),
            web.get("/_sandbox/webhook/config", self.get_config),
            web.post("/_sandbox/webhook/config", self.set_config),
            web.post("/_sandbox/webhook/verify", self.verify),
            web.post("/_sandbox/webhook/send", self.send),
            web.post("/_sandbox/webhook/resend", self.resend),
            web.get("/_sandbox/webhook/deliveries", self.deliveries),
            web.delete("/_sandbox/webhook/deliveries", self.clear_deliveries),
            web.get("/_sandbox/webhook/conversation", self.conversation),
            web.get("/_sandbox/messages", self.messages),
        ]

    async def close(self, app: web.Application | None = None) -> None:
        """Close the HTTP client (aiohttp on_cleanup signature)."""
        for task in list(self._background):
            task.cancel()
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_SECONDS),
                auto_decompress=True,
            )
        return self._session

    # --- Sending --------------------------------------------------------------------------------------

    def new_delivery(self, spec: SendSpec, url: str) -> Delivery:
        """Build, serialize and sign a delivery; open the 24-hour window for its PSID."""
        now_ms = int(time.time() * 1000)
        envelope = build_envelope(spec, now_ms=now_ms)
        raw = serialize(envelope)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if spec.signature != "none":
            secret = (
                self.state.config.app_secret.encode() if spec.signature == "valid" else WRONG_SECRET
            )
            headers[SIGNATURE_HEADER] = signature(secret, raw)
        # The person wrote before Facebook told the app: the window is open before the POST, so
        # an app that answers inside the webhook request can already send.
        for entry in envelope["entry"]:
            for item in entry["messaging"]:
                self.state.record_inbound(spec.page_id, spec.psid, item["timestamp"] / 1000)
        referral = spec.event if spec.kind == "referral" else spec.event.get("referral")
        if isinstance(referral, dict) and referral.get("source") == "ADS" and referral.get("ad_id"):
            day = time.strftime("%Y-%m-%d", time.gmtime(now_ms / 1000))
            self.state.record_ad_referral(spec.page_id, spec.psid, str(referral["ad_id"]), day)
        delivery = Delivery(
            id=self._take_id(),
            url=url,
            page_id=spec.page_id,
            psid=spec.psid,
            kind=spec.kind,
            signature_mode=spec.signature,
            raw=raw,
            headers=headers,
            subscribed_fields=self.state.subscriptions.get(spec.page_id),
        )
        self.state.webhook_deliveries.append(delivery)
        return delivery

    def _take_id(self) -> int:
        if not self.state.webhook_deliveries:
            self._next_id = 1  # ids count from 1 after each reset, like /_sandbox/events
        delivery_id = self._next_id
        self._next_id += 1
        return delivery_id

    async def deliver(self, delivery: Delivery, retries: int, backoff_ms: int) -> None:
        """POST the delivery; retry non-200 answers `retries` times, doubling the pause."""
        pause = backoff_ms / 1000
        for attempt in range(1, retries + 2):
            delivery.attempts.append(await self._post(delivery, attempt))
            if delivery.status == 200 or attempt > retries:
                break
            await asyncio.sleep(pause)
            pause *= 2
        delivery.done = True

    async def _post(self, delivery: Delivery, attempt: int) -> dict[str, Any]:
        started = time.perf_counter()
        # "at": when the POST went out, in epoch seconds like a sent message's "at", so a
        # benchmark can time a person's message to the bot's answer (benchmarks/replies.py).
        record: dict[str, Any] = {
            "attempt": attempt,
            "time": iso_now(),
            "at": time.time(),
            "status": None,
        }
        try:
            async with self._client().post(
                delivery.url, data=delivery.raw, headers=delivery.headers, allow_redirects=False
            ) as response:
                record["status"] = response.status
                record["answer"] = (await response.text(errors="replace"))[:ANSWER_PREVIEW_CHARS]
        except (aiohttp.ClientError, TimeoutError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}".strip(": ")
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return record

    async def handshake(self, url: str, verify_token: str, trigger: str) -> dict[str, Any]:
        """Facebook's GET verification (reference §6.1): ok when the app echoes hub.challenge."""
        challenge = str(secrets.randbelow(9 * 10**9) + 10**9)
        record: dict[str, Any] = {
            "id": len(self.state.webhook_verifications) + 1,
            "time": iso_now(),
            "trigger": trigger,
            "url": url,
            "challenge": challenge,
            "status": None,
            "ok": False,
        }
        params = {
            "hub.mode": "subscribe",
            "hub.challenge": challenge,
            "hub.verify_token": verify_token,
        }
        started = time.perf_counter()
        try:
            async with self._client().get(
                url,
                params=params,
                headers={"User-Agent": USER_AGENT},
                allow_redirects=False,
            ) as response:
                answer = (await response.text(errors="replace"))[:ANSWER_PREVIEW_CHARS]
                record.update(status=response.status, answer=answer)
                record["ok"] = response.status == 200 and answer == challenge
        except (aiohttp.ClientError, TimeoutError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}".strip(": ")
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.state.webhook_verifications.append(record)
        return record

    def page_subscribed(self, page_id: str) -> None:
        """Graph's subscribed_apps hook: verify the callback once per URL and token, as Facebook
        does when the callback is configured. In the background: the Graph call answers at once.
        """
        settings = self.state.webhook
        if settings.url is None or settings.verify_token is None:
            return
        if any(v["ok"] and v["url"] == settings.url for v in self.state.webhook_verifications):
            return
        task = asyncio.get_running_loop().create_task(
            self.handshake(settings.url, settings.verify_token, f"subscribed_apps {page_id}")
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- Control handlers ----------------------------------------------------------------------------

    def _config_json(self) -> dict[str, Any]:
        settings = self.state.webhook
        return {
            "url": settings.url,
            # The verify token is a shared secret between the app and Facebook: never echoed.
            "verify_token_set": settings.verify_token is not None,
            "retries": settings.retries,
            "backoff_ms": settings.backoff_ms,
            "verifications": list(self.state.webhook_verifications),
        }

    async def get_config(self, request: web.Request) -> web.Response:
        """GET /_sandbox/webhook/config: the webhook URL, retry policy and handshakes so far."""
        return web.json_response(self._config_json())

    async def set_config(self, request: web.Request) -> web.Response:
        """POST /_sandbox/webhook/config {url?, verify_token?, retries?, backoff_ms?}."""
        body = await _json_body(request)
        changes: dict[str, Any] = {}
        if "url" in body:
            url = body["url"]
            if url is not None and not _is_http_url(url):
                return _bad("url must be an absolute http(s) URL, or null")
            changes["url"] = url
        if "verify_token" in body:
            token = body["verify_token"]
            if token is not None and (not isinstance(token, str) or not token):
                return _bad("verify_token must be a non-empty string, or null")
            changes["verify_token"] = token
        try:
            for name, high in (("retries", MAX_RETRIES), ("backoff_ms", 60_000)):
                value = _int(body, name, 0, high)
                if value is not None:
                    changes[name] = value
        except WebhookSpecError as exc:
            return _bad(str(exc))
        self.state.webhook = dataclasses.replace(self.state.webhook, **changes)
        return web.json_response(self._config_json())

    async def verify(self, request: web.Request) -> web.Response:
        """POST /_sandbox/webhook/verify: do the GET handshake now and report it."""
        settings = self.state.webhook
        if settings.url is None or settings.verify_token is None:
            return _bad(
                "set a webhook url and verify_token first (flags or /_sandbox/webhook/config)"
            )
        record = await self.handshake(settings.url, settings.verify_token, "control")
        return web.json_response(record)

    async def send(self, request: web.Request) -> web.Response:
        """POST /_sandbox/webhook/send: deliver a message as a person would send it."""
        body = await _json_body(request)
        try:
            spec = parse_send(body, self.state)
        except WebhookSpecError as exc:
            return _bad(str(exc))
        settings = self.state.webhook
        if settings.url is None:
            return _bad("no webhook URL: start with --webhook-url or POST /_sandbox/webhook/config")
        delivery = self.new_delivery(spec, settings.url)
        retries = settings.retries if spec.retries is None else spec.retries
        await self.deliver(delivery, retries, settings.backoff_ms)
        return web.json_response(delivery.to_json())

    async def resend(self, request: web.Request) -> web.Response:
        """POST /_sandbox/webhook/resend {delivery_id}: the same bytes and signature again."""
        body = await _json_body(request)
        original = next(
            (d for d in self.state.webhook_deliveries if d.id == body.get("delivery_id")), None
        )
        if original is None:
            return _bad(f"no delivery {body.get('delivery_id')!r}")
        copy = dataclasses.replace(
            original,
            id=self._take_id(),
            resent_from=original.id,
            at=time.time(),
            created=iso_now(),
            attempts=[],
            done=False,
        )
        self.state.webhook_deliveries.append(copy)
        retries = _int(body, "retries", 0, MAX_RETRIES) if "retries" in body else None
        settings = self.state.webhook
        await self.deliver(
            copy, settings.retries if retries is None else retries, settings.backoff_ms
        )
        return web.json_response(copy.to_json())

    async def deliveries(self, request: web.Request) -> web.Response:
        """GET /_sandbox/webhook/deliveries?page_id=&psid=&since=: deliveries and their answers."""
        since = _int_query(request, "since", 0)
        filters = {k: request.query[k] for k in ("page_id", "psid") if k in request.query}
        data = [
            d.to_json()
            for d in self.state.webhook_deliveries
            if d.id > since and all(getattr(d, k) == v for k, v in filters.items())
        ]
        return web.json_response({"data": data, "count": len(data)})

    async def clear_deliveries(self, request: web.Request) -> web.Response:
        """DELETE /_sandbox/webhook/deliveries: forget them (POST /_sandbox/reset does too)."""
        removed = len(self.state.webhook_deliveries)
        self.state.webhook_deliveries.clear()
        return web.json_response({"removed": removed})

    async def messages(self, request: web.Request) -> web.Response:
        """GET /_sandbox/messages?page_id=&psid=&since=: what Pages sent through the Send API."""
        since = _int_query(request, "since", 0)
        filters = {k: request.query[k] for k in ("page_id", "psid") if k in request.query}
        data = [
            m
            for m in self.state.sent
            if m["id"] > since and all(m[k] == v for k, v in filters.items())
        ]
        return web.json_response({"data": data, "count": len(data)})

    async def conversation(self, request: web.Request) -> web.Response:
        """GET /_sandbox/webhook/conversation?page_id=&psid=: both sides, in time order."""
        page_id, psid = request.query.get("page_id", ""), request.query.get("psid", "")
        return web.json_response(
            {"page_id": page_id, "psid": psid, "items": self._conversation(page_id, psid)}
        )

    def _conversation(self, page_id: str, psid: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for d in self.state.webhook_deliveries:
            if d.page_id != page_id or d.psid != psid or d.resent_from is not None:
                continue
            answer = {"delivery_id": d.id, "status": d.status, "attempts": len(d.attempts)}
            for entry in json.loads(d.raw)["entry"]:
                for item in entry["messaging"]:
                    items.append({"from": "user", "at": d.at, **_user_side(item), **answer})
        for m in self.state.sent:
            if m["page_id"] == page_id and m["psid"] == psid:
                items.append({"from": "bot", "at": m["at"], **_bot_side(m)})
        items.sort(key=lambda item: item["at"])
        return items

    async def form(self, request: web.Request) -> web.Response:
        """GET /_sandbox/webhook?user_id=&page_id=: chat as a test user with a Page's bot."""
        seed = self.state.seed
        users = [u for u in seed.users.values() if u.page_tasks]
        user = seed.users.get(request.query.get("user_id", "")) or users[0]
        pages = list(user.page_tasks)
        page_id = request.query.get("page_id", "")
        if page_id not in pages:
            page_id = pages[0]
        return web.Response(
            text=render_form(self.state, user.id, page_id, psid_for(user.id, page_id)),
            content_type="text/html",
        )


def _user_side(item: dict[str, Any]) -> dict[str, Any]:
    if "message" in item:
        message = item["message"]
        kind = "quick_reply" if "quick_reply" in message else "text"
        payload = message.get("quick_reply", {}).get("payload")
        if "referral" in message:
            kind, payload = "text from an ad", message["referral"].get("ad_id")
        return {"kind": kind, "text": message["text"], "payload": payload}
    if "postback" in item:
        postback = item["postback"]
        return {"kind": "postback", "text": postback["title"], "payload": postback["payload"]}
    referral = item["referral"]
    if referral.get("ad_id"):
        return {"kind": "referral", "text": f"ad {referral['ad_id']}", "payload": None}
    return {"kind": "referral", "text": f"ref {referral.get('ref', '')}", "payload": None}


def _bot_side(sent: dict[str, Any]) -> dict[str, Any]:
    message = sent.get("message") or {}
    if not isinstance(message, dict):
        message = {}
    text = message.get("text")
    buttons: list[dict[str, Any]] = []
    payload = (message.get("attachment") or {}).get("payload") or {}
    if isinstance(payload, dict):
        text = text or payload.get("text")
        buttons = [b for b in payload.get("buttons") or [] if isinstance(b, dict)]
    if text is None:
        text = f"[{sent['sender_action']}]" if sent.get("sender_action") else "[attachment]"
    return {
        "kind": "sender_action" if sent.get("sender_action") else "message",
        "text": text,
        "quick_replies": [q for q in message.get("quick_replies") or [] if isinstance(q, dict)],
        "buttons": buttons,
        "messaging_type": sent.get("messaging_type"),
    }


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- The form -----------------------------------------------------------------------------------------------

FORM_STYLE = """
.box{max-width:760px}.row{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:8px 0}
select,input[type=text]{font-size:14px;padding:6px 8px;border:1px solid #ccd0d5;border-radius:6px}
input[type=text]{flex:1;min-width:120px}
#chat{border:1px solid #dddfe2;border-radius:8px;height:440px;overflow-y:auto;padding:12px;background:#fafbfc}
.msg{width:fit-content;max-width:70%;margin:6px 0;padding:8px 12px;border-radius:16px;white-space:pre-wrap;word-wrap:break-word}
.user{margin-left:auto;background:#0084ff;color:#fff}.bot{background:#e4e6eb;color:#050505}
.meta{font-size:11px;color:#65676b;margin:0 4px 6px;text-align:right}.meta.left{text-align:left}
.meta.failed{color:#b00020}.chips{display:flex;gap:6px;flex-wrap:wrap;margin:4px 0 8px}
.chip{border:1px solid #0084ff;color:#0084ff;background:#fff;border-radius:16px;padding:4px 12px;font-size:13px;margin:0}
code{font-size:12px}details{margin:8px 0}summary{cursor:pointer;color:#65676b;font-size:13px}
"""

FORM_SCRIPT = """
const S = JSON.parse(document.getElementById('who').textContent);
const chat = document.getElementById('chat'), statusLine = document.getElementById('status');
let shown = '';
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text; return e; }
async function post(path, body) {
  const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},
                               body: JSON.stringify(body)});
  return [r.status, await r.json()];
}
async function send(what) {
  statusLine.textContent = 'sending…';
  const [code, d] = await post('/_sandbox/webhook/send', Object.assign({page_id: S.page_id, psid: S.psid}, what));
  if (code !== 200) { statusLine.textContent = 'not sent: ' + d.error; return; }
  const last = d.attempts[d.attempts.length - 1];
  statusLine.textContent = 'delivery #' + d.id + ': ' + (d.ok ? 'the app answered 200'
    : 'the app answered ' + (last.status || last.error) + ' after ' + d.attempts.length + ' attempts');
  refresh();
}
function chips(item) {
  const box = el('div', 'chips');
  for (const q of item.quick_replies) if (q.content_type === 'text' || !q.content_type) {
    const b = el('button', 'chip', q.title); b.dataset.kind = 'quick_reply';
    b.onclick = () => send({quick_reply: {text: q.title, payload: q.payload}}); box.append(b); }
  for (const btn of item.buttons) if (btn.type === 'postback') {
    const b = el('button', 'chip', btn.title); b.dataset.kind = 'postback';
    b.onclick = () => send({postback: {title: btn.title, payload: btn.payload}}); box.append(b); }
  return box;
}
function render(items) {
  chat.replaceChildren();
  items.forEach((item, i) => {
    chat.append(el('div', 'msg ' + item.from, item.text));
    if (item.from === 'user') {
      const ok = item.status === 200;
      const what = item.kind === 'text' ? '' : item.kind + ' ' + (item.payload || '') + ' · ';
      chat.append(el('div', 'meta' + (ok ? '' : ' failed'), what + 'delivery #' + item.delivery_id +
        ' → ' + (item.status === null ? 'no answer' : item.status) +
        (item.attempts > 1 ? ' (' + item.attempts + ' attempts)' : '')));
    } else {
      chat.append(el('div', 'meta left', 'Send API · ' + (item.messaging_type || item.kind)));
      if (i === items.length - 1 || item.buttons.length) chat.append(chips(item));
    }
  });
  chat.scrollTop = chat.scrollHeight;
}
async function refresh() {
  const r = await fetch('/_sandbox/webhook/conversation?page_id=' + S.page_id + '&psid=' + S.psid);
  const text = await r.text();
  if (text !== shown) { shown = text; render(JSON.parse(text).items); }
}
document.getElementById('say').onsubmit = (e) => { e.preventDefault();
  const box = document.getElementById('text'); if (box.value) { send({text: box.value}); box.value = ''; } };
document.getElementById('pb').onsubmit = (e) => { e.preventDefault();
  send({postback: {title: e.target.title.value, payload: e.target.payload.value}}); };
document.getElementById('rf').onsubmit = (e) => { e.preventDefault();
  send({referral: {ref: e.target.ref.value, source: e.target.source.value, type: 'OPEN_THREAD'}}); };
// Start from a click-to-Messenger ad: the first message carries the ad's referral.
document.getElementById('ad').onsubmit = (e) => { e.preventDefault();
  const f = e.target, referral = {ad_id: f.ad_id.value, source: 'ADS', type: 'OPEN_THREAD'};
  if (f.ad_title.value) referral.ads_context_data = {ad_title: f.ad_title.value};
  send({text: f.first.value || 'Hi', message_referral: referral}); };
document.getElementById('verify').onclick = async () => {
  const [code, d] = await post('/_sandbox/webhook/verify', {});
  statusLine.textContent = code !== 200 ? d.error : 'handshake: ' + (d.ok ? 'ok, the app echoed the challenge'
    : 'failed (' + (d.status || d.error) + ')');
};
// Choosing a user or a Page shows that conversation (no inline handlers: the page's CSP).
document.getElementById('pick-user').onchange = (e) => {
  e.target.form.page_id.value = ''; e.target.form.submit(); };
document.getElementById('pick-page').onchange = (e) => e.target.form.submit();
refresh(); setInterval(refresh, 1000);
"""


def render_form(state: SandboxState, user_id: str, page_id: str, psid: str) -> str:
    """The chat page for one test user and Page (no CDN: inline CSS and script)."""
    esc = html.escape
    seed = state.seed
    user_options = "".join(
        f"<option value={u.id}{' selected' if u.id == user_id else ''}>{esc(u.name)}</option>"
        for u in seed.users.values()
        if u.page_tasks
    )
    page_options = "".join(
        f"<option value={pid}{' selected' if pid == page_id else ''}>"
        f"{esc(seed.pages[pid].name)} ({pid})</option>"
        for pid in seed.users[user_id].page_tasks
    )
    settings = state.webhook
    target = (
        f"<code>{esc(settings.url)}</code>"
        if settings.url
        else "<span class=error>not set: start with --webhook-url, or POST "
        "/_sandbox/webhook/config</span>"
    )
    subscribed = state.subscriptions.get(page_id)
    who = json.dumps({"page_id": page_id, "psid": psid}).replace("<", "\\u003c")
    body = f"""
<h1>Message a Page as a Messenger user</h1>
<p class=note>Each message is a signed webhook delivery to {target};
the bot's answers are the Send API calls the Page made to this PSID.</p>
<form method=get class=row action=/_sandbox/webhook>
<label>User <select name=user_id id=pick-user>{user_options}</select></label>
<label>Page <select name=page_id id=pick-page>{page_options}</select></label>
<noscript><button class=secondary>Show</button></noscript></form>
<p class=muted>PSID <code id=psid>{psid}</code> · Page <code>{page_id}</code> ·
app subscribed: {esc(", ".join(subscribed)) if subscribed else "no (delivered anyway)"}</p>
<div id=chat aria-live=polite></div>
<form id=say class=row><input type=text id=text placeholder="Type a message" autocomplete=off autofocus>
<button class=primary>Send</button></form>
<form id=ad class=row aria-label="Click-to-Messenger ad">
<span class=muted>Ad click (a click-to-Messenger ad):</span>
<input type=text name=ad_id value=6000000000001 aria-label="Ad id" placeholder="ad id" inputmode=numeric>
<input type=text name=ad_title value="Spring sale" aria-label="Ad title" placeholder="ad title">
<input type=text name=first value="Hi! Is this still available?" aria-label="First message" placeholder="first message">
<button class=secondary>Message via this ad</button></form>
<details><summary>Postback, referral, handshake</summary>
<form id=pb class=row><input type=text name=title value="Get Started" aria-label=title>
<input type=text name=payload value=GET_STARTED aria-label=payload><button class=secondary>Postback</button></form>
<form id=rf class=row><input type=text name=ref value=spring-sale aria-label=ref>
<select name=source aria-label=source><option>SHORTLINK</option><option>ADS</option>
<option>CUSTOMER_CHAT_PLUGIN</option></select><button class=secondary>Referral</button></form>
<div class=row><button class=secondary id=verify type=button>Verify webhook (GET handshake)</button></div>
</details>
<p id=status class=muted></p>
<p class=muted>JSON: <a href=/_sandbox/webhook/deliveries>deliveries</a> ·
<a href=/_sandbox/messages>messages sent</a> · <a href=/_sandbox/webhook/config>webhook config</a></p>
<script type=application/json id=who>{who}</script>
<script>{FORM_SCRIPT}</script>"""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Webhook: message a Page</title><style>{STYLE}{FORM_STYLE}</style></head>"
        "<body><div class=box><div class=banner>Graph sandbox: not Facebook. "
        f"Test users only.</div>{body}</div></body></html>"
    )
