"""The sandbox as Facebook's webhook sender: signed deliveries (reference §6.2-§6.4), retries,
the GET handshake (§6.1), and the 24-hour window they open for the Send API (§6.6).

A tiny `http.server` on a free loopback port plays the app's `POST /webhooks/messenger`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from graph_api.sandbox.seed import psid_for
from tests.sandbox_fixtures import (
    ADA,
    ADA_PAGE,
    ADA_PAGE_2,
    APP_SECRET,
    GraphSandbox,
    SandboxProcess,
)
from tests.webhook_receiver import DEADLINE_SECONDS, VERIFY_TOKEN, WebhookReceiver

PSID = "6100000000000042"
REFERRAL = {"ref": "spring-sale", "source": "SHORTLINK", "type": "OPEN_THREAD"}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture
def webhook_sandbox(graph_sandbox: GraphSandbox, receiver: WebhookReceiver) -> GraphSandbox:
    """The sandbox delivering to the receiver, with a short back-off (reset restores it)."""
    graph_sandbox.webhook_config(url=receiver.url, verify_token=VERIFY_TOKEN, backoff_ms=5)
    return graph_sandbox


def expected_signature(raw: bytes) -> str:
    return hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


def control(
    webhook_sandbox: GraphSandbox, method: str, path: str, **kwargs: Any
) -> requests.Response:
    return webhook_sandbox.http.request(
        method, f"{webhook_sandbox.url}/_sandbox{path}", timeout=10, **kwargs
    )


# --- The envelope and its signature -------------------------------------------------------------


def test_text_message_is_the_exact_envelope_signed_over_the_raw_bytes(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    before = now_ms()
    delivery = webhook_sandbox.send_webhook(
        page_id=ADA_PAGE, psid=PSID, text="hello, world!", mid="m_1", timestamp=1458692752478
    )
    after = now_ms()

    [post] = receiver.of("POST")
    entry_time = post.json["entry"][0]["time"]
    assert before <= entry_time <= after
    assert post.json == {
        "object": "page",
        "entry": [
            {
                "id": ADA_PAGE,
                "time": entry_time,
                "messaging": [
                    {
                        "sender": {"id": PSID},
                        "recipient": {"id": ADA_PAGE},
                        "timestamp": 1458692752478,
                        "message": {"mid": "m_1", "text": "hello, world!"},
                    }
                ],
            }
        ],
    }
    # Facebook's key order, compact separators.
    assert post.raw.startswith(b'{"object":"page","entry":[{"id":"300000000000001","time":')
    assert post.path == "/webhooks/messenger"
    assert post.headers["Content-Type"] == "application/json"
    header = post.headers["X-Hub-Signature-256"]
    assert header == f"sha256={expected_signature(post.raw)}"
    assert hmac.compare_digest(header.removeprefix("sha256="), expected_signature(post.raw))

    assert delivery["body"] == post.json
    assert delivery["signature"] == "valid"
    assert delivery["headers"]["X-Hub-Signature-256"] == header
    assert [(a["attempt"], a["status"], a["answer"]) for a in delivery["attempts"]] == [
        (1, 200, "EVENT_RECEIVED")
    ]
    assert (delivery["status"], delivery["ok"], delivery["done"]) == (200, True, True)
    assert (delivery["page_id"], delivery["psid"], delivery["kind"]) == (ADA_PAGE, PSID, "text")
    assert APP_SECRET not in json.dumps(delivery)


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        (
            {"quick_reply": {"text": "Opening hours", "payload": "HOURS"}},
            {
                "message": {
                    "mid": "m_1",
                    "text": "Opening hours",
                    "quick_reply": {"payload": "HOURS"},
                }
            },
        ),
        (
            {"postback": {"title": "Get Started", "payload": "GET_STARTED"}},
            {"postback": {"mid": "m_1", "title": "Get Started", "payload": "GET_STARTED"}},
        ),
        (
            {
                "postback": {
                    "title": "Get Started",
                    "payload": "GET_STARTED",
                    "referral": REFERRAL,
                }
            },
            {
                "postback": {
                    "mid": "m_1",
                    "title": "Get Started",
                    "payload": "GET_STARTED",
                    "referral": REFERRAL,
                }
            },
        ),
    ],
    ids=["quick_reply", "postback", "postback_with_referral"],
)
def test_quick_replies_and_postbacks_have_their_reference_shapes(
    webhook_sandbox: GraphSandbox,
    receiver: WebhookReceiver,
    what: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, mid="m_1", timestamp=1000, **what)

    [item] = receiver.of("POST")[0].json["entry"][0]["messaging"]
    assert item == {"sender": {"id": PSID}, "recipient": {"id": ADA_PAGE}, "timestamp": 1000} | (
        expected
    )


@pytest.mark.parametrize(
    ("referral", "expected"),
    [
        (
            {"ref": "spring-sale", "source": "SHORTLINK", "type": "OPEN_THREAD"},
            {"ref": "spring-sale", "source": "SHORTLINK", "type": "OPEN_THREAD"},
        ),
        (
            {"ref": "ad_7=x", "source": "ADS", "ad_id": "6000000000001"},
            {"ref": "ad_7=x", "ad_id": "6000000000001", "source": "ADS", "type": "OPEN_THREAD"},
        ),
        (  # a click-to-Messenger ad: no ref needed, the ad's context in the reference's order
            {
                "source": "ADS",
                "ad_id": "6000000000001",
                "ads_context_data": {"photo_url": "https://example.com/p.jpg", "ad_title": "Sale"},
            },
            {
                "ad_id": "6000000000001",
                "source": "ADS",
                "type": "OPEN_THREAD",
                "ads_context_data": {"ad_title": "Sale", "photo_url": "https://example.com/p.jpg"},
            },
        ),
    ],
)
def test_referral_has_no_mid(
    webhook_sandbox: GraphSandbox,
    receiver: WebhookReceiver,
    referral: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, timestamp=1000, referral=referral)

    [item] = receiver.of("POST")[0].json["entry"][0]["messaging"]
    assert item == {
        "sender": {"id": PSID},
        "recipient": {"id": ADA_PAGE},
        "timestamp": 1000,
        "referral": expected,
    }
    assert list(item["referral"]) == list(expected)


def test_a_first_message_from_an_ad_carries_the_referral_on_the_message(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    webhook_sandbox.send_webhook(
        page_id=ADA_PAGE,
        psid=PSID,
        mid="m_1",
        timestamp=1000,
        text="Still available?",
        message_referral={
            "source": "ADS",
            "ad_id": "6000000000001",
            "ads_context_data": {"ad_title": "Sale"},
        },
    )

    [item] = receiver.of("POST")[0].json["entry"][0]["messaging"]
    assert item["message"] == {
        "mid": "m_1",
        "text": "Still available?",
        "referral": {
            "ad_id": "6000000000001",
            "source": "ADS",
            "type": "OPEN_THREAD",
            "ads_context_data": {"ad_title": "Sale"},
        },
    }
    conversation = control(
        webhook_sandbox, "GET", "/webhook/conversation", params={"page_id": ADA_PAGE, "psid": PSID}
    ).json()["items"]
    assert (conversation[0]["kind"], conversation[0]["payload"]) == (
        "text from an ad",
        "6000000000001",
    )


def test_non_ascii_text_is_escaped_and_the_signature_covers_those_bytes(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="café ☕")

    [post] = receiver.of("POST")
    assert b'"text":"caf\\u00e9 \\u2615"' in post.raw
    assert post.json["entry"][0]["messaging"][0]["message"]["text"] == "café ☕"
    assert post.headers["X-Hub-Signature-256"] == f"sha256={expected_signature(post.raw)}"
    reserialized = json.dumps(post.json, ensure_ascii=False, separators=(",", ":")).encode()
    assert expected_signature(reserialized) != expected_signature(post.raw)


def test_wrong_signature_is_well_formed_but_does_not_verify(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    delivery = webhook_sandbox.send_webhook(
        page_id=ADA_PAGE, psid=PSID, text="hi", signature="wrong"
    )

    [post] = receiver.of("POST")
    header = post.headers["X-Hub-Signature-256"]
    assert header.startswith("sha256=")
    assert len(header.removeprefix("sha256=")) == 64
    assert header != f"sha256={expected_signature(post.raw)}"
    assert delivery["signature"] == "wrong"


def test_no_signature_leaves_the_header_out(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    delivery = webhook_sandbox.send_webhook(
        page_id=ADA_PAGE, psid=PSID, text="hi", signature="none"
    )

    [post] = receiver.of("POST")
    assert "X-Hub-Signature-256" not in post.headers
    assert "X-Hub-Signature-256" not in delivery["headers"]
    assert delivery["signature"] == "none"


def test_an_app_answering_403_to_a_bad_signature_is_recorded_and_retried(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    receiver.answers.extend([403, 403, 403])

    delivery = webhook_sandbox.send_webhook(
        page_id=ADA_PAGE, psid=PSID, text="hi", signature="wrong"
    )

    assert [a["status"] for a in delivery["attempts"]] == [403, 403, 403]
    assert (delivery["status"], delivery["ok"]) == (403, False)


# --- Batches ----------------------------------------------------------------------------------------


def test_batches_of_entries_and_messages_come_in_order_with_their_own_mids(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    webhook_sandbox.send_webhook(
        page_id=ADA_PAGE, psid=PSID, text="hi", count=3, entries=2, timestamp=10
    )

    [post] = receiver.of("POST")
    entries = post.json["entry"]
    assert [(e["id"], len(e["messaging"])) for e in entries] == [(ADA_PAGE, 3), (ADA_PAGE, 3)]
    items = [item for e in entries for item in e["messaging"]]
    assert [item["timestamp"] for item in items] == [10, 11, 12, 13, 14, 15]
    mids = [item["message"]["mid"] for item in items]
    assert len(set(mids)) == 6
    assert all(mid.startswith("m_") for mid in mids)
    assert {item["message"]["text"] for item in items} == {"hi"}


# --- Retries and re-sends ---------------------------------------------------------------------------


def test_a_500_is_retried_twice_by_default_with_the_same_bytes(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    receiver.answers.extend([500, 500, 500])

    delivery = webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hi")

    posts = receiver.of("POST")
    assert len(posts) == 3
    assert {p.raw for p in posts} == {posts[0].raw}
    assert {p.headers["X-Hub-Signature-256"] for p in posts} == {
        f"sha256={expected_signature(posts[0].raw)}"
    }
    assert [(a["attempt"], a["status"], a["answer"]) for a in delivery["attempts"]] == [
        (1, 500, "boom"),
        (2, 500, "boom"),
        (3, 500, "boom"),
    ]
    assert (delivery["status"], delivery["ok"]) == (500, False)
    [listed] = webhook_sandbox.webhook_deliveries()
    assert listed == delivery


@pytest.mark.parametrize(
    ("answers", "options", "statuses"),
    [
        ([500, 200], {}, [500, 200]),
        ([503, 502, 200], {}, [503, 502, 200]),
        ([500], {"retries": 0}, [500]),
        ([500, 500, 500, 200], {"retries": 3}, [500, 500, 500, 200]),
        ([202, 200], {}, [202, 200]),  # only 200 acknowledges
    ],
)
def test_retries_stop_at_the_first_200_or_when_used_up(
    webhook_sandbox: GraphSandbox,
    receiver: WebhookReceiver,
    answers: list[int],
    options: dict[str, Any],
    statuses: list[int],
) -> None:
    receiver.answers.extend(answers)

    delivery = webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hi", **options)

    assert [a["status"] for a in delivery["attempts"]] == statuses
    assert len(receiver.of("POST")) == len(statuses)
    assert delivery["ok"] is (statuses[-1] == 200)


def test_the_configured_retry_count_applies(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    webhook_sandbox.webhook_config(retries=1)
    receiver.answers.extend([500, 500, 500])

    delivery = webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hi")

    assert [a["status"] for a in delivery["attempts"]] == [500, 500]


def test_an_unreachable_app_is_recorded_as_errors(graph_sandbox: GraphSandbox) -> None:
    closed = WebhookReceiver()
    closed.stop()  # nothing listens on its port any more
    graph_sandbox.webhook_config(url=closed.url, retries=1, backoff_ms=1)

    delivery = graph_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hi")

    assert [(a["status"], a["error"].split(":")[0]) for a in delivery["attempts"]] == [
        (None, "ClientConnectorError"),
        (None, "ClientConnectorError"),
    ]
    assert (delivery["status"], delivery["ok"]) == (None, False)


def test_resend_posts_the_same_delivery_again(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    first = webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hi", mid="m_same")

    again = webhook_sandbox.resend_webhook(first["id"])

    one, two = receiver.of("POST")
    assert one.raw == two.raw
    assert one.headers["X-Hub-Signature-256"] == two.headers["X-Hub-Signature-256"]
    assert two.json["entry"][0]["messaging"][0]["message"]["mid"] == "m_same"
    assert (again["id"], again["resent_from"], again["body"]) == (2, 1, first["body"])
    assert [d["resent_from"] for d in webhook_sandbox.webhook_deliveries()] == [None, 1]


# --- The 24-hour window -----------------------------------------------------------------------------


def test_a_delivery_opens_the_send_api_window_for_that_page_and_psid(
    webhook_sandbox: GraphSandbox,
) -> None:
    token = webhook_sandbox.page_token(ADA, ADA_PAGE)
    reply = {"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "hey"}}
    before = webhook_sandbox.post("/me/messages", token, json=reply)
    assert before.status_code == 400
    assert (before.json()["error"]["code"], before.json()["error"]["error_subcode"]) == (
        100,
        2018001,
    )

    webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hello")
    after = webhook_sandbox.post("/me/messages", token, json=reply)

    assert after.status_code == 200, after.text
    [sent] = webhook_sandbox.sent_messages(psid=PSID)
    assert sent | {"time": "t", "at": 0} == {
        "id": 1,
        "page_id": ADA_PAGE,
        "psid": PSID,
        "messaging_type": "RESPONSE",
        "tag": None,
        "sender_action": None,
        "message": {"text": "hey"},
        "message_id": after.json()["message_id"],
        "time": "t",
        "at": 0,
    }
    # Only that Page's window opened.
    other = webhook_sandbox.post(
        "/me/messages", webhook_sandbox.page_token(ADA, ADA_PAGE_2), json=reply
    )
    assert other.json()["error"]["error_subcode"] == 2018001


def test_an_old_timestamp_leaves_the_window_closed(webhook_sandbox: GraphSandbox) -> None:
    token = webhook_sandbox.page_token(ADA, ADA_PAGE)
    webhook_sandbox.send_webhook(
        page_id=ADA_PAGE, psid=PSID, text="hello", timestamp=now_ms() - 25 * 3600 * 1000
    )

    late = webhook_sandbox.post(
        "/me/messages",
        token,
        json={"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "x"}},
    )

    assert late.json()["error"]["error_subcode"] == 2018278


def test_the_conversation_interleaves_both_sides_in_time_order(
    webhook_sandbox: GraphSandbox,
) -> None:
    token = webhook_sandbox.page_token(ADA, ADA_PAGE)
    webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hello")
    quick = [{"content_type": "text", "title": "Hours", "payload": "HOURS"}]
    webhook_sandbox.post(
        "/me/messages",
        token,
        json={
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "Hi!", "quick_replies": quick},
        },
    )
    webhook_sandbox.send_webhook(
        page_id=ADA_PAGE, psid=PSID, quick_reply={"text": "Hours", "payload": "HOURS"}
    )

    response = control(
        webhook_sandbox, "GET", "/webhook/conversation", params={"page_id": ADA_PAGE, "psid": PSID}
    )

    items = [
        {k: v for k, v in item.items() if k in ("from", "kind", "text", "payload", "quick_replies")}
        for item in response.json()["items"]
    ]
    assert items == [
        {"from": "user", "kind": "text", "text": "hello", "payload": None},
        {"from": "bot", "kind": "message", "text": "Hi!", "quick_replies": quick},
        {"from": "user", "kind": "quick_reply", "text": "Hours", "payload": "HOURS"},
    ]


# --- PSIDs ----------------------------------------------------------------------------------------


def test_a_seed_user_has_a_stable_psid_per_page(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    delivery = webhook_sandbox.send_webhook(page_id=ADA_PAGE, user_id=ADA, text="hi")

    psid = delivery["psid"]
    assert psid == psid_for(ADA, ADA_PAGE)
    assert len(psid) == 16
    assert psid.startswith("61")
    assert psid.isdigit()
    assert psid_for(ADA, ADA_PAGE_2) != psid
    assert receiver.of("POST")[0].json["entry"][0]["messaging"][0]["sender"] == {"id": psid}


# --- Refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"psid": PSID, "text": "hi"}, "page_id '' is not a seed Page"),
        ({"page_id": "999", "psid": PSID, "text": "hi"}, "page_id '999' is not a seed Page"),
        ({"page_id": ADA_PAGE, "text": "hi"}, "give a psid, or the user_id of a seed user"),
        ({"page_id": ADA_PAGE, "psid": "abc", "text": "hi"}, "psid must be numeric"),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "referral": {"source": "ADS"}},
            "referral.ad_id is required with source ADS (the ad's id)",
        ),
        (
            {
                "page_id": ADA_PAGE,
                "psid": PSID,
                "text": "hi",
                "message_referral": {"source": "ADS", "ad_id": "ad-1"},
            },
            "message_referral.ad_id must be the ad's numeric id",
        ),
        (
            {
                "page_id": ADA_PAGE,
                "psid": PSID,
                "referral": {"source": "ADS", "ad_id": "1", "ads_context_data": {"title": "x"}},
            },
            "referral.ads_context_data has unknown fields title: use ad_title, photo_url, "
            "video_url, post_id, product_id, flow_id",
        ),
        (
            {
                "page_id": ADA_PAGE,
                "psid": PSID,
                "referral": {"ref": "a", "ads_context_data": {"ad_title": "x"}},
            },
            "referral.ads_context_data comes only with source ADS",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID},
            "give exactly one of text, quick_reply, postback, referral",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "text": "a", "postback": {}},
            "give exactly one of text, quick_reply, postback, referral",
        ),
        ({"page_id": ADA_PAGE, "psid": PSID, "text": ""}, "text must be a non-empty string"),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "quick_reply": {"text": "a"}},
            "quick_reply.payload must be a non-empty string",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "postback": "x"},
            "postback must be an object",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "referral": {"ref": "a b"}},
            "referral.ref allows only alphanumerics, '-', '_' and '='",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "referral": {"ref": "a", "source": "TV"}},
            "referral.source must be one of ADS, SHORTLINK, CUSTOMER_CHAT_PLUGIN",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "text": "a", "count": 0},
            "count must be an integer from 1 to 1000",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "text": "a", "count": 100, "entries": 11},
            "count x entries is at most 1000 updates",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "text": "a", "count": 2, "mid": "m_1"},
            "mid names one message or postback; leave it out for batches",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "text": "a", "signature": "bad"},
            "signature must be one of valid, wrong, none",
        ),
        (
            {"page_id": ADA_PAGE, "psid": PSID, "text": "a", "retries": 11},
            "retries must be an integer from 0 to 10",
        ),
    ],
)
def test_bad_send_bodies_are_refused_and_nothing_is_sent(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver, body: dict[str, Any], error: str
) -> None:
    response = control(webhook_sandbox, "POST", "/webhook/send", json=body)

    assert (response.status_code, response.json()) == (400, {"error": error})
    assert receiver.received == []
    assert webhook_sandbox.webhook_deliveries() == []


def test_send_without_a_webhook_url_is_refused(graph_sandbox: GraphSandbox) -> None:
    response = control(
        graph_sandbox,
        "POST",
        "/webhook/send",
        json={"page_id": ADA_PAGE, "psid": PSID, "text": "x"},
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("no webhook URL")


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"url": "ftp://x"}, "url must be an absolute http(s) URL, or null"),
        ({"url": "/webhooks"}, "url must be an absolute http(s) URL, or null"),
        ({"verify_token": ""}, "verify_token must be a non-empty string, or null"),
        ({"retries": -1}, "retries must be an integer from 0 to 10"),
        ({"backoff_ms": "5"}, "backoff_ms must be an integer from 0 to 60000"),
    ],
)
def test_bad_webhook_settings_are_refused(
    graph_sandbox: GraphSandbox, settings: dict[str, Any], error: str
) -> None:
    response = control(graph_sandbox, "POST", "/webhook/config", json=settings)

    assert (response.status_code, response.json()) == (400, {"error": error})


# --- The handshake --------------------------------------------------------------------------------


def test_verify_runs_the_hub_challenge_handshake(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    record = webhook_sandbox.verify_webhook()

    [get] = receiver.of("GET")
    assert get.path == "/webhooks/messenger"
    challenge = get.query["hub.challenge"][0]
    assert challenge.isdigit()
    assert get.query == {
        "hub.mode": ["subscribe"],
        "hub.challenge": [challenge],
        "hub.verify_token": [VERIFY_TOKEN],
    }
    assert {k: record[k] for k in ("trigger", "url", "challenge", "status", "answer", "ok")} == {
        "trigger": "control",
        "url": receiver.url,
        "challenge": challenge,
        "status": 200,
        "answer": challenge,
        "ok": True,
    }
    config = control(webhook_sandbox, "GET", "/webhook/config")
    assert VERIFY_TOKEN not in config.text
    assert config.json()["verify_token_set"] is True
    assert config.json()["verifications"] == [record]


def test_verify_reports_an_app_that_refuses_the_token(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    webhook_sandbox.webhook_config(verify_token="not-what-the-app-expects")

    record = webhook_sandbox.verify_webhook()

    assert (record["status"], record["answer"], record["ok"]) == (403, "forbidden", False)


def test_verify_needs_a_url_and_a_token(graph_sandbox: GraphSandbox) -> None:
    graph_sandbox.webhook_config(url="http://127.0.0.1:9/webhooks/messenger")

    response = control(graph_sandbox, "POST", "/webhook/verify")

    assert response.status_code == 400
    assert response.json()["error"].startswith("set a webhook url and verify_token first")


def test_subscribing_the_app_to_a_page_runs_the_handshake_once(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    token = webhook_sandbox.page_token(ADA, ADA_PAGE)
    path = f"/{ADA_PAGE}/subscribed_apps"

    response = webhook_sandbox.post(path, token, params={"subscribed_fields": "messages"})

    assert response.json() == {"success": True}
    [get] = receiver.wait_for("GET", 1)
    assert get.query["hub.verify_token"] == [VERIFY_TOKEN]
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (verifications := webhook_sandbox.webhook_config()["verifications"]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert [(v["trigger"], v["ok"]) for v in verifications] == [
        (f"subscribed_apps {ADA_PAGE}", True)
    ]
    # Verified once for this URL: a second subscription (and a delivery after it) does not repeat it.
    webhook_sandbox.post(path, token, params={"subscribed_fields": "messages,messaging_postbacks"})
    delivery = webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hi")
    assert len(receiver.of("GET")) == 1
    assert delivery["subscribed"] is True


def test_a_page_without_a_subscription_is_delivered_and_says_so(
    webhook_sandbox: GraphSandbox,
) -> None:
    assert (
        webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hi")["subscribed"] is False
    )


# --- Inspection, reset and flags -----------------------------------------------------------------


def test_deliveries_filter_and_clear(webhook_sandbox: GraphSandbox) -> None:
    webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="one")
    webhook_sandbox.send_webhook(page_id=ADA_PAGE_2, psid=PSID, text="two")
    webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid="61", text="three")

    assert [d["id"] for d in webhook_sandbox.webhook_deliveries(page_id=ADA_PAGE)] == [1, 3]
    assert [d["id"] for d in webhook_sandbox.webhook_deliveries(psid=PSID)] == [1, 2]
    assert [d["id"] for d in webhook_sandbox.webhook_deliveries(since=2)] == [3]
    assert control(webhook_sandbox, "DELETE", "/webhook/deliveries").json() == {"removed": 3}
    assert webhook_sandbox.webhook_deliveries() == []


def test_reset_forgets_deliveries_and_restores_the_start_up_settings(
    webhook_sandbox: GraphSandbox, receiver: WebhookReceiver
) -> None:
    webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="one")
    webhook_sandbox.verify_webhook()

    webhook_sandbox.reset()

    assert webhook_sandbox.webhook_deliveries() == []
    assert webhook_sandbox.webhook_config() == {
        "url": None,
        "verify_token_set": False,
        "retries": 2,
        "backoff_ms": 200,
        "verifications": [],
    }


def test_command_line_flags_configure_the_webhook(receiver: WebhookReceiver) -> None:
    process = SandboxProcess(
        "--webhook-url",
        receiver.url,
        "--webhook-verify-token",
        VERIFY_TOKEN,
        "--webhook-retries",
        "0",
        "--webhook-backoff-ms",
        "7",
    )
    webhook_sandbox = GraphSandbox(process)
    try:
        webhook_sandbox.webhook_config(url=None)
        webhook_sandbox.reset()  # back to the flags' settings
        assert webhook_sandbox.webhook_config() == {
            "url": receiver.url,
            "verify_token_set": True,
            "retries": 0,
            "backoff_ms": 7,
            "verifications": [],
        }
        receiver.answers.append(500)
        delivery = webhook_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, text="hi")
        assert [a["status"] for a in delivery["attempts"]] == [500]
        assert webhook_sandbox.verify_webhook()["ok"] is True
    finally:
        webhook_sandbox.close()
        process.stop()


# --- The form --------------------------------------------------------------------------------------


def test_the_form_page_renders_for_a_user_and_page(webhook_sandbox: GraphSandbox) -> None:
    response = control(
        webhook_sandbox, "GET", "/webhook", params={"user_id": ADA, "page_id": ADA_PAGE_2}
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    text = response.text
    assert f'{{"page_id": "{ADA_PAGE_2}", "psid": "{psid_for(ADA, ADA_PAGE_2)}"}}' in text
    assert (
        f"<option value={ADA_PAGE_2} selected>Ada&#x27;s Bike Shop ({ADA_PAGE_2})</option>" in text
    )
    assert "<option value=200000000000001 selected>Ada Sandbox</option>" in text
    assert webhook_sandbox.webhook_config()["url"] in text
    # Self-contained: no script, style or font from anywhere else.
    assert "<script src" not in text
    assert "<link" not in text
    assert APP_SECRET not in text
    assert VERIFY_TOKEN not in text


def test_the_form_falls_back_to_the_first_user_and_their_first_page(
    graph_sandbox: GraphSandbox,
) -> None:
    response = control(graph_sandbox, "GET", "/webhook", params={"user_id": "nobody"})

    assert f'"psid": "{psid_for(ADA, ADA_PAGE)}"' in response.text
    assert "not set: start with --webhook-url" in response.text
