"""Issue 16 item 5 in a real browser: signing in again lands in the workspace used last, and the
audit log narrows to one action with its filters (screenshots at laptop and phone width)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tenants.models import AuditAction, AuditEvent, Membership, Tenant
from tests.browser.helpers import person, sign_in


@pytest.fixture
def dana(db: None) -> User:
    user = person("dana")
    for name, slug in (("Alpha Bikes", "alpha"), ("Beta Bakery", "beta")):
        tenant = Tenant.objects.create(name=name, slug=slug, country="US")
        Membership.objects.create(tenant=tenant, user=user, role="owner")
    beta = Tenant.objects.get(slug="beta")
    for who, action, target in (
        ("kim@example.com", AuditAction.PAGE_CONNECTED, "Beta Bakery Page"),
        ("kim@example.com", AuditAction.FLOW_CREATED, "Welcome"),
        (
            "API key “Zapier” (pp_ab12cd34_…) of kim@example.com",
            AuditAction.FLOW_PUBLISHED,
            "Welcome",
        ),
    ):
        AuditEvent.objects.create(tenant=beta, actor_label=who, action=action, target=target)
    return user


def test_sign_in_again_lands_in_the_last_workspace_and_the_audit_log_filters(
    page: Page, dana: User, screenshot_dir: Path
) -> None:
    sign_in(page, "dana")
    expect(page.get_by_role("heading", name="Your workspaces")).to_be_visible()
    page.goto("/t/beta/audit/")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "dana")
    expect(page).to_have_url(re.compile(r"/t/beta/$"))

    page.goto("/t/beta/audit/")
    filters = page.get_by_role("form", name="Filter the audit log")
    filters.get_by_label("What").select_option(label="Flow published")
    filters.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("row")
    expect(rows).to_have_count(2)  # the header and one event
    expect(rows.nth(1)).to_contain_text("API key “Zapier” (pp_ab12cd34_…) of kim@example.com")
    page.screenshot(path=str(screenshot_dir / "audit-filtered-1366.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_dir / "audit-filtered-390.png"), full_page=True)
    page.get_by_role("link", name="Clear").click()
    expect(page.get_by_role("row")).to_have_count(4)
