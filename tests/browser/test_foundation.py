"""Issue #2's user story, in a real browser: sign in, create a workspace, add a colleague with
a role, create an API key and see its secret exactly once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tenants.models import Membership
from tests.browser.helpers import person, sign_in


@pytest.fixture
def owner(db: None) -> User:
    return person("ada", first_name="Ada")


@pytest.fixture
def colleague(db: None) -> User:
    # Members are added by email and must have signed in once, so the colleague already exists.
    return person("grace", first_name="Grace", last_name="Hopper")


def test_owner_sets_up_a_workspace(
    page: Page, owner: User, colleague: User, screenshot_dir: Path
) -> None:
    sign_in(page, owner.username)
    expect(page).to_have_url(re.compile(r"/t/$"))
    expect(page.get_by_role("heading", name="Your workspaces")).to_be_visible()

    # Create a workspace; its creator becomes the owner and lands on its overview.
    page.get_by_label("Name").fill("Acme Bots")
    page.get_by_label("Country").select_option("US")
    page.get_by_role("button", name="Create workspace").click()
    expect(page.get_by_text("Workspace “Acme Bots” created. You are its owner.")).to_be_visible()
    slug = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page).to_have_url(re.compile(rf"/t/{slug}/$"))

    page.goto("/t/")
    acme = page.get_by_role("row", name=re.compile("Acme Bots"))
    expect(acme).to_contain_text("United States of America")
    expect(acme).to_contain_text("Owner")
    page.screenshot(path=screenshot_dir / "workspace-list.png", full_page=True)

    # Add the colleague as an editor.
    acme.get_by_role("link", name="Acme Bots").click()
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Members").click()
    page.get_by_label("Email").fill(colleague.email)
    page.get_by_label("Role", exact=True).select_option("editor")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("Added grace@example.com as Editor.")).to_be_visible()
    expect(page.get_by_label("Role of grace@example.com")).to_have_value("editor")
    page.screenshot(path=screenshot_dir / "members.png", full_page=True)
    assert Membership.objects.get(tenant__slug=slug, user=colleague).role == "editor"

    # Create an API key: its secret is on this page and never again.
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("CRM sync")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Key “CRM sync” created")).to_be_visible()
    secret = page.locator("#new-key").inner_text().strip()
    assert re.fullmatch(r"pp_[0-9a-f]+_[A-Za-z0-9_-]{43}", secret), secret
    expect(page.get_by_role("row", name=re.compile("CRM sync"))).to_be_visible()
    page.screenshot(path=screenshot_dir / "api-keys.png", full_page=True)

    # The key works against the API...
    response = page.request.get(
        f"/api/v1/tenants/{slug}/members/", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status == 200, response.text()

    # ...and the page never shows it again. (A GET: reloading would re-send the form's POST.)
    page.goto(page.url)
    expect(page.get_by_role("row", name=re.compile("CRM sync"))).to_be_visible()
    expect(page.locator("#new-key")).to_have_count(0)
    assert secret not in page.content()
