"""Show a stored Graph request or response to a person without a secret in it.

Delivery stores each attempt's request already redacted (through graph_api.redaction). What a
person or an integration is shown passes through `scrubbed` as well, so a row written by older
code, or a secret Facebook echoed in an answer, can still never reach a screen or an API
response: secret keys lose their values at any depth, and every string is redacted.
"""

from __future__ import annotations

import json
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


# A word every secret key and every match of graph_api.redaction's patterns contains, lowercased:
# the key names, the parameter names, "bearer", our API keys' "pp_", Facebook tokens' "eaa".
_CLUES = (
    "token",
    "secret",
    "proof",
    "code",
    "state",
    "signed_request",
    "authorization",
    "bearer",
    "pp_",
    "eaa",
)


def scrubbed(value: Any) -> Any:
    """A copy of a JSON value with secrets removed (see the module's docstring).

    A stored Conversions API request holds up to 1,000 events: walking it string by string
    was a tenth of a delivery worker's CPU. Written as JSON, a value whose text is ASCII and
    holds none of ``_CLUES`` has nothing to remove (on ASCII, the patterns' case-insensitive
    match is lowercase matching), so its copy is the text read back; any other is walked.
    """
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON (a tuple key, a set): walk it
        return _walked(value)
    if text.isascii():
        lowered = text.lower()
        if not any(clue in lowered for clue in _CLUES):
            return json.loads(text)
    return _walked(value)


def _walked(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if _is_secret(key, item) else _walked(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_walked(item) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value
