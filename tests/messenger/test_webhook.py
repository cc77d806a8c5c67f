"""POST /webhooks/messenger: the signature before anything else, storing, 200 at once; the GET
handshake (reference §6.1-6.3)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from messenger import intake
from messenger.models import WebhookDelivery
from tests.messenger.runtime_support import (
    WEBHOOK_URL,
    InlineWorker,
    encode,
    entry,
    envelope,
    sign,
    text,
)
from tests.sandbox_fixtures import ADA_PAGE as PAGE

pytestmark = pytest.mark.django_db

if TYPE_CHECKING:
    from tests.client_types import TestResponse

BODY = encode(envelope(entry(PAGE, text(PAGE, body="Grüße, 你好 ✓"))))


def _post(client: Client, body: bytes, signature: str | None) -> TestResponse:
    headers: dict[str, Any] = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    return client.post(WEBHOOK_URL, data=body, content_type="application/json", **headers)


def test_a_signed_delivery_is_stored_as_received_and_answered_at_once(
    client: Client, worker: InlineWorker
) -> None:
    response = _post(client, BODY, sign(BODY))

    assert response.status_code == 200
    assert response.content == b"EVENT_RECEIVED"
    delivery = WebhookDelivery.objects.get()
    assert bytes(delivery.body) == BODY
    assert delivery.processed_at is None
    # Stored before the answer, and one drain queued for it (not a task per delivery).
    assert worker.queued == [("flows.tasks.drain_deliveries", (), None)]


@pytest.mark.parametrize(
    ("signature", "why"),
    # Named by why: the signatures differ from run to run (BODY's timestamp), and every
    # pytest-xdist worker must collect the same ids.
    [
        pytest.param(signature, why, id=why)
        for signature, why in [
            (None, "missing"),
            ("", "empty"),
            ("sha256=", "no digest"),
            (sign(BODY, secret="another-secret"), "another key"),
            (sign(BODY).removeprefix("sha256="), "no prefix"),
            ("sha1=" + sign(BODY).removeprefix("sha256="), "another algorithm"),
            (sign(BODY).upper(), "upper case"),
            (sign(BODY + b" "), "another body"),
            (sign(BODY) + "00", "too long"),
        ]
    ],
)
def test_a_missing_or_wrong_signature_is_403_and_writes_nothing(
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    signature: str | None,
    why: str,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(client, BODY, signature)

    assert response.status_code == 403, why
    assert response.json()["error"]["code"] == "bad_signature"
    assert WebhookDelivery.objects.count() == 0
    assert callbacks == []


def test_the_signature_covers_the_raw_bytes_not_a_re_serialization(client: Client) -> None:
    # The same JSON re-serialized with raw UTF-8 is other bytes: its signature does not fit.
    reencoded = json.dumps(json.loads(BODY), separators=(",", ":"), ensure_ascii=False).encode()
    assert reencoded != BODY

    assert _post(client, BODY, sign(reencoded)).status_code == 403
    assert _post(client, BODY, sign(BODY)).status_code == 200


@override_settings(FACEBOOK_APP_SECRET="")
def test_without_an_app_secret_nothing_is_accepted(client: Client) -> None:
    assert _post(client, BODY, "sha256=" + "0" * 64).status_code == 403
    assert not intake.signature_valid(BODY, sign(BODY, secret=""), secret="")


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_change_to_the_body_is_refused(client: Client, position: int, flip: int) -> None:
    body = bytearray(BODY)
    body[position % len(body)] ^= flip

    response = _post(client, bytes(body), sign(BODY))

    assert response.status_code == 403
    assert WebhookDelivery.objects.count() == 0


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.text(max_size=120))
def test_any_other_header_is_refused(client: Client, header: str) -> None:
    if header == sign(BODY):  # pragma: no cover - hypothesis will not find the HMAC
        return
    try:
        response = _post(client, BODY, header)
    except ValueError:  # a header value Django's test client cannot put on the wire
        return

    assert response.status_code == 403
    assert WebhookDelivery.objects.count() == 0


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=7, max_value=70), char=st.sampled_from("0123456789abcdef"))
def test_one_wrong_hex_digit_is_refused(client: Client, position: int, char: str) -> None:
    good = sign(BODY)
    header = good[:position] + char + good[position + 1 :]
    if header == good:
        return

    assert _post(client, BODY, header).status_code == 403
    assert WebhookDelivery.objects.count() == 0


def test_the_handshake_echoes_the_challenge_as_text(client: Client) -> None:
    response = client.get(
        WEBHOOK_URL,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "test-verify-token",
            "hub.challenge": "1158201444",
        },
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    ("params", "configured"),
    [
        (
            {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
            "test-verify-token",
        ),
        (
            {
                "hub.mode": "unsubscribe",
                "hub.verify_token": "test-verify-token",
                "hub.challenge": "1",
            },
            "test-verify-token",
        ),
        ({"hub.verify_token": "test-verify-token", "hub.challenge": "1"}, "test-verify-token"),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, "test-verify-token"),
        ({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, ""),
    ],
)
def test_a_wrong_handshake_is_403(client: Client, params: dict[str, Any], configured: str) -> None:
    with override_settings(MESSENGER_VERIFY_TOKEN=configured):
        response = client.get(WEBHOOK_URL, params)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "verify_token_mismatch"
    assert b"test-verify-token" not in response.content


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405(client: Client, method: str) -> None:
    assert getattr(client, method)(WEBHOOK_URL).status_code == 405
