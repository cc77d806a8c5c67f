"""Issue #4 in a real browser: Continue with Facebook through the sandbox's own login dialog
(clicked, not scripted), connect two Pages, and see the Pages screen in its three states:
all active, one needing re-authorization, one missing a permission."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tenants.crypto import encrypt_token
from tenants.models import ConnectedPage, Membership
from tests.browser.helpers import person, sign_in
from tests.sandbox_fixtures import ADA, ADA_PAGE, ADA_PAGE_2, GraphSandbox
from tests.tenants.factories import TenantFactory


@pytest.fixture
def owner(db: None) -> User:
    user = person("dana", first_name="Dana")
    Membership.objects.create(
        tenant=TenantFactory.create(name="Dana's Bikes", slug="danas-bikes"),
        user=user,
        role="owner",
    )
    return user


def continue_with_facebook(page: Page, *, as_user: str = "Ada Sandbox") -> None:
    page.get_by_role("button", name=re.compile("Continue with Facebook|Reconnect")).first.click()
    # The sandbox's dialog: pick the test user, keep every permission ticked, continue.
    page.get_by_role("link", name=re.compile(as_user)).click()
    expect(page.get_by_role("heading", name=re.compile("continue to"))).to_be_visible()
    page.get_by_role("button", name="Continue").click()


def test_connect_pages_and_see_them_need_attention(
    page: Page, sandbox: GraphSandbox, owner: User, screenshot_dir: Path
) -> None:
    sign_in(page, "dana")
    page.goto("/t/danas-bikes/pages/")
    expect(page.get_by_text("No Pages connected yet.")).to_be_visible()

    continue_with_facebook(page)
    expect(page).to_have_url(re.compile(r"/t/danas-bikes/pages/$"))
    picker = page.locator(
        "section", has=page.get_by_role("heading", name="From your Facebook Login")
    )
    expect(picker.get_by_text("lacks the ANALYZE task")).to_be_visible()

    bakery = picker.get_by_role("row", name=re.compile("Ada's Bakery"))
    bakery.get_by_label("How events of Ada's Bakery reach Facebook").select_option(
        "page_activities"
    )
    bakery.get_by_role("button", name="Connect").click()
    expect(page.get_by_text("“Ada's Bakery” is connected.")).to_be_visible()
    picker.get_by_role("row", name=re.compile("Ada's Bike Shop")).get_by_role(
        "button", name="Connect"
    ).click()
    expect(page.get_by_text("“Ada's Bike Shop” is connected.")).to_be_visible()
    connected = page.locator("section", has=page.get_by_role("heading", name="Connected"))
    expect(connected.get_by_text("Active")).to_have_count(2)
    page.screenshot(path=str(screenshot_dir / "pages.png"), full_page=True)
    page.screenshot(path=str(screenshot_dir / "pages-active.png"), full_page=True)

    # Facebook invalidates the Bakery's token; "Check now" finds it.
    sandbox.revoke(page_id=ADA_PAGE)
    connected.get_by_role("row", name=re.compile("Ada's Bakery")).get_by_role(
        "button", name="Check now"
    ).click()
    expect(page.get_by_role("alert").filter(has_text="1 Page needs attention")).to_be_visible()
    expect(connected.get_by_text("Needs re-authorization")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "pages-needs-reauth.png"), full_page=True)

    # Two clicks to reconnect: Reconnect, then Continue in Facebook's dialog.
    sandbox.reset()
    connected.get_by_role("row", name=re.compile("Ada's Bakery")).get_by_role(
        "button", name="Reconnect"
    ).click()
    page.get_by_role("link", name=re.compile("Ada Sandbox")).click()
    page.get_by_role("button", name="Continue").click()
    expect(
        page.get_by_text("“Ada's Bakery” is connected again with a fresh token.")
    ).to_be_visible()
    expect(connected.get_by_text("Active")).to_have_count(2)

    # The Bike Shop's token loses page_events.
    stripped = sandbox.mint(
        type="page", user_id=ADA, page_id=ADA_PAGE_2, scopes=["pages_show_list", "pages_messaging"]
    )
    ConnectedPage.objects.filter(page_id=ADA_PAGE_2).update(token_encrypted=encrypt_token(stripped))
    connected.get_by_role("row", name=re.compile("Ada's Bike Shop")).get_by_role(
        "button", name="Check now"
    ).click()
    expect(connected.get_by_text("Missing permission")).to_be_visible()
    expect(connected.get_by_text("page_events permission was removed")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "pages-missing-permission.png"), full_page=True)

    assert dict(ConnectedPage.objects.values_list("page_id", "status")) == {
        ADA_PAGE: "active",
        ADA_PAGE_2: "missing_permission",
    }
