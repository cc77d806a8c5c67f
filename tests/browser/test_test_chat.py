"""The test chat and the handoffs page in a real browser: chat through the lead template by
typing and pressing quick replies, watch the variables, the path and the test event; then an
agent resolves handed-off threads."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from events.models import EventSource, EventStatus, LoggedEvent
from flows import services
from flows.models import Conversation, ConversationStatus
from tenants.models import ConnectedPage, Membership, Tenant, Transport
from tenants.services import Actor
from tests.browser.helpers import person, sign_in
from tests.flows.factories import FlowFactory, FlowVersionFactory, handed_off
from tests.tenants.factories import ConnectedPageFactory, TenantFactory


@pytest.fixture
def editor(db: None) -> User:
    return person("lin")


@pytest.fixture
def workspace(editor: User) -> Tenant:
    tenant = TenantFactory.create(name="Lin's Bikes", slug="lins-bikes")
    Membership.objects.create(tenant=tenant, user=editor, role="editor")
    return tenant


@pytest.fixture
def shop(workspace: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(
        tenant=workspace,
        name="Lin's Bikes",
        page_id="300000000000002",
        transport=Transport.CONVERSIONS_API,
    )


def test_chat_through_the_lead_template(
    page: Page, workspace: Tenant, shop: ConnectedPage, editor: User, screenshot_dir: Path
) -> None:
    flow = services.flow_create(
        tenant=workspace,
        actor=Actor(user=editor),
        page_id=shop.pk,
        name="Quotes",
        template="lead_generation",
    )
    services.flow_publish(
        tenant=workspace, actor=Actor(user=editor), flow_id=flow.pk, note="", revision=1
    )
    sign_in(page, "lin")
    page.goto(f"/t/lins-bikes/flows/{flow.pk}/")
    page.get_by_role("button", name="Test").click()
    panel = page.get_by_role("region", name="Test chat")
    expect(panel.get_by_role("heading", name="Test chat")).to_be_visible()
    expect(panel.get_by_label("Run")).to_have_text(re.compile(r"Draft.*Version 1", re.S))

    bot = panel.locator(".bubble.bot")
    user = panel.locator(".bubble.person")
    chips = panel.get_by_role("group", name="Quick replies").get_by_role("button")
    variables = panel.get_by_label("Variables")
    status = panel.get_by_role("status")

    panel.get_by_role("button", name="Start").click()
    expect(bot.last).to_have_text("What are you looking for?")
    expect(bot.first).to_contain_text("Hi! We'd love to help.")
    expect(chips).to_have_text(["A quote", "A consultation", "More information"])
    expect(panel.get_by_label("Path").get_by_role("listitem")).to_have_count(3)
    # The block the conversation waits at is lit on the canvas.
    waiting = page.get_by_role("group", name="Ask a question: What are you looking for?")
    expect(waiting.locator(".block")).to_have_class(re.compile("is-current"))

    chips.get_by_text("A quote").click()  # a quick reply pressed
    expect(user.last).to_have_text("A quote")
    expect(bot.last).to_have_text("When would you like to get started?")
    expect(variables).to_contain_text("needA quote")

    box = panel.get_by_label("Your message")
    box.fill("Later")  # typed, not pressed
    box.press("Enter")
    expect(bot.last).to_have_text("How should we contact you?")
    chips.get_by_text("Email").click()
    expect(bot.last).to_have_text("What's your email address?")

    box.fill("lin at example")
    panel.get_by_role("button", name="Send", exact=True).click()
    expect(bot.nth(-2)).to_have_text("That doesn't look like an email address. Could you check it?")
    expect(bot.last).to_have_text("What's your email address?")
    box.fill("lin@example.com")
    box.press("Enter")
    expect(bot.last).to_have_text(
        "Thank you! Someone from our team will contact you at lin@example.com shortly."
    )
    expect(panel.locator(".chat-notice.handoff")).to_contain_text(
        "Handed off to your team: New lead: A quote, starting Later."
    )
    expect(variables).to_contain_text("contactlin@example.com")
    events = panel.get_by_role("list", name="Events logged").get_by_role("listitem")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("lead_submitted")
    expect(events.first).to_contain_text("test")
    expect(events.first).to_contain_text("channel: Email · need: A quote · timeline: Later")
    expect(status).to_have_text("Handed off to a person · draft")
    # The last turn's blocks stand out from the earlier ones.
    expect(panel.get_by_label("Path").locator("li.latest")).to_have_text(
        [
            "Ask a question ask_email",
            "Log event lead",
            "Send message thanks",
            "Hand off to a person to_team",
        ]
    )
    page.screenshot(path=str(screenshot_dir / "test-chat.png"))

    logged = LoggedEvent.objects.get()
    assert (logged.event, logged.test, logged.source) == (
        "lead_submitted",
        True,
        EventSource.TEST_CHAT,
    )
    assert logged.status == EventStatus.TEST  # stored, "Test, not sent"
    assert Conversation.objects.get().is_test is True

    # Handed off: the bot stays quiet, as it does on Messenger until someone resolves it.
    box.fill("hello?")
    box.press("Enter")
    expect(panel.locator(".chat-notice").last).to_have_text(
        "The bot stays quiet: this conversation is with your team now. "
        "Start again to test it from the beginning."
    )

    # The event links to the delivery log; published version 1 runs too; reset ends it.
    expect(events.first.get_by_role("link", name="lead_submitted")).to_have_attribute(
        "href", f"/t/lins-bikes/events/{logged.pk}/"
    )
    panel.get_by_label("Run").select_option("1")
    expect(status).to_have_text("Waiting for your answer · version 1")
    expect(bot.last).to_have_text("What are you looking for?")
    expect(panel).to_contain_text("No events logged yet.")
    panel.get_by_role("button", name="Reset").click()
    expect(status).to_have_text("Not started")
    expect(box).to_be_disabled()
    assert set(Conversation.objects.values_list("status", flat=True)) == {"ended"}


def test_a_draft_with_errors_says_what_to_fix(
    page: Page, workspace: Tenant, shop: ConnectedPage, editor: User
) -> None:
    flow = services.flow_create(
        tenant=workspace,
        actor=Actor(user=editor),
        page_id=shop.pk,
        name="Unfinished",
        document={
            "nodes": [
                {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            ],
            "edges": [],
        },
    )
    sign_in(page, "lin")
    page.goto(f"/t/lins-bikes/flows/{flow.pk}/")
    page.get_by_role("button", name="Test").click()
    page.get_by_role("region", name="Test chat").get_by_role("button", name="Start").click()
    expect(page.locator(".chat-notice.error")).to_contain_text(
        "The draft has errors, so it cannot run"
    )


def test_resolve_handoffs(
    page: Page,
    workspace: Tenant,
    shop: ConnectedPage,
    runtime_redis: object,  # handoff_resolve takes the conversation's Redis lock
    screenshot_dir: Path,
) -> None:
    now = timezone.now()
    outlet = ConnectedPageFactory.create(tenant=workspace, name="Lin's Outlet")
    quotes = FlowVersionFactory.create(
        flow=FlowFactory.create(tenant=workspace, page=shop, name="Quotes")
    )
    follow_up = FlowVersionFactory.create(
        flow=FlowFactory.create(tenant=workspace, page=outlet, name="Purchase follow-up"), number=2
    )
    handed_off(
        tenant=workspace,
        page=shop,
        flow_version=quotes,
        psid="24571937185104",
        handed_off_at=now - timedelta(minutes=3),
        handoff_note="New lead: A quote, starting This month. Contact by Email: ada@example.com.",
        variables={
            "need": "A quote",
            "timeline": "This month",
            "channel": "Email",
            "contact": "ada@example.com",
        },
    )
    handed_off(
        tenant=workspace,
        page=outlet,
        flow_version=follow_up,
        psid="6723918450021",
        handed_off_at=now - timedelta(hours=5),
        handoff_note="Unhappy customer (rated 2 of 5): the bell was missing",
        variables={"rating": "2", "problem": "the bell was missing"},
    )
    sign_in(page, "lin")
    page.goto("/t/lins-bikes/")
    page.get_by_role("link", name="Inbox", exact=True).click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    rows = page.locator("table.inbox tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name="Needs a person (2)")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "handoffs.png"), full_page=True)

    rows.filter(has_text="6723918450021").get_by_role("link").click()
    expect(page.get_by_role("complementary", name="About this conversation")).to_contain_text(
        "the bell was missing"
    )
    page.get_by_role("button", name="Hand back to the bot").click()
    expect(
        page.get_by_text("Handed back: the flow had nothing after this, so the conversation is")
    ).to_be_visible()
    page.get_by_role("link", name="← Inbox").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("24571937185104")
    page.get_by_role("link", name="Closed (1)").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("6723918450021")
    assert Conversation.objects.get(psid="6723918450021").status == ConversationStatus.ENDED
