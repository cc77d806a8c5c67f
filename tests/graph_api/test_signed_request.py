"""parse_signed_request against requests built from the reference's description (§11): the
HMAC-SHA256 of the encoded payload, keyed with the app secret, base64url without padding."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from graph_api.signed_request import (
    DEFAULT_MAX_AGE_SECONDS,
    ForgedSignedRequest,
    SignedRequestError,
    build_signed_request,
    parse_signed_request,
)

SECRET = "test-app-secret-do-not-use"
NOW = 1_800_000_000
PAYLOAD = {"algorithm": "HMAC-SHA256", "user_id": "1234567890", "issued_at": NOW - 10}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(payload: Any, secret: str = SECRET) -> str:
    """Written here from the reference, independently of build_signed_request."""
    encoded = b64(json.dumps(payload).encode())
    return b64(hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()) + "." + encoded


def test_a_valid_request_gives_its_user_and_time() -> None:
    parsed = parse_signed_request(signed(PAYLOAD), secret=SECRET, now=NOW)

    assert (parsed.user_id, parsed.issued_at) == ("1234567890", NOW - 10)
    assert parsed.payload == PAYLOAD


def test_the_builder_makes_what_the_reference_describes() -> None:
    assert build_signed_request(PAYLOAD, secret=SECRET) == signed(PAYLOAD)


def test_another_secret_is_forged() -> None:
    with pytest.raises(ForgedSignedRequest, match="FACEBOOK_APP_SECRET"):
        parse_signed_request(signed(PAYLOAD, "another-secret"), secret=SECRET, now=NOW)


def test_a_changed_payload_is_forged() -> None:
    signature = signed(PAYLOAD).split(".")[0]
    other = b64(json.dumps({**PAYLOAD, "user_id": "999"}).encode())

    with pytest.raises(ForgedSignedRequest):
        parse_signed_request(f"{signature}.{other}", secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({**PAYLOAD, "algorithm": "HMAC-SHA1"}, "algorithm must be HMAC-SHA256"),
        ({k: v for k, v in PAYLOAD.items() if k != "algorithm"}, "algorithm must be HMAC-SHA256"),
        ({**PAYLOAD, "user_id": ""}, "no user_id"),
        ({**PAYLOAD, "issued_at": "yesterday"}, "no issued_at"),
        ({**PAYLOAD, "issued_at": NOW - DEFAULT_MAX_AGE_SECONDS - 1}, "older than 86400 seconds"),
        ({**PAYLOAD, "issued_at": NOW + 3600}, "in the future"),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_what_is_refused_and_why(payload: Any, message: str) -> None:
    with pytest.raises(SignedRequestError, match=message) as caught:
        parse_signed_request(signed(payload), secret=SECRET, now=NOW)
    assert not isinstance(caught.value, ForgedSignedRequest)


def test_max_age_is_the_callers_choice() -> None:
    old = signed({**PAYLOAD, "issued_at": NOW - 120})

    assert parse_signed_request(old, secret=SECRET, now=NOW, max_age=300).user_id == "1234567890"
    with pytest.raises(SignedRequestError, match="older than 60 seconds"):
        parse_signed_request(old, secret=SECRET, now=NOW, max_age=60)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "missing"),
        ("no-dot-at-all", "two base64url parts"),
        ("a.b.c", "two base64url parts"),
        (".abc", "empty signature or payload"),
        ("abc$.def", "signature of signed_request is not base64url"),
        ("abc.d+f", "payload of signed_request is not base64url"),
        (f"{b64(b'x' * 32)}.a", "payload of signed_request is not base64url"),
        ("x" * 5000 + ".y", "two base64url parts"),
    ],
)
def test_malformed_values(value: str, message: str) -> None:
    with pytest.raises(SignedRequestError, match=message) as caught:
        parse_signed_request(value, secret=SECRET, now=NOW)
    assert not isinstance(caught.value, ForgedSignedRequest)
    assert SECRET not in str(caught.value)


def test_a_signed_payload_that_is_not_json() -> None:
    encoded = b64(b"\xff not json")
    signature = b64(hmac.new(SECRET.encode(), encoded.encode(), hashlib.sha256).digest())

    with pytest.raises(SignedRequestError, match="not JSON"):
        parse_signed_request(f"{signature}.{encoded}", secret=SECRET, now=NOW)
