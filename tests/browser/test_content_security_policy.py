"""Every server-rendered screen, and the sandbox's Facebook Login dialog, under the
Content-Security-Policy (issue #12, access 4), in Chromium.

Each response must carry a strict policy (scripts only from our origin or with the request's
nonce, never 'unsafe-inline'), and no screen may break it: the `page` fixture fails the test on
any violation Chromium reports.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from events.models import EventStatus
from flows.models import TriggerKind
from tenants import services
from tenants.models import Membership
from tests.browser.helpers import TIMEOUT_MS, person, sign_in, watch_csp
from tests.events.factories import LoggedEventFactory, delivered_event
from tests.flows.factories import handed_off, published_flow
from tests.sandbox_fixtures import ADA, ADA_PAGE_2, GraphSandbox
from tests.tenants.factories import ConnectedPageFactory, TenantFactory


@pytest.fixture
def owner(db: None) -> User:
    """A workspace owner (and a superuser, for the Django admin) with something on each screen."""
    user = person("dana", superuser=True)
    tenant = TenantFactory.create(name="Dana's Bikes", slug="danas-bikes")
    Membership.objects.create(tenant=tenant, user=user, role="owner")
    page = ConnectedPageFactory.create(
        tenant=tenant, page_id="104729384756102", name="Dana's Bikes"
    )
    published_flow(tenant, page=page, name="Welcome", trigger_kind=TriggerKind.DEFAULT)
    handed_off(tenant=tenant, page=page)
    delivered_event(tenant=tenant, page=page, event="purchase")
    LoggedEventFactory.create(
        tenant=tenant, page=page, event="lead_submitted", status=EventStatus.FAILED
    )
    services.api_key_create(tenant=tenant, actor=services.Actor(user=user), name="CRM sync")
    return user


def assert_strict_policy(header: str | None, url: str) -> None:
    assert header, f"{url} has no Content-Security-Policy"
    directives = {}
    for part in (p.strip() for p in header.split(";")):
        name, _, value = part.partition(" ")
        directives[name] = value
    assert re.fullmatch(r"'self'( 'nonce-[A-Za-z0-9+/=_-]+')?", directives["script-src"]), header
    assert directives["style-src"] == "'self'", header
    assert directives["default-src"] == "'self'", header
    assert directives["object-src"] == "'none'", header
    assert directives["frame-ancestors"] == "'none'", header
    assert "unsafe-inline" not in header, header
    assert "unsafe-eval" not in header, header


def screens(owner: User) -> list[str]:
    slug = "danas-bikes"
    flow = owner.memberships.get().tenant.flow_set.get(name="Welcome")
    event = owner.memberships.get().tenant.loggedevent_set.order_by("pk").first()
    assert event is not None
    return [
        "/t/",
        f"/t/{slug}/",
        f"/t/{slug}/pages/",
        f"/t/{slug}/flows/",
        f"/t/{slug}/flows/{flow.pk}/",
        f"/t/{slug}/events/",
        f"/t/{slug}/events/overview/",
        f"/t/{slug}/events/{event.pk}/",
        f"/t/{slug}/inbox/?state=all",
        f"/t/{slug}/members/",
        f"/t/{slug}/api-keys/",
        f"/t/{slug}/audit/",
        f"/t/{slug}/settings/",
        "/api/docs/",
        "/admin/",
        "/admin/tenants/apikey/",
        f"/admin/tenants/connectedpage/{flow.page_id}/change/",
        "/admin/axes/accessattempt/",
        "/no-such-page/",
    ]


def test_every_screen_carries_a_strict_policy_and_breaks_none_of_it(
    page: Page, owner: User
) -> None:
    login = page.goto("/accounts/login/")
    assert login is not None
    assert_strict_policy(login.headers.get("content-security-policy"), "/accounts/login/")
    sign_in(page, "dana")
    for url in screens(owner):
        response = page.goto(url)
        assert response is not None
        assert response.status < 500, url
        assert_strict_policy(response.headers.get("content-security-policy"), url)
        page.wait_for_load_state("networkidle")
    # Swagger UI ran: its scripts came from our origin and drew the API.
    page.goto("/api/docs/")
    expect(page.get_by_text("Pagepulse API")).to_be_visible()


def test_scripted_screens_work_under_the_policy(page: Page, owner: User) -> None:
    """The screens whose JavaScript does something: the flow editor and its test chat, the delivery log's counts,
    the key's copy button (the policy blocks an inline handler or style, not these)."""
    sign_in(page, "dana")
    flow = owner.memberships.get().tenant.flow_set.get(name="Welcome")
    page.goto(f"/t/danas-bikes/flows/{flow.pk}/")
    # The flow editor: a Vite build loaded from /static/, its config from json_script, its
    # first API calls preloaded, React and @xyflow/react styling through the CSSOM.
    expect(page.get_by_label("Flow name")).to_have_value("Welcome")
    expect(page.get_by_role("region", name="Flow canvas").get_by_role("group")).not_to_have_count(0)
    page.get_by_role("button", name="Test").click()
    page.get_by_role("region", name="Test chat").get_by_role("button", name="Start").click()
    expect(page.get_by_text("Hello! How can we help?").first).to_be_visible()

    page.goto("/t/danas-bikes/api-keys/")
    page.get_by_label("Name").fill("Zapier")
    page.get_by_role("button", name="Create key").click()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name=re.compile("Copied|Selected"))).to_be_visible()


def test_continue_with_facebook_reaches_the_sandboxs_dialog_under_the_policy(
    page: Page, owner: User, sandbox: GraphSandbox
) -> None:
    """`form-action` lets the sign-in form's redirect reach FACEBOOK_WWW_URL (Chromium checks
    it), and the dialog, with the scope that asks for email, brings the person back."""
    sign_in(page, "dana")
    page.goto("/t/danas-bikes/pages/")
    page.get_by_role("button", name=re.compile("Continue with Facebook")).first.click()
    page.get_by_role("link", name=re.compile("Ada Sandbox")).click()
    expect(page.get_by_role("checkbox", name="email")).to_be_checked()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/t/danas-bikes/pages/$"))
    expect(page.get_by_role("heading", name="From your Facebook Login")).to_be_visible()


def test_the_sandboxs_pages_carry_a_policy_and_break_none_of_it(
    browser: Browser, graph_sandbox: GraphSandbox, live_server: LiveServer
) -> None:
    context = browser.new_context(base_url=graph_sandbox.url)
    context.set_default_timeout(TIMEOUT_MS)
    violations = watch_csp(context)
    sandbox = context.new_page()
    dialog = (
        f"/v25.0/dialog/oauth?client_id={graph_sandbox.app_id}&redirect_uri="
        f"{live_server.url}/auth/complete/facebook/&scope=email,page_events&state=s"
    )
    for url in [dialog, f"{dialog}&sandbox_user={ADA}", f"/_sandbox/webhook?user_id={ADA}"]:
        response = sandbox.goto(url)
        assert response is not None
        header = response.headers.get("content-security-policy", "")
        assert "script-src 'nonce-" in header, (url, header)
        assert "unsafe-inline" not in header, (url, header)
    # The webhook form's user and Page pickers submit themselves (formerly inline handlers).
    sandbox.locator("#pick-page").select_option(ADA_PAGE_2)
    expect(sandbox).to_have_url(re.compile(f"page_id={ADA_PAGE_2}"))
    context.close()
    assert violations == []


def test_the_watch_catches_a_violation(browser: Browser, live_server: LiveServer) -> None:
    """The check itself: an inline style set as an attribute is reported."""
    context = browser.new_context(base_url=live_server.url)
    violations = watch_csp(context)
    probe = context.new_page()
    probe.goto("/accounts/login/")
    probe.evaluate("document.body.setAttribute('style', 'color: red')")
    for _ in range(TIMEOUT_MS // 50):  # poll, with a deadline, for the report to arrive
        if violations:
            break
        probe.wait_for_timeout(50)
    context.close()
    assert any("style-src" in v for v in violations), violations
