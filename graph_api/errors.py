"""Graph errors as typed exceptions, classified from ``code``, ``error_subcode`` and ``is_transient``.

Every failure of a Graph call, whether Facebook answered with an error envelope or the request
never got an answer, is one of five classes, and callers decide what to do by class alone:

================================  ===============================================================
``TransientError``                retry with back-off (downtime, 5xx, timeouts, ``is_transient``)
``RateLimitedError``              pause the page for ``retry_after`` seconds, then retry
``TokenInvalidError``             the token is dead: the page needs re-authorization
``PermissionMissingError``        a permission or task is missing: hold until it is granted
``InvalidRequestError``           Facebook refused the request itself: do not retry
================================  ===============================================================

``CLASSIFICATION`` below is the only place that maps codes to classes (reference §4.2-4.4, §4.8).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from graph_api.redaction import redact
from graph_api.usage import Usage

# Used when a throttled response says nothing about when to come back. Platform limits are
# computed over a rolling hour; five minutes lets the window slide without stalling a page long.
DEFAULT_RETRY_AFTER_SECONDS = 300


class GraphError(Exception):
    """A Graph call failed. Carries Facebook's error envelope, with secrets removed.

    Use a subclass to decide what to do; ``fbtrace_id`` is what Facebook support asks for.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        error_subcode: int | None = None,
        type: str | None = None,  # Facebook's field name, kept for callers
        fbtrace_id: str | None = None,
        is_transient: bool = False,
        http_status: int | None = None,
        error_user_title: str | None = None,
        error_user_msg: str | None = None,
        usage: Usage | None = None,
    ) -> None:
        # Facebook echoes a malformed token in its message and a connection error's URL holds
        # the token: everything that ends up in str() or repr() is redacted here.
        self.message = redact(message)
        self.code = code
        self.error_subcode = error_subcode
        self.type = type
        self.fbtrace_id = fbtrace_id
        self.is_transient = is_transient
        self.http_status = http_status
        self.error_user_title = None if error_user_title is None else redact(error_user_title)
        self.error_user_msg = None if error_user_msg is None else redact(error_user_msg)
        self.usage = usage if usage is not None else Usage()
        super().__init__(self.message)

    def __str__(self) -> str:
        codes = "" if self.code is None else f"(#{self.code}"
        if codes and self.error_subcode is not None:
            codes += f"/{self.error_subcode}"
        prefix = f"{codes}) " if codes else ""
        trace = f" [fbtrace_id={self.fbtrace_id}]" if self.fbtrace_id else ""
        return f"{prefix}{self.message}{trace}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, error_subcode={self.error_subcode!r}, "
            f"message={self.message!r}, fbtrace_id={self.fbtrace_id!r}, "
            f"http_status={self.http_status!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive pickling through Exception.args.
        return (_rebuild, (type(self), self.message, self._fields()))

    def _fields(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "error_subcode": self.error_subcode,
            "type": self.type,
            "fbtrace_id": self.fbtrace_id,
            "is_transient": self.is_transient,
            "http_status": self.http_status,
            "error_user_title": self.error_user_title,
            "error_user_msg": self.error_user_msg,
            "usage": self.usage,
        }

    @classmethod
    def from_response(
        cls,
        status: int | None,
        body: object,
        headers: Mapping[str, str] | None = None,
        *,
        secrets: Iterable[str] = (),
    ) -> GraphError:
        """Build the right subclass from an HTTP status, a response body and its headers.

        ``body`` may be the parsed JSON, the raw text or bytes. ``status`` is None for a batch
        operation Facebook answered with ``null`` (it did not complete; retry it). ``secrets``
        are values to remove from Facebook's texts (it echoes a malformed token).
        """
        headers = headers or {}
        usage = Usage.from_headers(headers)
        envelope = _error_envelope(body)
        code = _int_or_none(envelope.get("code"))
        subcode = _int_or_none(envelope.get("error_subcode"))
        is_transient = envelope.get("is_transient") is True
        message = envelope.get("message")
        if not isinstance(message, str) or not message:
            message = _fallback_message(status, body)
        secrets = tuple(secrets)
        error_class = classify(code=code, subcode=subcode, is_transient=is_transient, status=status)
        fields: dict[str, Any] = {
            "code": code,
            "error_subcode": subcode,
            "type": _str_or_none(envelope.get("type")),
            "fbtrace_id": _str_or_none(envelope.get("fbtrace_id")),
            "is_transient": is_transient,
            "http_status": status,
            "error_user_title": _redacted(envelope.get("error_user_title"), secrets),
            "error_user_msg": _redacted(envelope.get("error_user_msg"), secrets),
            "usage": usage,
        }
        message = redact(message, secrets=secrets)
        if error_class is RateLimitedError:
            return RateLimitedError(message, retry_after=_retry_after(usage, headers), **fields)
        return error_class(message, **fields)

    @classmethod
    def from_request_exception(
        cls, exc: requests.RequestException, *, secrets: Iterable[str] = ()
    ) -> GraphError:
        """Build the right subclass for a request that got no HTTP answer.

        Raise it ``from None``: the original exception's text and request carry the URL, and
        with it the access token, into any traceback that is printed.
        """
        detail = redact(f"{type(exc).__name__}: {exc}", secrets=secrets)
        if isinstance(exc, requests.Timeout):
            return GraphTimeout(f"Graph did not answer in time ({detail})")
        if isinstance(exc, requests.ConnectionError):
            return GraphConnectionError(f"Could not reach Graph ({detail})")
        if isinstance(
            exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
        ):
            return TransientError(f"Graph's answer was cut off ({detail})")
        # A malformed URL, too many redirects and the like: our request cannot work as it is.
        return InvalidRequestError(f"The request could not be sent ({detail})")


class TransientError(GraphError):
    """A temporary failure (downtime, 5xx, a timeout, ``is_transient``): retry with back-off."""


class GraphTimeout(TransientError):
    """Graph did not answer within the read or connect timeout. A POST may have been applied."""


class GraphConnectionError(TransientError):
    """Graph could not be reached at all (DNS, refused connection, TLS)."""


class UnexpectedResponseError(TransientError):
    """Graph answered 2xx with a body we cannot read (not JSON, or a field missing).

    Retried like other transient errors: it is most often a proxy or an outage page, and
    delivery is at least once anyway.
    """


class RateLimitedError(GraphError):
    """Throttled (codes 4, 17, 32, 613, 80000-80014, or HTTP 429): wait ``retry_after`` seconds."""

    def __init__(
        self, message: str, *, retry_after: int = DEFAULT_RETRY_AFTER_SECONDS, **fields: Any
    ) -> None:
        super().__init__(message, **fields)
        self.retry_after = retry_after

    def _fields(self) -> dict[str, Any]:
        return {**super()._fields(), "retry_after": self.retry_after}

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, retry_after={self.retry_after!r})"


class TokenInvalidError(GraphError):
    """The access token expired or was invalidated (190 and its subcodes, 102): re-authorize."""


class PermissionMissingError(GraphError):
    """A permission or Page task is missing (3, 10, 200-299): ask for it again, then retry."""


class InvalidRequestError(GraphError):
    """Facebook refused the request as it is (100, 2500, other 4xx): fix it; retrying won't help."""


def _rebuild(error_class: type[GraphError], message: str, fields: dict[str, Any]) -> GraphError:
    return error_class(message, **fields)


ANY_SUBCODE = None

# The one classification table: (code, subcode) -> class; a subcode of ANY_SUBCODE matches any.
# An exact (code, subcode) row wins over the code's row. Sources: reference §4.2-4.4 and §4.8.
CLASSIFICATION: dict[tuple[int, int | None], type[GraphError]] = {
    # §4.2 general codes
    (1, ANY_SUBCODE): TransientError,  # API Unknown: "possibly a temporary issue"
    (2, ANY_SUBCODE): TransientError,  # API Service: "temporary issue due to downtime"
    (3, ANY_SUBCODE): PermissionMissingError,  # API Method: capability or permissions issue
    (4, ANY_SUBCODE): RateLimitedError,  # API Too Many Calls
    (10, ANY_SUBCODE): PermissionMissingError,  # API Permission Denied
    (17, ANY_SUBCODE): RateLimitedError,  # API User Too Many Calls
    (100, ANY_SUBCODE): InvalidRequestError,  # Invalid parameter
    (102, ANY_SUBCODE): TokenInvalidError,  # API Session: token expired or invalid
    (190, ANY_SUBCODE): TokenInvalidError,  # Access token has expired
    **{(code, ANY_SUBCODE): PermissionMissingError for code in range(200, 300)},
    (341, ANY_SUBCODE): TransientError,  # Application limit reached: "wait and retry"
    (
        368,
        ANY_SUBCODE,
    ): TransientError,  # Temporarily blocked for policy violations: "wait and retry"
    (506, ANY_SUBCODE): InvalidRequestError,  # Duplicate Post: sending it again duplicates again
    (1609005, ANY_SUBCODE): InvalidRequestError,  # Error Posting Link
    (2500, ANY_SUBCODE): InvalidRequestError,  # Unknown path components / unsupported request
    # §4.3 authentication subcodes of 190 (all mean: get a new token)
    (190, 458): TokenInvalidError,  # App Not Installed
    (190, 459): TokenInvalidError,  # User Checkpointed
    (190, 460): TokenInvalidError,  # Password Changed
    (190, 463): TokenInvalidError,  # Expired
    (190, 464): TokenInvalidError,  # Unconfirmed User
    (190, 467): TokenInvalidError,  # Invalid Access Token
    (190, 492): TokenInvalidError,  # Invalid Session: the user lost their role on the Page
    # §4.4 throttling, Platform and Business Use Case codes (80007 and 80010-80013 unconfirmed)
    (17, 2446079): RateLimitedError,  # Ads API v3.3 and older
    (32, ANY_SUBCODE): RateLimitedError,  # Pages API call rate limit
    (613, ANY_SUBCODE): RateLimitedError,  # custom rate limit
    (613, 1996): RateLimitedError,  # inconsistent request volume
    **{(code, ANY_SUBCODE): RateLimitedError for code in range(80000, 80015)},
    (80000, 2446079): RateLimitedError,  # Ads Insights
    (80003, 2446079): RateLimitedError,  # Custom Audience
    (80004, 2446079): RateLimitedError,  # Ads Management
    # §4.8 Send API codes
    (1, 99): PermissionMissingError,  # "unknown (missing permissions / advanced access)"
    (99, ANY_SUBCODE): PermissionMissingError,  # same row of the Send API table
    (10, 2018278): InvalidRequestError,  # outside the messaging window: no permission fixes it
    (100, 2018001): InvalidRequestError,  # No matching user found
    (230, ANY_SUBCODE): PermissionMissingError,  # Requires pages_messaging
    (551, ANY_SUBCODE): InvalidRequestError,  # This person isn't available right now: don't retry
    (1545041, ANY_SUBCODE): InvalidRequestError,  # recipient unavailable
}


def classify(
    *, code: int | None, subcode: int | None, is_transient: bool, status: int | None
) -> type[GraphError]:
    """The class for a Graph error: the table first, then ``is_transient``, then the HTTP status.

    Throttling, token and permission rows win over everything: their remedy is not a plain
    retry. Otherwise Facebook's own ``is_transient``, a 5xx or a missing answer make it
    transient, a 429 throttled, and anything else is an invalid request.
    """
    listed = None
    if code is not None:
        listed = CLASSIFICATION.get((code, subcode)) or CLASSIFICATION.get((code, ANY_SUBCODE))
    if listed is not None and listed is not InvalidRequestError:
        return listed
    if status == 429:
        return RateLimitedError
    if is_transient or status is None or status >= 500:
        return TransientError
    return InvalidRequestError


def _error_envelope(body: object) -> Mapping[str, Any]:
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]  # type: ignore[no-any-return]
    return {}


def _fallback_message(status: int | None, body: object) -> str:
    if status is None:
        return "The operation did not complete (Facebook answered null); retry it"
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    snippet = body[:200] if isinstance(body, str) else ""
    return f"Graph answered HTTP {status} without an error message" + (
        f": {snippet}" if snippet else ""
    )


def _retry_after(usage: Usage, headers: Mapping[str, str]) -> int:
    """Seconds to wait: BUC's estimate (minutes), else Retry-After, else the default."""
    if usage.regain_access_seconds > 0:
        return usage.regain_access_seconds
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        seconds = int(float(lowered.get("retry-after", "")))
    except (ValueError, OverflowError):
        return DEFAULT_RETRY_AFTER_SECONDS
    return seconds if seconds > 0 else DEFAULT_RETRY_AFTER_SECONDS


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _redacted(value: object, secrets: tuple[str, ...]) -> str | None:
    return redact(value, secrets=secrets) if isinstance(value, str) else None
