"""events.scrub: what a person or an integration is shown of a stored request has no secret,
and a request with no clue of one is copied without walking it string by string."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from events import scrub
from events.scrub import SECRET_KEYS, scrubbed
from graph_api import redaction
from graph_api.redaction import QUERY_SECRET_PARAMS, SECRET_PARAMS

TOKEN = "EAAB" + "x7" * 20
API_KEY = "pp_ab12cd34_" + "k" * 24

CAPI: dict[str, Any] = {
    "data": [
        {
            "event_name": "Purchase",
            "event_time": 1764900000 + n,
            "event_id": f"pagepulse-{n}",
            "user_data": {"page_id": 301000000000001, "page_scoped_user_id": 24571937185104},
            "custom_data": {"currency": "EUR", "value": 19.99, "tags": ["a", None, True]},
        }
        for n in range(3)
    ],
    "partner_agent": "pagepulse",
}

BODIES: list[Any] = [
    CAPI,
    {},
    [],
    "plain",
    None,
    12,
    {"access_token": TOKEN, "custom_events": [{"_eventName": "Lead"}]},
    {"Access_Token": "short", "n": 1},
    {"note": f"the token is {TOKEN}"},
    {"note": f"key {API_KEY} here"},
    {"header": "Authorization: Bearer abc.def"},
    {"code": "AQDx-oauth-code", "error": {"code": 190, "message": "Malformed access token"}},
    {"url": "https://x/?state=s3cr3t&code=123456"},
    {"hub.verify_token": "verify-me-please"},
    {"note": "café ☕ access_token=abcdefgh1234"},
    {"note": "café ☕ nothing here"},
    {"page_token": {"nested": ["EAAnot-a-token"]}},
    {"APPSECRET_PROOF": 12345678},
    {"signed_request": "abc.def"},
]


@pytest.mark.parametrize("body", BODIES)
def test_the_quick_copy_is_what_the_walk_gives(body: Any) -> None:
    assert scrubbed(body) == scrub._walked(body)
    assert TOKEN not in repr(scrubbed(body))
    assert API_KEY not in repr(scrubbed(body))


def test_a_copy_shares_nothing_with_the_original() -> None:
    copy = scrubbed(CAPI)
    copy["data"][0]["custom_data"]["value"] = 0
    assert CAPI["data"][0]["custom_data"]["value"] == 19.99


def test_a_body_without_a_clue_is_not_walked_and_one_with_a_clue_is() -> None:
    with mock.patch("events.scrub.redact", wraps=redaction.redact) as redact:
        scrubbed(CAPI)
        assert redact.call_count == 0
        scrubbed({**CAPI, "note": "Bearer xyz"})
        assert redact.call_count > 0


def test_every_secret_name_holds_a_clue() -> None:
    for name in (*SECRET_KEYS, *SECRET_PARAMS, *QUERY_SECRET_PARAMS, "code"):
        assert any(clue in name.lower() for clue in scrub._CLUES), name
