"""The delivery log in a real browser: the counts refresh by themselves, a failed event shows
Facebook's answer for each attempt, and an admin replays it, alone and from a selection."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from events.models import AttemptOutcome, EventSource, EventStatus, LoggedEvent
from tenants.models import ConnectedPage, Tenant, Transport
from tests.browser.helpers import person, sign_in
from tests.events.factories import DeliveryAttemptFactory, LoggedEventFactory
from tests.tenants.factories import ConnectedPageFactory, TenantFactory

SECRET_TOKEN = "EAA" + "FakePageTokenOfTheTests" * 2  # built: no real-looking token is committed
# (hours ago, event, status) for the history the overview draws.
HISTORY = [
    (hours, name, status)
    for day in range(7)
    for hours, name, status in [
        (day * 24 + 2, "purchase", EventStatus.DELIVERED),
        (day * 24 + 3, "lead_submitted", EventStatus.DELIVERED),
        (day * 24 + 5, "add_to_cart", EventStatus.DELIVERED),
        (day * 24 + 7, "lead_submitted", EventStatus.DELIVERED),
        (day * 24 + 9, "purchase", EventStatus.FAILED if day % 3 == 0 else EventStatus.DELIVERED),
        (day * 24 + 11, "view_content", EventStatus.DELIVERED),
        (day * 24 + 13, "lead_submitted", EventStatus.DEAD if day == 3 else EventStatus.DELIVERED),
    ][: 3 + (day * 3) % 5]
]


def _history(page: ConnectedPage, other: ConnectedPage) -> None:
    now = timezone.now()
    # Oldest first, so ids grow with time as they do when events arrive.
    for index, (hours, name, status) in enumerate(sorted(HISTORY, reverse=True)):
        logged = now - timedelta(hours=hours)
        LoggedEventFactory.create(
            page=page if index % 3 else other,
            event=name,
            status=status,
            attempts=1,
            created_at=logged,
            event_time=logged,
            delivered_at=logged + timedelta(seconds=1) if status == EventStatus.DELIVERED else None,
            last_error="Facebook rejected it." if status == EventStatus.FAILED else "",
        )


def _failed_purchase(page: ConnectedPage) -> LoggedEvent:
    now = timezone.now()
    event = LoggedEventFactory.create(
        page=page,
        psid="24571937185104",
        event="purchase",
        params={"fb_content_type": "product", "fb_content_id": "bike-42"},
        value=Decimal("57.23"),
        currency="USD",
        status=EventStatus.FAILED,
        attempts=2,
        created_at=now - timedelta(minutes=4),
        event_time=now - timedelta(minutes=4),
        last_error="(#100) Invalid parameter: custom_data.currency must be an ISO 4217 code",
    )
    body = {
        "data": [
            {
                "event_name": "Purchase",
                "event_time": int((now - timedelta(minutes=4)).timestamp()),
                "action_source": "business_messaging",
                "messaging_channel": "messenger",
                "user_data": {"page_id": page.page_id, "page_scoped_user_id": event.psid},
                "custom_data": {"value": 57.23, "currency": "USD"},
            }
        ],
        "access_token": SECRET_TOKEN,
    }
    path = f"v25.0/{page.dataset_id}/events"
    DeliveryAttemptFactory.create(
        page=event.page,
        events=[event],
        outcome=AttemptOutcome.TRANSIENT,
        http_status=500,
        graph_code=2,
        fbtrace_id="A7xQ2mVbR9c",
        duration_ms=812,
        error_class="GraphTransientError",
        error_message="An unexpected error has occurred. Please retry your request later.",
        request={"method": "POST", "path": path, "body": body},
        response={
            "error": {
                "message": "An unexpected error has occurred. Please retry your request later.",
                "type": "OAuthException",
                "is_transient": True,
                "code": 2,
                "fbtrace_id": "A7xQ2mVbR9c",
            }
        },
        created_at=now - timedelta(minutes=3),
    )
    DeliveryAttemptFactory.create(
        page=event.page,
        events=[event],
        outcome=AttemptOutcome.INVALID,
        http_status=400,
        graph_code=100,
        graph_subcode=2804019,
        fbtrace_id="BqL5t0pWz3e",
        duration_ms=164,
        error_class="GraphInvalidError",
        error_message="(#100) Invalid parameter: custom_data.currency must be an ISO 4217 code",
        request={"method": "POST", "path": path, "body": body},
        response={
            "error": {
                "message": "(#100) Invalid parameter",
                "type": "OAuthException",
                "code": 100,
                "error_subcode": 2804019,
                "error_user_msg": "custom_data.currency must be an ISO 4217 code",
                "fbtrace_id": "BqL5t0pWz3e",
            }
        },
        created_at=now - timedelta(minutes=2),
    )
    return event


@pytest.fixture
def workspace(db: None) -> Tenant:
    tenant = TenantFactory.create(name="Dana's Bikes", slug="danas-bikes")
    person("dana", tenant, "admin")
    return tenant


@pytest.fixture
def pages(workspace: Tenant) -> tuple[ConnectedPage, ConnectedPage]:
    shop = ConnectedPageFactory.create(
        tenant=workspace, name="Dana's Bikes", transport=Transport.CONVERSIONS_API
    )
    outlet = ConnectedPageFactory.create(
        tenant=workspace, name="Dana's Outlet", transport=Transport.PAGE_ACTIVITIES
    )
    return shop, outlet


def _count(page: Page, status: str) -> Locator:
    return page.locator(f'#status-counts a[data-status="{status}"] .num')


def test_open_the_log_watch_counts_and_replay_failed_events(
    page: Page, workspace: Tenant, pages: tuple[ConnectedPage, ConnectedPage], screenshot_dir: Path
) -> None:
    shop, outlet = pages
    _history(shop, outlet)
    failed = _failed_purchase(shop)
    other_failed = LoggedEventFactory.create(
        page=outlet, event="table_booked", status=EventStatus.FAILED, last_error="Rejected."
    )
    pending = LoggedEventFactory.create(page=shop, event="lead_submitted", source=EventSource.FLOW)
    LoggedEventFactory.create(page=shop, event="purchase", test=True, source=EventSource.TEST_CHAT)
    failed_count = LoggedEvent.objects.filter(status=EventStatus.FAILED, test=False).count()

    sign_in(page, "dana")
    page.goto("/t/danas-bikes/")
    page.get_by_role("link", name="Delivery log").click()
    expect(page).to_have_url(re.compile(r"/t/danas-bikes/events/$"))
    expect(page.get_by_role("heading", name="Delivery log")).to_be_visible()
    expect(_count(page, "failed")).to_have_text(str(failed_count))
    expect(_count(page, "pending")).to_have_text("1")
    page.screenshot(path=str(screenshot_dir / "delivery-log.png"), full_page=True)

    # The counts refresh by themselves: the pending event is delivered meanwhile.
    LoggedEvent.objects.filter(pk=pending.pk).update(status=EventStatus.DELIVERED)
    expect(_count(page, "pending")).to_have_text("0", timeout=15_000)

    # Test events only under their own filter.
    rows = page.locator("table.events tbody tr")
    expect(rows.filter(has_text="test")).to_have_count(0)
    page.get_by_label("Test events").check()
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("test")

    # Filter to the failed ones and open the purchase.
    page.goto("/t/danas-bikes/events/")
    page.get_by_label("Status", exact=True).select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(failed_count)
    rows.filter(has_text="24571937185104").get_by_role("link", name="purchase").click()
    expect(page).to_have_url(re.compile(rf"/t/danas-bikes/events/{failed.pk}/$"))
    expect(page.get_by_text("fbtrace_id BqL5t0pWz3e")).to_be_visible()
    expect(page.get_by_text("subcode 2804019")).to_be_visible()
    assert SECRET_TOKEN not in page.content()
    page.screenshot(path=str(screenshot_dir / "event-detail.png"), full_page=True)

    page.get_by_role("button", name="Replay this event").click()
    expect(page.get_by_text("Replayed 1 event: it is pending delivery again.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Purchase"))).to_contain_text("Pending")
    assert LoggedEvent.objects.get(pk=failed.pk).status == EventStatus.PENDING

    # A selection from the log.
    page.goto("/t/danas-bikes/events/?status=failed")
    page.get_by_label(f"Select event {other_failed.pk}").check()
    page.get_by_role("button", name="Replay selected").click()
    expect(page.get_by_text("Replayed 1 event: it is pending delivery again.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?status=failed$"))
    assert LoggedEvent.objects.get(pk=other_failed.pk).status == EventStatus.PENDING


def test_the_overview_draws_events_by_status_name_and_leads(
    page: Page, workspace: Tenant, pages: tuple[ConnectedPage, ConnectedPage], screenshot_dir: Path
) -> None:
    _history(*pages)
    sign_in(page, "dana")
    page.goto("/t/danas-bikes/events/")
    page.get_by_role("link", name="Overview & charts").click()
    expect(page.get_by_role("heading", name="Events overview")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("by status"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Leads per day"))).to_be_visible()
    expect(page.locator(".name-bars li")).to_have_count(4)
    page.screenshot(path=str(screenshot_dir / "events-overview.png"), full_page=True)
