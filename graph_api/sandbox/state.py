"""What the sandbox remembers while it runs, and the rules that read it.

All of it is in memory and lost on restart, except what tokens carry themselves. The server runs
one asyncio loop, so nothing here needs a lock.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .faults import FaultBook
from .seed import Page, Seed, User
from .tokens import TokenClaims

SECRET_KEYS = frozenset(
    {"access_token", "appsecret_proof", "input_token", "client_secret", "fb_exchange_token", "code"}
)
_SECRET_IN_QUERY = re.compile(
    r"\b(access_token|appsecret_proof|input_token|client_secret|fb_exchange_token|code)=[^&\s]*"
)
REDACTED = "[redacted]"

AUTH_CODE_SECONDS = 600
INBOUND_WINDOW_SECONDS = 24 * 3600
HUMAN_AGENT_WINDOW_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """Where and how the sandbox delivers webhooks, as Facebook's app dashboard would say."""

    url: str | None = None
    verify_token: str | None = None
    retries: int = 2  # further attempts after a non-200 answer
    backoff_ms: int = 200  # before the first retry; doubles each time


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How the sandbox was started."""

    app_id: str
    app_secret: str
    require_appsecret_proof: bool = True
    auto_login_user: str | None = None
    request_log_size: int = 5000
    webhook: WebhookSettings = field(default_factory=WebhookSettings)


@dataclass(slots=True)
class UserGrant:
    """What a person has granted or declined to the app across logins (Facebook remembers)."""

    granted: set[str] = field(default_factory=set)
    declined: set[str] = field(default_factory=set)
    pages: tuple[str, ...] | None = None  # None = all their pages


@dataclass(frozen=True, slots=True)
class AuthCode:
    """A login dialog's answer, waiting to be exchanged once for a user token."""

    user_id: str
    scopes: tuple[str, ...]
    granted_pages: tuple[str, ...] | None
    client_id: str
    redirect_uri: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Revocation:
    """Tokens issued up to `before_ms` are invalid, with this 190 subcode."""

    before_ms: int
    subcode: int


def iso_now() -> str:
    """The current UTC time in ISO 8601, as the inspection endpoints report times."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class UsageMeter:
    """Plausible usage percentages for X-App-Usage and X-Business-Use-Case-Usage.

    Counts calls in the current minute against a nominal capacity. Organic numbers stay below 95%,
    so only an injected throttling fault ever reports 100: a client that slows down on high usage
    is exercised by faults, not by accident during a load test.
    """

    APP_CALLS_PER_MINUTE = 6000
    PAGE_CALLS_PER_MINUTE = 1200
    CEILING = 95

    def __init__(self) -> None:
        self._minute = 0
        self._app_calls = 0
        self._page_calls: dict[str, int] = {}

    def record(self, page_id: str | None) -> None:
        """Count one call (for a Page when made with that Page's token)."""
        minute = int(time.time() // 60)
        if minute != self._minute:
            self._minute, self._app_calls, self._page_calls = minute, 0, {}
        self._app_calls += 1
        if page_id is not None:
            self._page_calls[page_id] = self._page_calls.get(page_id, 0) + 1

    def app_usage(self) -> str:
        """The X-App-Usage header value."""
        pct = min(self.CEILING, self._app_calls * 100 // self.APP_CALLS_PER_MINUTE)
        return f'{{"call_count":{pct},"total_cputime":{pct // 3},"total_time":{pct // 2}}}'

    def page_usage(self, page_id: str) -> str:
        """The X-Business-Use-Case-Usage header value for one Page (type "pages")."""
        calls = self._page_calls.get(page_id, 0)
        pct = min(self.CEILING, calls * 100 // self.PAGE_CALLS_PER_MINUTE)
        return (
            f'{{"{page_id}":[{{"type":"pages","call_count":{pct},"total_cputime":{pct // 3},'
            f'"total_time":{pct // 2},"estimated_time_to_regain_access":0}}]}}'
        )


class SandboxState:
    """The seed plus everything that happened since start (or since the last reset)."""

    def __init__(self, config: SandboxConfig, seed: Seed) -> None:
        self.config = config
        self.seed = seed
        self.started_at = iso_now()
        self.faults = FaultBook()
        self.requests: deque[dict[str, Any]] = deque(maxlen=config.request_log_size)
        self.events: list[dict[str, Any]] = []
        self.generation = 0
        self._next_request_id = 1
        self.reset()

    def reset(self) -> None:
        """Forget everything that happened; keep the seed and the configuration.

        `generation` lets a call that was still hanging (a timeout fault) when the reset came
        notice it and leave no trace in the fresh state.
        """
        self.generation += 1
        self.grants: dict[str, UserGrant] = {}
        self.auth_codes: dict[str, AuthCode] = {}
        self.used_codes: set[str] = set()
        self.revoked_tokens: dict[str, int] = {}
        self.user_revocations: dict[str, Revocation] = {}
        self.page_revocations: dict[str, Revocation] = {}
        self.role_revocations: dict[tuple[str, str], Revocation] = {}
        self.datasets_created: set[str] = set()
        self.subscriptions: dict[str, list[str]] = {}
        self.inbound: dict[tuple[str, str], float] = {}
        # Webhook settings changed at run time go back to the start-up ones on reset.
        self.webhook = self.config.webhook
        self.webhook_deliveries: deque[Any] = deque(maxlen=self.config.request_log_size)
        self.webhook_verifications: deque[dict[str, Any]] = deque(maxlen=100)
        self.sent: deque[dict[str, Any]] = deque(maxlen=self.config.request_log_size)
        self.events = []
        self.requests.clear()
        self.faults.remove()
        self.usage = UsageMeter()
        self.sent_messages = 0
        # (page id, psid) -> (ad id, day): the ad a person last started a conversation from, as
        # Facebook knows it from the click; Ads Insights attributes their events to that ad.
        self.ad_referrals: dict[tuple[str, str], tuple[str, str]] = {}
        # Every conversation started from an ad: (ad id, day), for messaging_conversation_started.
        self.ad_conversations: list[tuple[str, str]] = []
        # Facebook reports an ad's conversions the next day; tests may ask for the same day.
        self.insights_same_day = False

    # --- Seed lookups ---------------------------------------------------------------------------

    def user(self, user_id: str) -> User | None:
        """A seed user by id."""
        return self.seed.users.get(user_id)

    def page(self, page_id: str) -> Page | None:
        """A seed Page by id."""
        return self.seed.pages.get(page_id)

    def tasks(self, user_id: str, page_id: str) -> tuple[str, ...]:
        """The user's tasks on the Page now (none once their role was revoked)."""
        if (user_id, page_id) in self.role_revocations:
            return ()
        user = self.seed.users.get(user_id)
        return user.page_tasks.get(page_id, ()) if user else ()

    def pages_of(self, user_id: str) -> list[str]:
        """Pages the user has a task on, in seed order."""
        user = self.seed.users.get(user_id)
        if user is None:
            return []
        return [pid for pid in user.page_tasks if self.tasks(user_id, pid)]

    # --- Tokens ---------------------------------------------------------------------------------

    def revocation_subcode(self, claims: TokenClaims) -> int | None:
        """The 190 subcode if the token was revoked (by itself, its user, Page or role)."""
        if claims.token_id in self.revoked_tokens:
            return self.revoked_tokens[claims.token_id]
        revocations: list[Revocation | None] = [self.user_revocations.get(claims.user_id)]
        if claims.page_id is not None:
            revocations.append(self.page_revocations.get(claims.page_id))
            revocations.append(self.role_revocations.get((claims.user_id, claims.page_id)))
        for revocation in revocations:
            if revocation is not None and claims.issued_at_ms <= revocation.before_ms:
                return revocation.subcode
        return None

    def revoke(
        self,
        *,
        token: TokenClaims | None = None,
        user_id: str | None = None,
        page_id: str | None = None,
        subcode: int | None = None,
    ) -> str:
        """Revoke a token, a user's tokens, a Page's tokens, or a user's role on a Page.

        Returns what was revoked, for the control API's answer. Tokens issued after a user or Page
        revocation work again, so a re-login repairs it, as on Facebook.
        """
        now_ms = int(time.time() * 1000)
        if token is not None:
            self.revoked_tokens[token.token_id] = subcode or 467
            return "token"
        if user_id is not None and page_id is not None:
            self.role_revocations[(user_id, page_id)] = Revocation(now_ms, subcode or 492)
            return "role"
        if user_id is not None:
            self.user_revocations[user_id] = Revocation(now_ms, subcode or 460)
            return "user"
        if page_id is not None:
            self.page_revocations[page_id] = Revocation(now_ms, subcode or 492)
            return "page"
        raise ValueError("name a token, a user_id, a page_id, or a user_id and page_id")

    # --- Login ----------------------------------------------------------------------------------

    def grant_for(self, user_id: str) -> UserGrant:
        """The user's remembered grant (created empty on first login)."""
        return self.grants.setdefault(user_id, UserGrant())

    def new_auth_code(self, code: AuthCode) -> str:
        """Store an auth code and return its value."""
        value = "sbx_code_" + os.urandom(16).hex()
        self.auth_codes[value] = code
        return value

    # --- Messaging window -------------------------------------------------------------------------

    def record_inbound(self, page_id: str, psid: str, at: float) -> None:
        """Remember that the person wrote to the Page at `at` (opens the 24-hour window)."""
        key = (page_id, psid)
        self.inbound[key] = max(at, self.inbound.get(key, 0.0))

    def last_inbound(self, page_id: str, psid: str) -> float | None:
        """When the person last wrote to the Page, if ever."""
        return self.inbound.get((page_id, psid))

    def record_sent(self, entry: dict[str, Any]) -> None:
        """Remember a message the Page sent through the Send API (numbered from 1 per reset)."""
        entry["id"] = (self.sent[-1]["id"] if self.sent else 0) + 1
        entry["time"] = iso_now()
        entry["at"] = time.time()
        self.sent.append(entry)

    # --- Inspection -------------------------------------------------------------------------------

    def next_request_id(self) -> int:
        """A fresh id for the request log (ids keep growing across resets, for `since`)."""
        request_id = self._next_request_id
        self._next_request_id += 1
        return request_id

    def log_request(
        self,
        *,
        request_id: int,
        method: str,
        path: str,
        version: str | None,
        query: dict[str, Any],
        body: dict[str, Any],
        status: int,
        started: float,
        batch_parent: int | None = None,
        error: dict[str, Any] | None = None,
        timed_out: bool = False,
    ) -> None:
        """Append a call to the bounded request log, secrets redacted."""
        entry: dict[str, Any] = {
            "id": request_id,
            "method": method,
            "path": path,
            "version": version,
            "query": redact(query),
            "body": redact(body),
            "status": status,
            "time": iso_now(),
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "batch_parent": batch_parent,
        }
        if timed_out:
            entry["timed_out"] = True
        if error is not None:
            entry["error"] = error
        self.requests.append(entry)

    def record_ad_referral(self, page_id: str, psid: str, ad_id: str, day: str) -> None:
        """A person started a conversation with the Page from an ad on `day` (YYYY-MM-DD)."""
        self.ad_referrals[(page_id, psid)] = (ad_id, day)
        self.ad_conversations.append((ad_id, day))

    def record_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Append accepted events, numbering them from 1 since the last reset."""
        for event in events:
            event["id"] = len(self.events) + 1
            self.events.append(event)


def redact(values: dict[str, Any]) -> dict[str, Any]:
    """A copy of parameters with secrets replaced, including inside a batch's operations."""
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECRET_KEYS:
            cleaned[key] = REDACTED
        elif key == "batch":
            cleaned[key] = _redact_batch(value)
        else:
            cleaned[key] = value
    return cleaned


def _redact_batch(value: Any) -> Any:
    try:
        ops = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return _SECRET_IN_QUERY.sub(rf"\1={REDACTED}", str(value))
    if not isinstance(ops, list):
        return ops
    return [
        {
            k: _SECRET_IN_QUERY.sub(rf"\1={REDACTED}", v) if isinstance(v, str) else v
            for k, v in op.items()
        }
        if isinstance(op, dict)
        else op
        for op in ops
    ]
