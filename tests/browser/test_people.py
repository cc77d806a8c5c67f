"""People in a real browser: an admin finds a person by the email a flow gathered, opens them,
tags them, and deletes their data through the confirmation, which says what goes and what
stays. Screenshots at laptop and phone width."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from flows.models import Conversation
from messenger.models import Message, Person
from tenants.models import ConnectedPage, Tenant
from tests.browser.helpers import person, sign_in
from tests.events.factories import delivered_event
from tests.flows.factories import ConversationFactory
from tests.tenants.factories import ConnectedPageFactory

PSID = "6100000000000301"


@pytest.fixture
def shop(db: None) -> ConnectedPage:
    tenant = Tenant.objects.create(name="Dana's Bikes", slug="danas-bikes", country="US")
    person("dana", tenant, "owner")
    page: ConnectedPage = ConnectedPageFactory.create(tenant=tenant, name="Dana's Bike Shop")
    now = timezone.now()
    for n, name in enumerate(["Ann Lee", "Dmitri Kowalski", "Mo Ali"]):
        psid = f"{PSID[:-1]}{n}"
        Person.objects.create(
            tenant=tenant,
            page=page,
            psid=psid,
            name=name,
            first_seen_at=now - timedelta(days=5 + n),
            last_seen_at=now - timedelta(hours=n),
        )
        conversation = ConversationFactory.create(
            tenant=tenant,
            page=page,
            psid=psid,
            variables={"contact": f"{name.split()[0].lower()}@example.com", "need": "A quote"},
        )
        Message.objects.create(
            tenant=tenant,
            page=page,
            psid=psid,
            conversation=conversation,
            direction="in",
            sender="person",
            text="Hi, I'd like a quote",
            sent_at=now - timedelta(hours=n),
        )
        delivered_event(page=page, psid=psid, event="lead_submitted")
    return page


def test_find_tag_and_forget_a_person(
    page: Page, shop: ConnectedPage, screenshot_dir: Path
) -> None:
    page.set_viewport_size({"width": 1366, "height": 800})
    sign_in(page, "dana")
    page.goto("/t/danas-bikes/")
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Ann Lee")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "people-1366.png"))

    page.get_by_role("searchbox", name="Search").fill("dmitri@example")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("link", name="Ann Lee")).to_have_count(0)
    page.get_by_role("link", name="Dmitri Kowalski").click()

    expect(page.get_by_role("heading", name="Dmitri Kowalski")).to_be_visible()
    expect(page.get_by_role("region", name="What the flows gathered")).to_contain_text(
        "dmitri@example.com"
    )
    expect(page.get_by_role("region", name="Leads and events")).to_contain_text("Lead submitted")
    page.get_by_label("Add a tag").fill("Wholesale")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("Tagged “Wholesale”.")).to_be_visible()
    expect(page.get_by_role("region", name="Tags")).to_contain_text("Wholesale")
    page.screenshot(path=str(screenshot_dir / "person-1366.png"), full_page=True)

    page.get_by_role("button", name="Delete their data…").click()
    dialog = page.get_by_role(
        "dialog", name="Delete everything Pagepulse holds about Dmitri Kowalski?"
    )
    expect(dialog).to_contain_text("This cannot be undone.")
    expect(dialog).to_contain_text("Their events stay, without the PSID")
    page.screenshot(path=str(screenshot_dir / "confirm-delete-person-1366.png"))
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert Person.objects.filter(name="Dmitri Kowalski").exists()

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(screenshot_dir / "person-390.png"), full_page=True)
    page.get_by_role("button", name="Delete their data…").click()
    dialog.get_by_role("button", name="Delete their data").click()
    expect(
        page.get_by_text("Deleted: 1 message, 1 conversation; the PSID is gone from 1 event.")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Dmitri Kowalski")).to_have_count(0)
    expect(page.get_by_role("link", name="Ann Lee")).to_be_visible()
    assert not Conversation.objects.filter(psid=f"{PSID[:-1]}1").exists()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(screenshot_dir / "people-390.png"), full_page=True)
