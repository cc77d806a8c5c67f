"""Every screen on a phone: at 390 px (and 360 px) no screen scrolls sideways, the workspace
navigation folds behind a Menu button, and tables become cards. Fails naming each screen that
overflows and by how much."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from events.models import EventStatus
from messenger.models import Person
from tenants.models import ConnectedPage, Membership, Tenant
from tests.browser.helpers import PASSWORD
from tests.events.factories import LoggedEventFactory, delivered_event
from tests.flows.factories import handed_off, published_flow
from tests.tenants.factories import ConnectedPageFactory, api_key

SLUG = "danas-bikes"


@pytest.fixture
def screens(django_user_model: type[User]) -> list[tuple[str, str]]:
    """A workspace with something on every screen; returns (name, path) of each screen."""
    user = django_user_model.objects.create_user(
        username="dana", email="dana.longname-for-a-phone@example.com", password=PASSWORD
    )
    tenant = Tenant.objects.create(name="Dana's Bikes and Accessories", slug=SLUG, country="US")
    Membership.objects.create(tenant=tenant, user=user, role="owner")
    page: Any = ConnectedPageFactory.create(tenant=tenant, name="Dana's Bike Shop Downtown")
    legacy: Any = ConnectedPageFactory.create(
        tenant=tenant, name="Dana's Old Page", transport="page_activities"
    )
    flow = published_flow(tenant, page=page, name="Lead generation for spring bikes")
    event = delivered_event(page=page, event="purchase")
    LoggedEventFactory.create(page=page, event="lead_submitted", status=EventStatus.FAILED)
    lead = handed_off(tenant=tenant, page=page)
    someone = Person.objects.create(
        tenant=tenant,
        page=page,
        psid=lead.psid,
        name="Dmitri Kowalski-Wiśniewski",
        first_seen_at=lead.created_at,
        last_seen_at=lead.created_at,
    )
    api_key(tenant, name="Zapier sync for the spring campaign")
    assert isinstance(legacy, ConnectedPage)
    base = f"/t/{SLUG}"
    return [
        ("workspaces", "/t/"),
        ("overview", f"{base}/"),
        ("pages", f"{base}/pages/"),
        ("page-move", f"{base}/pages/{legacy.pk}/move/"),
        ("flows", f"{base}/flows/"),
        ("flow-new", f"{base}/flows/new/"),
        ("editor", f"{base}/flows/{flow.pk}/"),
        ("delivery-log", f"{base}/events/"),
        ("event-detail", f"{base}/events/{event.pk}/"),
        ("events-summary", f"{base}/events/overview/"),
        ("inbox", f"{base}/inbox/"),
        ("conversation", f"{base}/inbox/{lead.pk}/"),
        ("people", f"{base}/people/"),
        ("person", f"{base}/people/{someone.pk}/"),
        ("members", f"{base}/members/"),
        ("api-keys", f"{base}/api-keys/"),
        ("audit", f"{base}/audit/"),
        ("settings", f"{base}/settings/"),
        ("not-found", "/no/such/page/"),
    ]


def overflow(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


# The innermost elements that reach past the right edge, to say what to fix.
CULPRITS = """() => [...document.querySelectorAll("body *")]
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5
    && ![...el.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .slice(0, 3)
  .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}`)"""


def test_no_screen_scrolls_sideways_on_a_phone(
    page: Page, screens: list[tuple[str, str]], screenshot_dir: Path
) -> None:
    page.goto("/accounts/login/")
    page.set_viewport_size({"width": 390, "height": 844})
    assert overflow(page) <= 0, "the sign-in page scrolls sideways"
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/t/{SLUG}/$"))

    too_wide: list[str] = []
    for width in (390, 360):
        page.set_viewport_size({"width": width, "height": 844})
        for name, path in screens:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            if (extra := overflow(page)) > 0:
                culprits = ", ".join(page.evaluate(CULPRITS))
                too_wide.append(f"{name} ({path}) at {width}px: {extra}px too wide ({culprits})")
            if width == 390:
                page.screenshot(path=str(screenshot_dir / f"phone-{name}.png"), full_page=True)
    assert too_wide == [], "Screens that scroll sideways:\n" + "\n".join(too_wide)


def test_the_navigation_folds_behind_a_menu_button_on_a_phone(
    page: Page, screens: list[tuple[str, str]]
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.goto(f"/t/{SLUG}/members/")
    nav = page.get_by_role("navigation", name="Workspace")
    menu = page.get_by_role("button", name="Menu")
    expect(nav).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    nav.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    # On a laptop the navigation is always there, and there is no Menu button.
    page.set_viewport_size({"width": 1366, "height": 800})
    expect(page.get_by_role("navigation", name="Workspace")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()


# Cells of a table shown as cards (a phone) that show a value without saying what it is: the
# card's first cell (its title) and cells of buttons or form controls need no label.
UNLABELLED = """() => [...document.querySelectorAll(".card table > tbody > tr > td")]
  .filter((td) => td.offsetParent !== null && td.textContent.trim() !== "")
  .filter((td) => td !== td.parentElement.firstElementChild && !td.hasAttribute("colspan"))
  .filter((td) => !td.querySelector("button, input, select"))
  .filter((td) => getComputedStyle(td, "::before").content === "none")
  .map((td) => td.textContent.trim().replace(/\\s+/g, " ").slice(0, 40))"""


def test_every_value_on_a_phone_card_says_what_it_is(
    page: Page, screens: list[tuple[str, str]], screenshot_dir: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/t/{SLUG}/$"))
    unlabelled: list[str] = []
    for name, path in screens:
        page.goto(path)
        unlabelled += [f"{name}: {cell}" for cell in page.evaluate(UNLABELLED)]
    assert unlabelled == [], "Values on phone cards without a label:\n" + "\n".join(unlabelled)
    page.goto(f"/t/{SLUG}/flows/")
    status = page.get_by_role("cell", name=re.compile("Published"))
    assert status.evaluate("td => getComputedStyle(td, '::before').content") == '"Status"'
    page.goto(f"/t/{SLUG}/inbox/")
    expect(page.get_by_role("cell").filter(has_text="Dana's Bike Shop Downtown")).to_have_attribute(
        "data-label", "Page"
    )
