"""Secrets never survive `redact`, `redact_mapping` or the `RedactingFilter`."""

import logging
import sys
from typing import Any

import pytest

from graph_api.redaction import REDACTED, RedactingFilter, redact, redact_mapping


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "/v25.0/me?fields=id&access_token=abc.DEF-123",
            "/v25.0/me?fields=id&access_token=[redacted]",
        ),
        ("appsecret_proof=0a1b2c&x=1", "appsecret_proof=[redacted]&x=1"),
        ('{"access_token": "tok", "id": "1"}', '{"access_token": "[redacted]", "id": "1"}'),
        (
            "input_token=t1&fb_exchange_token=t2",
            "input_token=[redacted]&fb_exchange_token=[redacted]",
        ),
        ("client_secret=s3cr3t", "client_secret=[redacted]"),
        ("access_token=111%7Capp-secret", "access_token=[redacted]"),  # the app token, encoded
        # OAuth's `state` is a secret in a query string too (it ties a login to one browser).
        ("code=AQBxyz-oauth-code&state=1", "code=[redacted]&state=[redacted]"),
        (
            "Authorization: Bearer pp_abcdefgh_0123456789abcdefghij",
            "Authorization: Bearer [redacted]",
        ),
        ("key pp_abcdefgh_0123456789abcdefghijKL", "key [redacted]"),
        (
            "Malformed access token EAAGm0PX4ZCpsBAK0123456789xyz",
            "Malformed access token [redacted]",
        ),
    ],
)
def test_secrets_are_found_by_where_they_sit_or_their_shape(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_numeric_code_is_a_graph_error_code_not_a_secret() -> None:
    assert (
        redact("GraphError(code=190, error_subcode=460)")
        == "GraphError(code=190, error_subcode=460)"
    )


def test_known_values_are_removed_wherever_they_appear() -> None:
    secret = "app|secret value/+"

    text = redact(
        f"raw {secret}, quoted app%7Csecret%20value%2F%2B, plus-quoted app%7Csecret+value%2F%2B",
        secrets=[secret, ""],
    )

    assert text == f"raw {REDACTED}, quoted {REDACTED}, plus-quoted {REDACTED}"


def test_the_longest_secret_goes_first() -> None:
    # The app token "{app_id}|{secret}" contains the secret; it must vanish whole.
    secret = "app-secret-1"
    text = redact(f"111|{secret} and {secret}", secrets=[secret, f"111|{secret}"])

    assert text == f"{REDACTED} and {REDACTED}"


def test_short_known_values_are_not_treated_as_secrets() -> None:
    assert redact("a code of c", secrets=["c", "code"]) == "a code of c"


def test_redact_mapping_replaces_secret_keys_only() -> None:
    assert redact_mapping({"access_token": "t", "Code": "c", "page_id": "1"}) == {
        "access_token": REDACTED,
        "Code": REDACTED,
        "page_id": "1",
    }


def make_record(msg: str, args: tuple[Any, ...] = (), **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("graph_api", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_the_filter_redacts_the_formatted_message() -> None:
    record = make_record("calling %s", ("/me?access_token=tok-1",))

    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "calling /me?access_token=[redacted]"


def test_the_filter_redacts_string_extras() -> None:
    record = make_record("graph_api.call", url="/me?access_token=tok-1", status=200)

    RedactingFilter().filter(record)

    assert vars(record)["url"] == "/me?access_token=[redacted]"
    assert vars(record)["status"] == 200


def test_the_filter_redacts_a_traceback() -> None:
    try:
        raise ValueError("boom at /me?access_token=tok-in-traceback")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    RedactingFilter().filter(record)
    rendered = logging.Formatter().format(record)

    assert "tok-in-traceback" not in rendered
    assert "access_token=[redacted]" in rendered
