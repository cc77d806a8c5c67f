"""Issue 15's scene end to end: a Messenger user (the Graph sandbox) goes through the lead
template, a real Celery worker runs the flow to its handoff, and a person of the team, with the
inbox open in Chromium, sees the lead appear without reloading, opens it, reads what the flow
gathered, answers, and the sandbox's Send API receives the answer. PostgreSQL, Redis, a worker
process, the sandbox and a browser, nothing stubbed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from flows.models import Conversation, ConversationStatus
from messenger.models import Message, MessageSender
from tests.chromium import needs_chromium
from tests.sandbox_fixtures import GraphSandbox
from tests.system.harness import Cluster, wait_for
from tests.system.runtime_fixtures import Lead, Messenger, converse, runtime_worker
from tests.system.workspace import PAGE_B, Workspace

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lead_flows", "webhook_url"),
    *needs_chromium,
]

PASSWORD = "correct horse battery staple"
ANSWER = "Hi! This is Sam from the shop: I'll send the quote today."
# The innermost elements that reach past the right edge, to say what to fix.
CULPRITS = """() => [...document.querySelectorAll("body *")]
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5
    && ![...el.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .slice(0, 3)
  .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`)"""
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shots(tmp_path: Path) -> Path:
    return SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path


def sign_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


@pytest.mark.timeout(300)
def test_a_lead_reaches_a_person_in_the_inbox_who_answers_from_pagepulse(
    workspace: Workspace,
    cluster: Cluster,
    sandbox: GraphSandbox,
    messenger: Messenger,
    browser: Browser,
    live_server: LiveServer,
    tmp_path: Path,
) -> None:
    runtime_worker(cluster)
    agent = workspace.owner.user
    agent.set_password(PASSWORD)
    agent.save()
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1366, "height": 800}, locale="en-US"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, agent.username)
    page.goto(f"/t/{workspace.tenant.slug}/inbox/")
    expect(page.get_by_text("No conversation needs a person right now.")).to_be_visible()
    page.evaluate("window.__notReloaded = true")

    person = Lead.numbered(PAGE_B, "6100000000900001", 0)
    received = converse(messenger, [person], timeout=120, on_timeout=cluster.logs)
    assert [m["message"]["text"] for m in received[person.psid]] == person.bot_texts()

    # The lead shows up in the open inbox by itself, at the top of "Needs a person".
    row = page.get_by_role("row").filter(has_text=person.psid)
    expect(row).to_be_visible()
    expect(row).to_contain_text("Needs a person")
    expect(page.get_by_role("link", name=re.compile(r"^Needs a person \(1\)$"))).to_be_visible()
    assert page.evaluate("window.__notReloaded") is True
    page.screenshot(path=str(shots(tmp_path) / "inbox-1366.png"))

    row.get_by_role("link").click()
    # The name comes from the User Profile API (the sandbox's), not the PSID.
    heading = page.get_by_role("heading", level=1)
    expect(heading).not_to_have_text("Messenger user")
    transcript = page.get_by_role("list", name="Transcript")
    expect(transcript).to_contain_text(person.email)
    expect(transcript).to_contain_text(person.bot_texts()[-1])
    side = page.get_by_role("complementary", name="About this conversation")
    expect(side).to_contain_text(person.email)
    expect(side).to_contain_text(person.note)

    sent_before = len(messenger.messages())
    page.get_by_label("Your answer").fill(ANSWER)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_text("Sent. The bot stays quiet")).to_be_visible()
    expect(transcript.get_by_role("listitem").last).to_contain_text(ANSWER)
    page.screenshot(path=str(shots(tmp_path) / "inbox-conversation-1366.png"), full_page=True)

    # The sandbox's Send API received it, inside the 24-hour window, from the Page's token.
    def answered() -> bool:
        return any(m["message"].get("text") == ANSWER for m in messenger.messages())

    wait_for(answered, timeout=10, interval=0.1, what="the agent's answer at the sandbox")
    answer = next(m for m in messenger.messages() if m["message"].get("text") == ANSWER)
    assert (answer["psid"], answer["page_id"], answer["messaging_type"]) == (
        person.psid,
        PAGE_B,
        "RESPONSE",
    )
    assert len(messenger.messages()) == sent_before + 1
    conversation = Conversation.objects.get(psid=person.psid)
    assert conversation.status == ConversationStatus.HANDED_OFF
    assert Message.objects.filter(
        conversation=conversation, sender=MessageSender.AGENT, text=ANSWER
    ).exists()

    # The same screens on a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.screenshot(path=str(shots(tmp_path) / "inbox-conversation-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.evaluate(CULPRITS)
    page.goto(f"/t/{workspace.tenant.slug}/inbox/")
    page.screenshot(path=str(shots(tmp_path) / "inbox-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.evaluate(CULPRITS)
    context.close()
