"""Show a stored Graph request or response to a person without a secret in it.

Delivery stores each attempt's request already redacted (through graph_api.redaction). What a
person or an integration is shown passes through `scrubbed` as well, so a row written by older
code, or a secret Facebook echoed in an answer, can still never reach a screen or an API
response: secret keys lose their values at any depth, and every string is redacted.
"""

from __future__ import annotations

from typing import Any

from graph_api.redaction import REDACTED, SECRET_PARAMS, redact

# "code" is an OAuth code in a login request but a Graph error code in an answer: only a
# non-numeric string under it is taken for a secret.
SECRET_KEYS = frozenset({*SECRET_PARAMS, "authorization", "token", "page_token"}) - {"code"}


def _is_secret(key: object, value: Any) -> bool:
    name = str(key).lower()
    if name == "code":
        return isinstance(value, str) and not value.isdigit()
    return name in SECRET_KEYS


def scrubbed(value: Any) -> Any:
    """A copy of a JSON value with secrets removed (see the module's docstring)."""
    if isinstance(value, dict):
        return {
            key: REDACTED if _is_secret(key, item) else scrubbed(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrubbed(item) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value
