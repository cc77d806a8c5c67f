"""Destructive actions in a real browser: each asks first in a dialog that says what happens,
Cancel does nothing, a Page's disconnection can be undone without another Facebook Login, and
revoking a key needs its name typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from tenants.crypto import encrypt_token
from tenants.models import ApiKey, ConnectedPage, Membership, PageStatus, Tenant, Transport
from tests.browser.helpers import person, sign_in
from tests.sandbox_fixtures import ADA, ADA_PAGE, GraphSandbox
from tests.tenants.factories import api_key


@pytest.fixture
def workspace(db: None) -> Tenant:
    tenant = Tenant.objects.create(name="Dana's Bikes", slug="danas-bikes", country="US")
    person("dana", tenant, "owner")
    return tenant


def test_disconnect_asks_then_undo_reconnects(
    page: Page, sandbox: GraphSandbox, workspace: Tenant, screenshot_dir: Path
) -> None:
    ConnectedPage.objects.create(
        tenant=workspace,
        page_id=ADA_PAGE,
        name="Ada's Bakery",
        transport=Transport.CONVERSIONS_API,
        dataset_id="1",
        token_encrypted=encrypt_token(sandbox.page_token(ADA, ADA_PAGE)),
    )
    sign_in(page, "dana")
    page.goto("/t/danas-bikes/pages/")

    page.get_by_role("button", name="Disconnect Ada's Bakery").click()
    dialog = page.get_by_role("dialog", name="Disconnect “Ada's Bakery”?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("its flows stop answering there")
    expect(dialog).to_contain_text("seconds you can Undo")
    page.screenshot(path=str(screenshot_dir / "confirm-disconnect-1366.png"))
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert ConnectedPage.objects.get().status == PageStatus.ACTIVE

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Disconnect Ada's Bakery").click()
    page.screenshot(path=str(screenshot_dir / "confirm-disconnect-390.png"))
    dialog.get_by_role("button", name="Disconnect Page").click()
    expect(page.get_by_text("“Ada's Bakery” is disconnected.")).to_be_visible()
    assert ConnectedPage.objects.get().status == PageStatus.DISCONNECTED
    page.set_viewport_size({"width": 1366, "height": 800})
    page.screenshot(path=str(screenshot_dir / "undo-disconnect-1366.png"))

    page.get_by_role("button", name="Undo disconnecting Ada's Bakery").click()
    expect(
        page.get_by_text("“Ada's Bakery” is connected again with the token it had.")
    ).to_be_visible()
    assert ConnectedPage.objects.get().status == PageStatus.ACTIVE


def test_removing_a_member_asks_then_undo_brings_them_back(
    page: Page, workspace: Tenant, screenshot_dir: Path
) -> None:
    colleague = person("kim", workspace, "editor")
    sign_in(page, "dana")
    page.goto("/t/danas-bikes/members/")
    page.get_by_role("button", name="Remove kim@example.com").click()
    dialog = page.get_by_role("dialog", name="Remove kim@example.com from Dana's Bikes?")
    expect(dialog).to_contain_text("seconds you can Undo: they come back as Editor")
    page.screenshot(path=str(screenshot_dir / "confirm-remove-member-1366.png"))
    dialog.get_by_role("button", name="Remove member").click()
    expect(page.get_by_text("Member removed.")).to_be_visible()
    assert not Membership.objects.filter(user=colleague).exists()
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_dir / "undo-remove-member-390.png"), full_page=True)

    page.get_by_role("button", name="Undo removing kim@example.com").click()
    expect(page.get_by_text("kim@example.com is a member again, as Editor.")).to_be_visible()
    assert Membership.objects.get(user=colleague).role == "editor"
    expect(page.get_by_role("combobox", name="Role of kim@example.com")).to_have_value("editor")


def test_revoking_a_key_needs_its_name(page: Page, workspace: Tenant, screenshot_dir: Path) -> None:
    api_key(workspace, name="Zapier sync")
    sign_in(page, "dana")
    page.goto("/t/danas-bikes/api-keys/")
    page.get_by_role("button", name="Revoke Zapier sync").click()
    dialog = page.get_by_role("dialog", name="Revoke the API key “Zapier sync”?")
    expect(dialog).to_contain_text("This cannot be undone")
    confirm = dialog.get_by_role("button", name="Revoke key")
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Type Zapier sync to confirm").fill("Zapier")
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Type Zapier sync to confirm").fill("Zapier sync")
    page.screenshot(path=str(screenshot_dir / "confirm-revoke-key-1366.png"))
    confirm.click()
    expect(page.get_by_text("Key “Zapier sync” revoked.")).to_be_visible()
    assert ApiKey.objects.get().revoked_at is not None


def test_deleting_the_workspace_then_restoring_it(
    page: Page, workspace: Tenant, screenshot_dir: Path
) -> None:
    sign_in(page, "dana")
    page.goto("/t/danas-bikes/settings/")
    page.get_by_role("button", name="Delete workspace…").click()
    dialog = page.get_by_role("dialog", name="Delete the workspace “Dana's Bikes”?")
    expect(dialog).to_contain_text("removed for good")
    dialog.get_by_label("Type Dana's Bikes to confirm").fill("Dana's Bikes")
    page.screenshot(path=str(screenshot_dir / "confirm-delete-workspace-1366.png"))
    dialog.get_by_role("button", name="Delete workspace").click()
    expect(
        page.get_by_role("alert").filter(has_text=re.compile("will be deleted on"))
    ).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(
        path=str(screenshot_dir / "workspace-deletion-scheduled-390.png"), full_page=True
    )
    page.get_by_role("button", name="Restore workspace").click()
    expect(page.get_by_text("“Dana's Bikes” is restored: it will not be deleted.")).to_be_visible()
    workspace.refresh_from_db()
    assert workspace.delete_after is None


def test_without_javascript_the_confirmation_is_a_page(
    browser: Browser,
    live_server: LiveServer,
    workspace: Tenant,
    screenshot_dir: Path,
) -> None:
    colleague = person("kim", workspace, "editor")
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 1366, "height": 800}
    )
    page = context.new_page()
    sign_in(page, "dana")
    page.goto("/t/danas-bikes/members/")
    page.get_by_role("button", name="Remove kim@example.com").click()
    expect(
        page.get_by_role("heading", name="Remove kim@example.com from Dana's Bikes?")
    ).to_be_visible()
    expect(page.get_by_text("They can no longer open Dana's Bikes.")).to_be_visible()
    assert Membership.objects.filter(user=colleague).exists()
    page.screenshot(path=str(screenshot_dir / "confirm-page-no-js-1366.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_dir / "confirm-page-no-js-390.png"), full_page=True)
    page.get_by_role("button", name="Remove member").click()
    expect(page.get_by_text("Member removed.")).to_be_visible()
    assert not Membership.objects.filter(user=colleague).exists()
    context.close()
