"""Issue #11 in a real browser: the Bakery on page_activities says it is retired, and one
guided step from the Pages screen moves it to the Conversions API: the dry-run list, the
refusal while a published flow would stop delivering, the tick to keep, the move."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from events.models import EventStatus, LoggedEvent
from tenants.crypto import encrypt_token
from tenants.models import AuditAction, AuditEvent, ConnectedPage, Membership, Transport
from tests.browser.helpers import person, sign_in
from tests.events.factories import LoggedEventFactory
from tests.flows.factories import edge, node, published_flow
from tests.sandbox_fixtures import ADA, ADA_PAGE, GraphSandbox
from tests.tenants.factories import TenantFactory


@pytest.fixture
def bakery(sandbox: GraphSandbox, db: None) -> ConnectedPage:
    user = person("ada")
    tenant = TenantFactory.create(name="Ada's Bakery Co", slug="adas-bakery")
    Membership.objects.create(tenant=tenant, user=user, role="owner")
    token = sandbox.mint(
        type="page",
        user_id=ADA,
        page_id=ADA_PAGE,
        scopes=["page_events", "pages_messaging", "business_management"],
    )
    page = ConnectedPage.objects.create(
        tenant=tenant,
        page_id=ADA_PAGE,
        name="Ada's Bakery",
        transport=Transport.PAGE_ACTIVITIES,
        token_encrypted=encrypt_token(token),
        tasks=["ANALYZE", "MANAGE"],
        granted_scopes=["page_events", "pages_messaging", "business_management"],
    )
    published_flow(
        tenant,
        page=page,
        name="Table booking",
        document={
            "nodes": [
                node("start", "start"),
                node("paid", "log_event", event="fb_mobile_purchase", value="12", currency="EUR"),
                node("booked", "log_event", event="table_booked"),
                node("end", "end"),
            ],
            "edges": [edge("start", "paid"), edge("paid", "booked"), edge("booked", "end")],
        },
    )
    LoggedEventFactory.create(page=page, event="purchase", psid="24571937185104")
    return page


def test_move_the_bakery_from_the_pages_screen(
    page: Page, bakery: ConnectedPage, screenshot_dir: Path
) -> None:
    page.set_viewport_size({"width": 1366, "height": 800})
    sign_in(page, "ada")
    page.goto("/t/adas-bakery/pages/")
    connected = page.locator("section", has=page.get_by_role("heading", name="Connected"))
    row = connected.get_by_role("row", name=re.compile("Ada's Bakery"))
    expect(row.get_by_text("Retired by Facebook", exact=True)).to_be_visible()
    expect(row.get_by_role("note")).to_contain_text(
        "Facebook stopped serving the Events API for Business Messaging (page_activities) on "
        "24 September 2026"
    )
    expect(page.get_by_role("heading", name="How events reach Facebook")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "pages-retired-transport.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_dir / "pages-retired-transport-narrow.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 800})

    row.get_by_role("button", name="Move Ada's Bakery to the Conversions API").click()
    expect(
        page.get_by_role("heading", name="Move “Ada's Bakery” to the Conversions API")
    ).to_be_visible()
    moves = page.get_by_role("table", name="What moves")
    paid = moves.get_by_role("row", name=re.compile("published version 1 paid"))
    expect(paid.get_by_text("Maps")).to_be_visible()
    expect(paid).to_contain_text("fb_mobile_purchase → Purchase")
    booked = moves.get_by_role("row", name=re.compile("published version 1 booked"))
    expect(booked.get_by_text("No Conversions API name")).to_be_visible()
    expect(booked).to_contain_text("table_booked is a custom event.")
    expect(page.get_by_text("sent as Purchase")).to_be_visible()  # the waiting event
    page.screenshot(path=str(screenshot_dir / "page-move-dry-run.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_dir / "page-move-dry-run-narrow.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 800})

    # Without the tick the move is refused, naming the flow and its block.
    page.get_by_role("button", name="Move to the Conversions API").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "“Ada's Bakery” was not moved: 1 published flow has events the Conversions API "
        "cannot take as they are."
    )
    assert ConnectedPage.objects.get(pk=bakery.pk).transport == Transport.PAGE_ACTIVITIES

    page.get_by_label("Keep those events in Pagepulse only").check()
    page.get_by_role("button", name="Move to the Conversions API").click()
    expect(page).to_have_url(re.compile(r"/t/adas-bakery/pages/$"))
    expect(
        page.get_by_text("“Ada's Bakery” now sends its events through the Conversions API.")
    ).to_be_visible()
    expect(row.get_by_text("Retired by Facebook", exact=True)).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "pages-after-move.png"), full_page=True)

    moved = ConnectedPage.objects.get(pk=bakery.pk)
    assert moved.transport == Transport.CONVERSIONS_API
    assert moved.dataset_id  # the sandbox created the Page's dataset
    assert list(LoggedEvent.objects.values_list("event", "status")) == [
        ("purchase", EventStatus.PENDING)
    ]
    audit = AuditEvent.objects.get(action=AuditAction.PAGE_TRANSPORT_CHANGED)
    assert audit.details["kept_in_pagepulse"] == ["Table booking: booked"]
