"""Our Graph client's settings in unit tests that stub Facebook at the edge with `responses`:
a stand-in host, never Facebook's, so nothing unanswered can reach the internet. The
`graph_client` fixture (tests/conftest.py) is a client for it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests import PreparedRequest

BASE = "https://graph.test"
APP_ID = "100000000000001"
APP_SECRET = "test-app-secret-do-not-use"
VERSION = "v25.0"
PAGE_ACTIVITIES_VERSION = "v20.0"


def sent_json(request: PreparedRequest) -> Any:
    """The JSON body of a request our client sent (as `responses` recorded it)."""
    assert request.body is not None, "the request has no body"
    return json.loads(request.body)


def sent_query(request: PreparedRequest) -> dict[str, str]:
    """The query string of a request our client sent, as a dict."""
    return dict(parse_qsl(urlsplit(request.url or "").query, keep_blank_values=True))


def sent_form(request: PreparedRequest) -> dict[str, str]:
    """The form-encoded body of a request our client sent, as a dict."""
    body = request.body or ""
    return dict(parse_qsl(body.decode() if isinstance(body, bytes) else body))
