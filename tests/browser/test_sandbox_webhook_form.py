"""The sandbox's webhook form in a real browser: a person types to a Page, presses the bot's quick
reply and its postback button, and sees the bot's answers, which a tiny bot (the test's webhook
receiver) sends back through the sandbox's Send API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from graph_api.sandbox.seed import psid_for
from tests.browser.helpers import TIMEOUT_MS
from tests.sandbox_fixtures import ADA, ADA_PAGE, GraphSandbox
from tests.webhook_receiver import VERIFY_TOKEN, Received, WebhookReceiver

PSID = psid_for(ADA, ADA_PAGE)
HOURS = {"content_type": "text", "title": "Opening hours", "payload": "HOURS"}
MENU = {"content_type": "text", "title": "Menu", "payload": "MENU"}
TABLE = {
    "attachment": {
        "type": "template",
        "payload": {
            "template_type": "button",
            "text": "We open at 8 every day. Want a table?",
            "buttons": [{"type": "postback", "title": "Book a table", "payload": "BOOK"}],
        },
    }
}


def bot_reply(item: dict[str, Any]) -> dict[str, Any]:
    """What the little bakery bot answers to one messaging item."""
    if item.get("postback", {}).get("payload") == "BOOK":
        return {"text": "Booked: see you at 8!"}
    if item.get("message", {}).get("quick_reply", {}).get("payload") == "HOURS":
        return TABLE
    return {"text": "Hi! What would you like?", "quick_replies": [HOURS, MENU]}


@pytest.fixture
def bot(graph_sandbox: GraphSandbox) -> Iterator[WebhookReceiver]:
    token = graph_sandbox.page_token(ADA, ADA_PAGE)
    receiver = WebhookReceiver()

    def answer(received: Received) -> None:
        for entry in received.json["entry"]:
            for item in entry["messaging"]:
                message = {
                    "recipient": {"id": item["sender"]["id"]},
                    "messaging_type": "RESPONSE",
                    "message": bot_reply(item),
                }
                response = graph_sandbox.post("/me/messages", token, json=message)
                assert response.status_code == 200, response.text

    receiver.on_post = answer
    graph_sandbox.webhook_config(url=receiver.url, verify_token=VERIFY_TOKEN)
    yield receiver
    receiver.stop()


@pytest.fixture
def chat(browser: Browser, graph_sandbox: GraphSandbox) -> Iterator[Page]:
    context = browser.new_context(
        base_url=graph_sandbox.url, viewport={"width": 1100, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def test_chat_with_a_bot_through_signed_webhooks(
    chat: Page, graph_sandbox: GraphSandbox, bot: WebhookReceiver, screenshot_dir: Path
) -> None:
    chat.goto(f"/_sandbox/webhook?user_id={ADA}&page_id={ADA_PAGE}")
    expect(chat.get_by_role("heading", name="Message a Page as a Messenger user")).to_be_visible()
    expect(chat.locator("#psid")).to_have_text(PSID)

    chat.get_by_placeholder("Type a message").fill("hello")
    chat.get_by_role("button", name="Send", exact=True).click()
    expect(chat.locator(".msg.bot")).to_have_text(["Hi! What would you like?"])
    expect(chat.get_by_text("delivery #1 → 200")).to_be_visible()

    chat.get_by_role("button", name="Opening hours").click()
    expect(chat.locator(".msg.bot").nth(1)).to_have_text("We open at 8 every day. Want a table?")
    chat.get_by_role("button", name="Book a table").click()
    expect(chat.locator(".msg.bot").nth(2)).to_have_text("Booked: see you at 8!")
    expect(chat.locator(".msg.user")).to_have_text(["hello", "Opening hours", "Book a table"])
    expect(chat.get_by_text("postback BOOK · delivery #3 → 200")).to_be_visible()
    chat.screenshot(path=str(screenshot_dir / "sandbox-webhook.png"), full_page=True)

    items = [json.loads(r.raw)["entry"][0]["messaging"][0] for r in bot.of("POST")]
    assert [item["sender"]["id"] for item in items] == [PSID, PSID, PSID]
    assert items[0]["message"]["text"] == "hello"
    assert items[1]["message"]["quick_reply"] == {"payload": "HOURS"}
    assert {k: items[2]["postback"][k] for k in ("title", "payload")} == {
        "title": "Book a table",
        "payload": "BOOK",
    }
    assert [d["ok"] for d in graph_sandbox.webhook_deliveries()] == [True, True, True]


def test_the_form_reports_a_failing_app(
    chat: Page, graph_sandbox: GraphSandbox, bot: WebhookReceiver
) -> None:
    bot.answers.extend([500, 500, 500])
    bot.on_post = None
    graph_sandbox.webhook_config(backoff_ms=5)
    chat.goto(f"/_sandbox/webhook?user_id={ADA}&page_id={ADA_PAGE}")

    chat.get_by_placeholder("Type a message").fill("anyone there?")
    chat.get_by_role("button", name="Send", exact=True).click()

    expect(chat.locator("#status")).to_have_text(
        "delivery #1: the app answered 500 after 3 attempts"
    )
    expect(chat.get_by_text("delivery #1 → 500 (3 attempts)")).to_be_visible()


def test_a_conversation_starts_from_a_click_to_messenger_ad(
    chat: Page, graph_sandbox: GraphSandbox, bot: WebhookReceiver
) -> None:
    chat.goto(f"/_sandbox/webhook?user_id={ADA}&page_id={ADA_PAGE}")
    ad = chat.get_by_role("form", name="Click-to-Messenger ad")
    ad.get_by_label("Ad id").fill("6000000000123")
    ad.get_by_label("Ad title").fill("Spring sale")
    ad.get_by_label("First message").fill("Is the cake still on offer?")
    ad.get_by_role("button", name="Message via this ad").click()

    expect(chat.locator(".msg.bot")).to_have_text(["Hi! What would you like?"])
    expect(chat.get_by_text("text from an ad 6000000000123 · delivery #1 → 200")).to_be_visible()
    [item] = json.loads(bot.of("POST")[0].raw)["entry"][0]["messaging"]
    assert item["message"]["text"] == "Is the cake still on offer?"
    assert item["message"]["referral"] == {
        "ad_id": "6000000000123",
        "source": "ADS",
        "type": "OPEN_THREAD",
        "ads_context_data": {"ad_title": "Spring sale"},
    }
