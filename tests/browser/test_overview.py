"""The marketer's overview and the ad accounts screen in a real browser, laptop and phone, with
the strict Content-Security-Policy watched (no inline script or style on either page)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from events.models import EventSource, EventStatus
from flows.models import ConversationStatus
from insights.models import AdDailyInsight, AdsConnection, FollowedAdAccount
from tenants.crypto import encrypt_token
from tenants.models import Tenant
from tests.browser.helpers import person, sign_in
from tests.events.factories import LoggedEventFactory
from tests.flows.factories import ConversationFactory, published_flow
from tests.tenants.factories import ConnectedPageFactory, TenantFactory

LAPTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def workspace(db: None) -> Tenant:
    tenant = TenantFactory.create(name="Ada's Bakery Group", slug="ada-bakery", country="PT")
    person("ada", tenant, "owner")
    bakery = ConnectedPageFactory.create(tenant=tenant, name="Ada's Bakery")
    bikes = ConnectedPageFactory.create(tenant=tenant, name="Ada's Bike Shop")
    lead_flow = published_flow(tenant, page=bakery, name="Cake order leads")
    shop_flow = published_flow(tenant, page=bikes, name="Tune-up booking")
    now = timezone.now()
    psid = iter(range(6_100_000_000_000_000, 6_200_000_000_000_000))
    for day in range(30):
        for n in range(2 + (day * 7) % 5):
            at = now - timedelta(days=day, hours=n)
            flow = lead_flow if n % 2 else shop_flow
            version = flow.versions.get()
            conversation = ConversationFactory.create(
                tenant=tenant,
                page=flow.page,
                flow_version=version,
                flow=flow,
                psid=str(next(psid)),
                status=ConversationStatus.HANDED_OFF
                if day < 2 and n == 1
                else ConversationStatus.ENDED,
                created_at=at,
                variables={"name": f"Person {day}-{n}", "email": f"p{day}{n}@example.com"},
            )
            if n % 3 != 2:
                LoggedEventFactory.create(
                    tenant=tenant,
                    page=flow.page,
                    psid=conversation.psid,
                    event="lead_submitted" if flow == lead_flow else "purchase",
                    value=None if flow == lead_flow else Decimal(35 + n * 5),
                    currency="" if flow == lead_flow else ("EUR" if n % 2 == 0 else "USD"),
                    source=EventSource.FLOW,
                    source_ref=f"{version.pk}:done",
                    status=EventStatus.DELIVERED if n else EventStatus.RETRYING,
                    created_at=at,
                )
    connection = AdsConnection.objects.create(
        tenant=tenant,
        facebook_user_id="200000000000001",
        facebook_user_name="Ada Sandbox",
        token_encrypted=encrypt_token("made-up-user-token"),
    )
    account = FollowedAdAccount.objects.create(
        tenant=tenant,
        connection=connection,
        account_id="act_400000000000001",
        name="Ada's Ads",
        currency="EUR",
        followed=True,
        last_read_at=now,
        read_until=timezone.localdate(),
    )
    FollowedAdAccount.objects.create(
        tenant=tenant,
        connection=connection,
        account_id="act_400000000000002",
        name="Old agency account",
        currency="USD",
    )
    for day in range(1, 28):
        for ad_id, name, campaign, leads in [
            ("600000000000001", "Croissant video", "Bakery click-to-Messenger", day % 3),
            ("600000000000003", "Spring tune-up", "Bike shop leads", day % 2),
        ]:
            AdDailyInsight.objects.create(
                tenant=tenant,
                account=account,
                ad_id=ad_id,
                date=timezone.localdate() - timedelta(days=day),
                ad_name=name,
                campaign_name=campaign,
                conversations_started=2 + day % 3,
                leads=leads,
                spend=Decimal("1.25") * (2 + day % 3),
                currency="EUR",
            )
    return tenant


WIDEST = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 392)
  .slice(0, 6).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def test_the_overview_on_a_laptop_and_a_phone(
    page: Page, workspace: Tenant, screenshot_dir: Path
) -> None:
    sign_in(page, "ada")
    page.set_viewport_size(LAPTOP)
    page.goto(f"/t/{workspace.slug}/")

    expect(page.get_by_role("heading", name="Ada's Bakery Group")).to_be_visible()
    for period in ("Today", "Last 7 days", "Last 30 days"):
        expect(page.get_by_role("heading", name=period, exact=True)).to_be_visible()
    expect(page.get_by_role("img", name="Leads logged per day, last 30 days")).to_be_visible()
    expect(page.get_by_role("row", name="Croissant video")).to_be_visible()
    expect(page.get_by_text("Why the two lead counts can differ")).to_be_visible()
    expect(page.get_by_role("link", name="Leads CSV")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "overview.png"), full_page=True)

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_role("heading", name="Last 30 days", exact=True)).to_be_visible()
    # Nothing wider than the phone: the wide tables scroll inside their cards.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(screenshot_dir / "overview-phone.png"), full_page=True)


def test_the_ad_accounts_screen_on_a_laptop_and_a_phone(
    page: Page, workspace: Tenant, screenshot_dir: Path
) -> None:
    sign_in(page, "ada")
    page.set_viewport_size(LAPTOP)
    page.goto(f"/t/{workspace.slug}/")
    page.get_by_role("link", name="Ad accounts", exact=True).click()

    expect(page.get_by_role("heading", name="Ad accounts", exact=True)).to_be_visible()
    expect(page.get_by_role("checkbox", name="Follow Ada's Ads")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Follow Old agency account")).not_to_be_checked()
    expect(page.get_by_role("button", name="Connect ad accounts again")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "ad-accounts.png"), full_page=True)

    page.get_by_role("checkbox", name="Follow Old agency account").check()
    page.get_by_role("button", name="Save followed accounts").click()
    expect(page.get_by_text("Following 2 ad accounts.")).to_be_visible()

    page.set_viewport_size(PHONE)
    page.reload()
    wide = page.evaluate(WIDEST)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], wide
    page.screenshot(path=str(screenshot_dir / "ad-accounts-phone.png"), full_page=True)
