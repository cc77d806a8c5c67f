"""Remove secrets from text before it reaches a log line, an exception message or a stored request.

Everything that can carry a Graph token, the app secret, an appsecret_proof or one of our API
keys passes through `redact`: query strings, form bodies, JSON bodies and free text. Patterns
catch secrets by where they sit (``access_token=...``) or by their shape (``EAA...`` tokens);
callers that know the exact secret values in play (the Graph client does) pass them too,
because Facebook echoes a token in free text ("Malformed access token EAAB...").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
# Shorter known values are not credentials, and replacing them everywhere would garble text.
MIN_SECRET_LENGTH = 8

SECRET_PARAMS = (
    "access_token",
    "input_token",
    "fb_exchange_token",
    "client_secret",
    "appsecret_proof",
    "code",
)

# Secrets only where they sit in a URL's query string (an access log's request line, a
# Referer): OAuth's `state`, which ties a login to one browser session, and the webhook
# handshake's verify token. Elsewhere these names are ordinary words ("state": "active").
QUERY_SECRET_PARAMS = ("state", "redirect_state", "hub.verify_token", "signed_request")

_QUERY_PARAM_RE = re.compile(
    r"(?P<key>[?&](?:"
    + "|".join(re.escape(name) for name in (*SECRET_PARAMS, *QUERY_SECRET_PARAMS))
    + r")=)(?P<value>[^&#\s\"']+)",
    re.IGNORECASE,
)
_PARAM_RE = re.compile(
    r"""(?P<key>["']?\b(?P<name>"""
    + "|".join(SECRET_PARAMS)
    + r""")\b["']?\s*[=:]\s*["']?)(?P<value>[^&"'\s,}]+)""",
    re.IGNORECASE,
)
_BEARER_RE = re.compile(r"(?P<key>Bearer\s+)(?P<value>[A-Za-z0-9._~+/=-]+)", re.IGNORECASE)
_API_KEY_RE = re.compile(r"\bpp_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{20,}")
# Facebook user, Page and system-user tokens all start with "EAA".
_FACEBOOK_TOKEN_RE = re.compile(r"\bEAA[A-Za-z0-9]{20,}")


def redact(text: str, *, secrets: Iterable[str] = ()) -> str:
    """Return `text` with every secret value replaced by "[redacted]".

    `secrets` are exact values to remove wherever they appear, plain or URL-encoded (values
    shorter than MIN_SECRET_LENGTH are ignored).
    """
    for secret in sorted(
        {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
    ):
        for form in {secret, quote(secret, safe=""), quote_plus(secret, safe="")}:
            text = text.replace(form, REDACTED)
    # In a query string every one of them is a secret, `?code=` digits included.
    text = _QUERY_PARAM_RE.sub(lambda m: m.group("key") + REDACTED, text)
    text = _PARAM_RE.sub(_redact_param, text)
    text = _BEARER_RE.sub(lambda m: m.group("key") + REDACTED, text)
    text = _FACEBOOK_TOKEN_RE.sub(REDACTED, text)
    return _API_KEY_RE.sub(REDACTED, text)


def _redact_param(match: re.Match[str]) -> str:
    # "code" is an OAuth code in a query string but a Graph error code in "code=190";
    # a number is never the secret.
    if match.group("name").lower() == "code" and match.group("value").isdigit():
        return match.group(0)
    return match.group("key") + REDACTED


def redact_mapping(values: dict[str, Any]) -> dict[str, Any]:
    """A copy of a parameter mapping with the values of secret keys replaced."""
    return {
        key: REDACTED if key.lower() in SECRET_PARAMS else value for key, value in values.items()
    }


# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message, the traceback and string extras,
    so no handler ever sees a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # A requests exception's text holds the URL, token included. Formatters reuse a
            # pre-rendered exc_text, so rendering it here, redacted, is enough.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_RECORD_ATTRS and isinstance(value, str):
                setattr(record, name, redact(value))
        return True
