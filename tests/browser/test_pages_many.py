"""A person with 60 Pages on the Pages screen, in Chromium against the sandbox (issue #16, item 3):
Bob Manypages's login finds "Bob's Shop #1" … "#60"; he sees them in natural order 20 at a
time, finds one by name and by id, ticks three and connects them in one go."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, expect

from tenants.models import ConnectedPage
from tests.browser.helpers import person, sign_in
from tests.sandbox_fixtures import GraphSandbox
from tests.tenants.factories import TenantFactory

FIRST_SHOP = 301000000000001


@pytest.fixture
def owner() -> User:
    tenant = TenantFactory.create(name="Bob's Shops", slug="bobs-shops")
    return person("bob", tenant, "owner", first_name="Bob")


def shops(page: Page) -> Locator:
    """The Page names in the login's table, in the order shown."""
    table = page.get_by_role("table").filter(
        has=page.get_by_role("columnheader", name="What you can do on Facebook")
    )
    return table.locator("tbody td strong")


def test_sixty_pages_search_sort_and_bulk_connect(
    page: Page, sandbox: GraphSandbox, owner: User, screenshot_dir: Path
) -> None:
    sign_in(page, "bob")
    page.goto("/t/bobs-shops/pages/")
    page.get_by_role("button", name="Continue with Facebook").first.click()
    page.get_by_role("link", name=re.compile("Bob Manypages")).click()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/t/bobs-shops/pages/$"))

    expect(page.get_by_text("No Pages connected yet. Choose them below")).to_be_visible()
    expect(page.get_by_text("Showing 1\N{EN DASH}20 of 60")).to_be_visible()
    expect(shops(page)).to_have_count(20)
    expect(shops(page).nth(1)).to_have_text("Bob's Shop #2")
    expect(shops(page).nth(9)).to_have_text("Bob's Shop #10")
    filters = page.get_by_role("navigation", name="Show Pages")
    expect(filters.get_by_role("link", name="Can connect 60")).to_be_visible()

    page.get_by_role("navigation", name="Pages from your login, by screen").get_by_role(
        "link", name="Next"
    ).click()
    expect(page.get_by_text("Showing 21\N{EN DASH}40 of 60")).to_be_visible()
    expect(shops(page).first).to_have_text("Bob's Shop #21")

    search = page.get_by_role("searchbox", name="Search Pages by name or id")
    search.fill("shop #5")
    search.press("Enter")
    expect(shops(page)).to_have_text(
        ["Bob's Shop #5"] + [f"Bob's Shop #{n}" for n in range(50, 60)]
    )
    search.fill(str(FIRST_SHOP + 41))
    search.press("Enter")
    expect(shops(page)).to_have_text(["Bob's Shop #42"])
    page.get_by_role("link", name="Clear").click()

    page.get_by_role("checkbox", name="Select Bob's Shop #2", exact=True).check()
    page.get_by_role("checkbox", name="Select Bob's Shop #3", exact=True).check()
    page.get_by_role("checkbox", name="Select Bob's Shop #10", exact=True).check()
    page.screenshot(path=str(screenshot_dir / "pages-many.png"), full_page=True)
    page.get_by_role("button", name="Connect selected").click()
    expect(
        page.get_by_text(
            "3 Pages are connected: “Bob's Shop #2”, “Bob's Shop #3”, “Bob's Shop #10”."
        )
    ).to_be_visible()
    connected = page.locator("section", has=page.get_by_role("heading", name="Connected"))
    expect(connected.get_by_text("Active")).to_have_count(3)
    expect(page.get_by_text("Showing 1\N{EN DASH}20 of 57")).to_be_visible()
    assert sorted(ConnectedPage.objects.values_list("name", flat=True)) == [
        "Bob's Shop #10",
        "Bob's Shop #2",
        "Bob's Shop #3",
    ]

    # The heading's box ticks every Page on the screen (a progressive enhancement).
    page.get_by_role(
        "checkbox", name="Select every Page on this screen that can be connected"
    ).check()
    expect(
        page.get_by_role("checkbox", name=re.compile("^Select Bob's Shop")).first
    ).to_be_checked()
    expect(page.locator("input[form=connect-selected]:checked")).to_have_count(20)

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_dir / "pages-many-phone.png"), full_page=True)
