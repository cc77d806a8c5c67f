"""Remove secrets from text before it reaches a log line, an exception message or a stored request.

Everything that can carry a Graph token, the app secret, an appsecret_proof or one of our API
keys passes through `redact`: query strings, form bodies, JSON bodies and free text.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

SECRET_PARAMS = (
    "access_token",
    "input_token",
    "fb_exchange_token",
    "client_secret",
    "appsecret_proof",
    "code",
)

_PARAM_RE = re.compile(
    r"""(?P<key>["']?\b(?:%s)\b["']?\s*[=:]\s*["']?)(?P<value>[^&"'\s,}]+)""" % "|".join(SECRET_PARAMS),
    re.IGNORECASE,
)
_BEARER_RE = re.compile(r"(?P<key>Bearer\s+)(?P<value>[A-Za-z0-9._~+/=-]+)", re.IGNORECASE)
_API_KEY_RE = re.compile(r"\bpp_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    """Return `text` with every secret value replaced by "[redacted]"."""
    text = _PARAM_RE.sub(lambda m: m.group("key") + REDACTED, text)
    text = _BEARER_RE.sub(lambda m: m.group("key") + REDACTED, text)
    return _API_KEY_RE.sub(REDACTED, text)


def redact_mapping(values: dict[str, Any]) -> dict[str, Any]:
    """A copy of a parameter mapping with the values of secret keys replaced."""
    return {
        key: REDACTED if key.lower() in SECRET_PARAMS else value for key, value in values.items()
    }


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message, so no handler ever sees a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
