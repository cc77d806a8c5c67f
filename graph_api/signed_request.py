"""Facebook's ``signed_request``: what the data deletion and deauthorize callbacks receive.

``<signature>.<payload>``, both base64url without padding; the payload is JSON with
``algorithm: "HMAC-SHA256"``, ``user_id`` (the app-scoped id of the person) and ``issued_at``
(Unix seconds); the signature is HMAC-SHA256 of the *encoded* payload part, keyed with the app
secret (reference §11). ``parse_signed_request`` checks all of it and returns the payload, or
raises ``SignedRequestError`` saying what is wrong; a bad signature is ``ForgedSignedRequest``,
so a web view can answer 403 for it and 400 for the rest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

ALGORITHM = "HMAC-SHA256"
DEFAULT_MAX_AGE_SECONDS = 24 * 3600
"""A signed_request older than a day is refused. Facebook posts the callbacks as the person acts
and retries failures within hours; anything older is a replay of a captured request (the same
deletion asked again, a deauthorize undoing a later reconnect), so it is not acted on."""
CLOCK_SKEW_SECONDS = 5 * 60
"""How far in the future issued_at may be (our clock and Facebook's differ a little)."""
MAX_LENGTH = 4096
"""Real signed_requests are a few hundred characters; anything much longer is not one."""


class SignedRequestError(ValueError):
    """The signed_request is missing, malformed, of another algorithm or too old."""


class ForgedSignedRequest(SignedRequestError):
    """The signature does not match the payload under our app secret."""


@dataclass(frozen=True)
class SignedRequest:
    user_id: str
    issued_at: int
    payload: dict[str, Any]


_BASE64URL_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def _decode(part: str, what: str) -> bytes:
    if not _BASE64URL_RE.match(part):
        raise SignedRequestError(f"the {what} of signed_request is not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise SignedRequestError(f"the {what} of signed_request is not base64url") from None


def parse_signed_request(
    value: str,
    *,
    secret: str,
    max_age: int = DEFAULT_MAX_AGE_SECONDS,
    now: float | None = None,
) -> SignedRequest:
    """The verified payload of ``value``; raises SignedRequestError (ForgedSignedRequest for a
    wrong signature). The signature is compared in constant time, before the payload is read."""
    if not secret:
        raise ValueError("parse_signed_request needs the app secret")
    if not value:
        raise SignedRequestError("signed_request is missing: Facebook sends it as a form field")
    if len(value) > MAX_LENGTH or value.count(".") != 1:
        raise SignedRequestError(
            "signed_request must be two base64url parts joined by one '.' (signature.payload)"
        )
    encoded_signature, encoded_payload = value.split(".")
    if not encoded_signature or not encoded_payload:
        raise SignedRequestError("signed_request has an empty signature or payload")
    signature = _decode(encoded_signature, "signature")
    _decode(encoded_payload, "payload")  # malformed base64 is a 400 whoever signed it
    expected = hmac.new(secret.encode(), encoded_payload.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise ForgedSignedRequest(
            "the signature of signed_request does not match: it was not signed with this app's "
            "secret (FACEBOOK_APP_SECRET)"
        )
    try:
        payload = json.loads(_decode(encoded_payload, "payload"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SignedRequestError("the payload of signed_request is not JSON") from None
    if not isinstance(payload, dict):
        raise SignedRequestError("the payload of signed_request must be a JSON object")
    algorithm = payload.get("algorithm")
    if not isinstance(algorithm, str) or algorithm.upper() != ALGORITHM:
        raise SignedRequestError(f"signed_request's algorithm must be {ALGORITHM}")
    user_id = payload.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not user_id.isascii() or not user_id.isdigit():
        raise SignedRequestError("signed_request has no user_id (the person's app-scoped id)")
    issued_at = payload.get("issued_at")
    if not isinstance(issued_at, int) or isinstance(issued_at, bool):
        raise SignedRequestError("signed_request has no issued_at (Unix seconds)")
    current = time.time() if now is None else now
    if issued_at > current + CLOCK_SKEW_SECONDS:
        raise SignedRequestError("signed_request's issued_at is in the future")
    if current - issued_at > max_age:
        raise SignedRequestError(
            f"signed_request is older than {max_age} seconds: a replay is not acted on"
        )
    return SignedRequest(user_id=user_id, issued_at=issued_at, payload=payload)


def build_signed_request(payload: dict[str, Any], *, secret: str) -> str:
    """A signed_request as Facebook makes one (for the sandbox and tests)."""
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    digest = hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() + "." + encoded
