"""No console errors on the app's screens nor on the Graph sandbox's pages: in particular the
browser's own request for /favicon.ico (a 404 in the app and a 400 in the sandbox before)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page
from pytest_django.live_server_helper import LiveServer

from tenants.models import Tenant
from tenants.permissions import Role
from tests.browser.helpers import PASSWORD, TIMEOUT_MS, person
from tests.sandbox_fixtures import ADA, ADA_PAGE, GraphSandbox


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    return errors


@pytest.fixture
def fresh_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def assert_favicon(page: Page, base: str) -> None:
    """Headless Chromium does not fetch /favicon.ico by itself as a windowed one does (where a
    failure is a console error), so ask for it as the browser would."""
    response = page.request.get(f"{base}/favicon.ico")
    assert response.ok, f"/favicon.ico answered {response.status}"
    assert response.headers["content-type"].startswith("image/svg+xml")


def test_sandbox_pages_have_no_console_errors(
    fresh_page: Page, graph_sandbox: GraphSandbox
) -> None:
    errors = console_errors(fresh_page)
    fresh_page.goto(f"{graph_sandbox.url}/_sandbox/webhook?user_id={ADA}&page_id={ADA_PAGE}")
    fresh_page.wait_for_load_state("networkidle")
    assert_favicon(fresh_page, graph_sandbox.url)
    fresh_page.goto(f"{graph_sandbox.url}/_sandbox/")
    fresh_page.wait_for_load_state("networkidle")
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_app_screens_have_no_console_errors(fresh_page: Page, live_server: LiveServer) -> None:
    tenant = Tenant.objects.create(name="Acme Bots", slug="acme-bots", country="US")
    person("ada", tenant, Role.OWNER)
    errors = console_errors(fresh_page)
    fresh_page.goto(f"{live_server.url}/accounts/login/")
    fresh_page.get_by_label("Username").fill("ada")
    fresh_page.get_by_label("Password").fill(PASSWORD)
    fresh_page.get_by_role("button", name="Sign in").click()
    fresh_page.wait_for_load_state("networkidle")
    for path in ("", "pages/", "inbox/", "people/", "members/", "api-keys/", "audit/", "settings/"):
        fresh_page.goto(f"{live_server.url}/t/acme-bots/{path}")
        fresh_page.wait_for_load_state("networkidle")
    assert_favicon(fresh_page, live_server.url)
    assert errors == []
