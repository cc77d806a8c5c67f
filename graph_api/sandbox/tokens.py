"""Self-describing, signed sandbox access tokens.

A token carries everything needed to check it (kind, user, page, scopes, granted pages, issue and
expiry times), signed with a fixed sandbox key. So the sandbox keeps no token table and tokens
survive a restart, which `make dev` relies on: the app stores page tokens and expects them to work
tomorrow. Revocation is the only token state, and it lives in memory (see state.py).

Tokens start with "sbx_" and never with "EAA", so no one mistakes one for a real Facebook token
and secret scanners stay quiet.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Literal

# Not a secret: it only has to be fixed, so tokens minted before a restart still verify after it.
SIGNING_KEY = b"pagepulse-graph-sandbox-token-signing-key-v1"
PREFIX = "sbx_"

SHORT_LIVED_SECONDS = 3600
LONG_LIVED_SECONDS = 60 * 24 * 3600
DATA_ACCESS_SECONDS = 90 * 24 * 3600

TokenKind = Literal["user", "page"]
_KIND_CODES: dict[str, TokenKind] = {"u": "user", "p": "page"}


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a sandbox token says about itself."""

    kind: TokenKind
    app_id: str
    user_id: str
    page_id: str | None
    scopes: tuple[str, ...]
    # Pages the person ticked in the dialog; None means every page they have a task on.
    granted_pages: tuple[str, ...] | None
    issued_at_ms: int
    expires_at: int  # Unix seconds; 0 = never (long-lived Page tokens)
    long_lived: bool
    token_id: str

    @property
    def issued_at(self) -> int:
        """Issue time in Unix seconds, as debug_token reports it."""
        return self.issued_at_ms // 1000

    def is_expired(self, now: float) -> bool:
        """True when the token has an expiry and it has passed."""
        return self.expires_at != 0 and now >= self.expires_at

    def grants_page(self, page_id: str) -> bool:
        """Whether the person granted this app access to `page_id` in the dialog."""
        return self.granted_pages is None or page_id in self.granted_pages


def mint(
    *,
    kind: TokenKind,
    app_id: str,
    user_id: str,
    scopes: tuple[str, ...],
    page_id: str | None = None,
    granted_pages: tuple[str, ...] | None = None,
    long_lived: bool = False,
    expires_at: int | None = None,
    now: float | None = None,
) -> tuple[str, TokenClaims]:
    """Create a signed token and return it with its claims.

    Expiry follows Facebook: user tokens last an hour (about 60 days when long-lived); Page tokens
    derived from a long-lived user token never expire, those from a short-lived one last an hour.
    """
    issued = time.time() if now is None else now
    if expires_at is None:
        if kind == "page" and long_lived:
            expires_at = 0
        else:
            lifetime = LONG_LIVED_SECONDS if long_lived else SHORT_LIVED_SECONDS
            expires_at = int(issued) + lifetime
    claims = TokenClaims(
        kind=kind,
        app_id=app_id,
        user_id=user_id,
        page_id=page_id,
        scopes=scopes,
        granted_pages=granted_pages,
        issued_at_ms=int(issued * 1000),
        expires_at=expires_at,
        long_lived=long_lived,
        token_id=os.urandom(6).hex(),
    )
    payload: dict[str, Any] = {
        "a": claims.app_id,
        "u": claims.user_id,
        "s": list(claims.scopes),
        "i": claims.issued_at_ms,
        "e": claims.expires_at,
        "l": int(claims.long_lived),
        "j": claims.token_id,
    }
    if page_id is not None:
        payload["p"] = page_id
    if granted_pages is not None:
        payload["g"] = list(granted_pages)
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    head = f"{PREFIX}{kind[0]}_{body}"
    return f"{head}.{_signature(head)}", claims


@functools.lru_cache(maxsize=8192)
def decode(token: str) -> TokenClaims | None:
    """The claims of a well-formed, correctly signed sandbox token, else None.

    Cached because the same page token arrives thousands of times a second under load; the
    function is pure, so caching cannot change an answer.
    """
    if not token.startswith(PREFIX):
        return None
    head, dot, signature = token.rpartition(".")
    if not dot or not hmac.compare_digest(signature, _signature(head)):
        return None
    kind_code, _, body = head[len(PREFIX) :].partition("_")
    kind = _KIND_CODES.get(kind_code)
    if kind is None:
        return None
    try:
        payload = json.loads(_unb64(body))
        return TokenClaims(
            kind=kind,
            app_id=str(payload["a"]),
            user_id=str(payload["u"]),
            page_id=str(payload["p"]) if "p" in payload else None,
            scopes=tuple(str(s) for s in payload["s"]),
            granted_pages=tuple(str(p) for p in payload["g"]) if "g" in payload else None,
            issued_at_ms=int(payload["i"]),
            expires_at=int(payload["e"]),
            long_lived=bool(payload["l"]),
            token_id=str(payload["j"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def appsecret_proof(app_secret: str, token: str) -> str:
    """HMAC-SHA256 of the token keyed by the app secret, hex-encoded (Facebook's definition)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def _signature(head: str) -> str:
    return _b64(hmac.new(SIGNING_KEY, head.encode(), hashlib.sha256).digest()[:18])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
