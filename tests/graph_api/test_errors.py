"""Graph errors classified by code, subcode, is_transient and status (reference §4.2-4.4, §4.8)."""

import json
import pickle
from typing import Any

import pytest
import requests

from graph_api.errors import (
    DEFAULT_RETRY_AFTER_SECONDS,
    GraphConnectionError,
    GraphError,
    GraphTimeout,
    InvalidRequestError,
    PermissionMissingError,
    RateLimitedError,
    TokenInvalidError,
    TransientError,
)


def envelope(
    code: int, subcode: int | None = None, *, message: str = "Something went wrong", **extra: Any
) -> dict[str, Any]:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


# Every code and code/subcode pair the reference lists, with the class it must become. This
# table is written from the reference, not copied from graph_api/errors.py.
REFERENCE_CASES = [
    # §4.2 error codes
    (102, None, TokenInvalidError),  # API Session
    (1, None, TransientError),  # API Unknown: possibly temporary
    (2, None, TransientError),  # API Service: temporary downtime
    (3, None, PermissionMissingError),  # API Method: capability or permissions
    (4, None, RateLimitedError),  # API Too Many Calls
    (17, None, RateLimitedError),  # API User Too Many Calls
    (10, None, PermissionMissingError),  # API Permission Denied
    (190, None, TokenInvalidError),  # Access token has expired
    *[(code, None, PermissionMissingError) for code in range(200, 300)],  # API Permission
    (341, None, TransientError),  # Application limit reached: wait and retry
    (368, None, TransientError),  # Temporarily blocked for policies violations: wait and retry
    (506, None, InvalidRequestError),  # Duplicate Post
    (1609005, None, InvalidRequestError),  # Error Posting Link
    # §4.3 authentication subcodes
    (190, 458, TokenInvalidError),  # App Not Installed
    (190, 459, TokenInvalidError),  # User Checkpointed
    (190, 460, TokenInvalidError),  # Password Changed
    (190, 463, TokenInvalidError),  # Expired
    (190, 464, TokenInvalidError),  # Unconfirmed User
    (190, 467, TokenInvalidError),  # Invalid Access Token
    (190, 492, TokenInvalidError),  # Invalid Session
    # §4.4 throttling
    (17, 2446079, RateLimitedError),
    (32, None, RateLimitedError),
    (613, None, RateLimitedError),
    (613, 1996, RateLimitedError),
    (80000, None, RateLimitedError),
    (80000, 2446079, RateLimitedError),  # Ads Insights
    (80001, None, RateLimitedError),  # Pages with a Page token
    (80002, None, RateLimitedError),  # Instagram
    (80003, 2446079, RateLimitedError),  # Custom Audience
    (80004, 2446079, RateLimitedError),  # Ads Management
    (80005, None, RateLimitedError),  # LeadGen
    (80006, None, RateLimitedError),  # Messenger
    (80007, None, RateLimitedError),  # WhatsApp (unconfirmed)
    (80008, None, RateLimitedError),  # WhatsApp Business Management
    (80009, None, RateLimitedError),  # Catalog Management
    (80010, None, RateLimitedError),  # unconfirmed, inside the BUC range
    (80011, None, RateLimitedError),
    (80012, None, RateLimitedError),
    (80013, None, RateLimitedError),
    (80014, None, RateLimitedError),  # Catalog Batch
    # §4.8 Send API
    (1, 99, PermissionMissingError),  # unknown: missing permissions / advanced access
    (99, None, PermissionMissingError),
    (2, None, TransientError),  # unexpected error, retry later
    (4, None, RateLimitedError),  # Application request limit reached
    (10, 2018278, InvalidRequestError),  # sent outside of allowed window: no grant fixes it
    (551, None, InvalidRequestError),  # person isn't available: do not retry
    (100, 2018001, InvalidRequestError),  # No matching user found
    (613, None, RateLimitedError),
    (1545041, None, InvalidRequestError),  # recipient unavailable
    (230, None, PermissionMissingError),  # Requires pages_messaging
    (100, None, InvalidRequestError),  # invalid parameter, a retired message tag
    # Graph's unknown path
    (2500, None, InvalidRequestError),
]


@pytest.mark.parametrize(
    ("code", "subcode", "expected"),
    REFERENCE_CASES,
    ids=[f"{c}-{s}" for c, s, _ in REFERENCE_CASES],
)
def test_every_reference_code_is_classified(
    code: int, subcode: int | None, expected: type[Any]
) -> None:
    error = GraphError.from_response(400, envelope(code, subcode), {})

    assert type(error) is expected
    assert error.code == code
    assert error.error_subcode == subcode


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, envelope(1, is_transient=True), TransientError),
        (500, "<html>Bad gateway</html>", TransientError),
        (502, "", TransientError),
        (503, {"error": {"message": "Service unavailable"}}, TransientError),
        (429, {}, RateLimitedError),
        (429, envelope(100), RateLimitedError),
        (400, envelope(100, is_transient=True), TransientError),  # Facebook says: try again
        (400, envelope(190, is_transient=True), TokenInvalidError),  # a dead token stays dead
        (400, envelope(4, is_transient=True), RateLimitedError),
        (400, envelope(987654), InvalidRequestError),  # an unknown code in a 4xx
        (404, "Not found", InvalidRequestError),
        (403, envelope(10), PermissionMissingError),
        (500, envelope(100), TransientError),  # a 5xx is trouble on Facebook's side
        (None, None, TransientError),  # a batch operation answered null
    ],
)
def test_status_and_is_transient_decide_what_the_code_does_not(
    status: int | None, body: dict[str, Any] | str | None, expected: type[Any]
) -> None:
    assert type(GraphError.from_response(status, body, {})) is expected


def test_the_whole_envelope_is_kept() -> None:
    body = envelope(
        190,
        460,
        message="Error validating access token: The session has been invalidated.",
        error_user_title="Session expired",
        error_user_msg="Log in again.",
        is_transient=False,
    )

    error = GraphError.from_response(400, body, {"X-App-Usage": '{"call_count": 12}'})

    assert isinstance(error, TokenInvalidError)
    assert error.code == 190
    assert error.error_subcode == 460
    assert error.type == "OAuthException"
    assert error.message == "Error validating access token: The session has been invalidated."
    assert error.fbtrace_id == "AbCdEf123"
    assert error.is_transient is False
    assert error.http_status == 400
    assert error.error_user_title == "Session expired"
    assert error.error_user_msg == "Log in again."
    assert error.usage.max_percent == 12


def test_a_raw_json_body_is_parsed() -> None:
    error = GraphError.from_response(400, json.dumps(envelope(10)).encode(), {})

    assert isinstance(error, PermissionMissingError)
    assert error.fbtrace_id == "AbCdEf123"


def test_a_body_without_an_envelope_gets_a_message_that_says_so() -> None:
    error = GraphError.from_response(502, "<html>Bad gateway</html>", {})

    assert (
        error.message
        == "Graph answered HTTP 502 without an error message: <html>Bad gateway</html>"
    )


def test_str_and_repr_name_code_subcode_message_and_trace() -> None:
    error = GraphError.from_response(400, envelope(190, 463, message="Session has expired"), {})

    assert str(error) == "(#190/463) Session has expired [fbtrace_id=AbCdEf123]"
    assert repr(error) == (
        "TokenInvalidError(code=190, error_subcode=463, message='Session has expired', "
        "fbtrace_id='AbCdEf123', http_status=400)"
    )


def test_a_token_facebook_echoes_never_reaches_str_or_repr() -> None:
    token = "EAA" + "Fake0Token" * 4  # the shape Facebook echoes, built at run time
    proof = "f" * 64
    body = envelope(
        190,
        message=f"Malformed access token {token}",
        error_user_msg=f"access_token={token}&appsecret_proof={proof}",
    )

    error = GraphError.from_response(400, body, {}, secrets=[token, proof])

    for text in (str(error), repr(error), error.message, error.error_user_msg, *error.args):
        assert token not in text
        assert proof not in text
    assert error.message == "Malformed access token [redacted]"


def test_secrets_in_a_query_string_are_redacted_without_being_named() -> None:
    error = GraphError(
        "failed: /v25.0/me?access_token=user-token-123&appsecret_proof=abcdef0123", code=1
    )

    assert "user-token-123" not in str(error)
    assert "abcdef0123" not in repr(error)


BUC_THROTTLED = json.dumps(
    {"42": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 19}]}
)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"X-Business-Use-Case-Usage": BUC_THROTTLED}, 19 * 60),  # minutes -> seconds
        ({"X-Business-Use-Case-Usage": BUC_THROTTLED, "Retry-After": "30"}, 19 * 60),
        ({"Retry-After": "30"}, 30),
        ({"retry-after": "12.5"}, 12),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, DEFAULT_RETRY_AFTER_SECONDS),
        ({"Retry-After": "0"}, DEFAULT_RETRY_AFTER_SECONDS),
        ({}, DEFAULT_RETRY_AFTER_SECONDS),
    ],
)
def test_retry_after_prefers_the_business_use_case_estimate(
    headers: dict[str, Any], retry_after: int
) -> None:
    error = GraphError.from_response(400, envelope(80001), headers)

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == retry_after


def test_a_429_without_a_code_is_throttling_too() -> None:
    error = GraphError.from_response(429, "", {"Retry-After": "7"})

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (requests.ReadTimeout("read timed out"), GraphTimeout),
        (requests.ConnectTimeout("connect timed out"), GraphTimeout),
        (requests.ConnectionError("refused"), GraphConnectionError),
        (requests.exceptions.SSLError("bad certificate"), GraphConnectionError),
        (requests.exceptions.ChunkedEncodingError("cut off"), TransientError),
        (requests.exceptions.InvalidURL("no host"), InvalidRequestError),
        (requests.TooManyRedirects("loop"), InvalidRequestError),
    ],
)
def test_request_exceptions_are_classified(exc: Any, expected: type[Any]) -> None:
    error = GraphError.from_request_exception(exc)

    assert type(error) is expected
    assert error.http_status is None
    assert type(exc).__name__ in error.message


def test_timeouts_and_connection_errors_are_transient() -> None:
    assert issubclass(GraphTimeout, TransientError)
    assert issubclass(GraphConnectionError, TransientError)


def test_a_request_exception_carrying_the_url_is_redacted() -> None:
    exc = requests.ConnectionError(
        "Max retries exceeded with url: /v25.0/me?access_token=tok-secret-1&appsecret_proof=0a1b2c"
    )

    error = GraphError.from_request_exception(exc, secrets=["tok-secret-1"])

    assert "tok-secret-1" not in str(error)
    assert "0a1b2c" not in str(error)
    assert error.__cause__ is None


@pytest.mark.parametrize(
    "error",
    [
        GraphError.from_response(400, envelope(190, 460), {"X-App-Usage": '{"call_count": 5}'}),
        GraphError.from_response(400, envelope(4), {"Retry-After": "9"}),
        GraphTimeout("slow"),
    ],
)
def test_errors_survive_pickling(error: GraphError) -> None:
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object

    assert type(copy) is type(error)
    assert repr(copy) == repr(error)
    assert copy.usage == error.usage
