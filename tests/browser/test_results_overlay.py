"""The editor's Results overlay in a real browser: a published flow, a few people through the
Graph sandbox's signed webhooks (one of them from a click-to-Messenger ad), their events
delivered to the sandbox, then the counts on the blocks and edges."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from events import delivery
from flows import services
from flows.models import Conversation
from messenger import runtime
from messenger.models import WebhookDelivery
from tenants.crypto import encrypt_token
from tenants.models import ConnectedPage, Membership, Tenant, Transport
from tenants.services import Actor
from tests.browser.helpers import PASSWORD, block, person
from tests.flows.factories import edge, node
from tests.sandbox_fixtures import ADA_PAGE, GraphSandbox
from tests.tenants.factories import ConnectedPageFactory, TenantFactory

AD = "6000000000099"


@pytest.fixture
def viewer(db: None) -> User:
    return person("mo")


@pytest.fixture
def workspace(viewer: User) -> Tenant:
    tenant = TenantFactory.create(name="Mo's Cakes", slug="mos-cakes")
    # A viewer: the overlay is for everyone who can see the flow.
    Membership.objects.create(tenant=tenant, user=viewer, role="viewer")
    return tenant


@pytest.fixture
def author(workspace: Tenant) -> User:
    return person("lin", workspace, "editor")


@pytest.fixture
def bakery(
    workspace: Tenant,
    graph_sandbox: GraphSandbox,
    live_server: LiveServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> ConnectedPage:
    """The sandbox's Page, connected; the sandbox delivers its webhooks to the live server."""
    settings.GRAPH_API_URL = graph_sandbox.url
    settings.FACEBOOK_APP_SECRET = graph_sandbox.app_secret
    token = graph_sandbox.page_token()
    dataset = graph_sandbox.post(f"/{ADA_PAGE}/dataset", token).json()["id"]
    graph_sandbox.webhook_config(url=f"{live_server.url}/webhooks/messenger", retries=0)
    # No Celery worker here: the test runs the stored deliveries itself (see `run_deliveries`).
    monkeypatch.setattr(runtime, "_apply_async", lambda *args, **kwargs: None)
    return ConnectedPageFactory.create(
        tenant=workspace,
        name="Mo's Cakes",
        page_id=ADA_PAGE,
        transport=Transport.CONVERSIONS_API,
        dataset_id=dataset,
        token_encrypted=encrypt_token(token),
    )


def cake_flow(workspace: Tenant, page: ConnectedPage, author: User) -> int:
    document = {
        "nodes": [
            {**node("start", "start"), "position": {"x": 0, "y": 0}},
            {
                **node("ask", "ask", question="Your name?", variable="name", check="text"),
                "position": {"x": 0, "y": 160},
            },
            {
                **node("lead", "log_event", event="lead_submitted", params={"name": "{{name}}"}),
                "position": {"x": 0, "y": 340},
            },
            {
                **node("thanks", "send_message", text="Thanks {{name}}, we'll call you!"),
                "position": {"x": 0, "y": 520},
            },
            {**node("end", "end"), "position": {"x": 0, "y": 680}},
        ],
        "edges": [
            edge("start", "ask"),
            edge("ask", "lead"),
            edge("lead", "thanks"),
            edge("thanks", "end"),
        ],
    }
    actor = Actor(user=author)
    flow = services.flow_create(
        tenant=workspace,
        actor=actor,
        page_id=page.pk,
        name="Cake quotes",
        trigger={"kind": "keywords", "keywords": ["cake"], "ref": ""},
        document=document,
    )
    services.flow_publish(tenant=workspace, actor=actor, flow_id=flow.pk)
    return flow.pk


def run_deliveries() -> None:
    """What the runtime's worker does with each stored webhook delivery."""
    for pk in WebhookDelivery.objects.filter(processed_at__isnull=True).values_list(
        "pk", flat=True
    ):
        runtime.delivery_process(delivery_id=pk)


def say(graph_sandbox: GraphSandbox, psid: str, text: str, **extra: Any) -> None:
    sent = graph_sandbox.send_webhook(page_id=ADA_PAGE, psid=psid, retries=0, text=text, **extra)
    assert sent["ok"], sent["attempts"]
    run_deliveries()


@pytest.mark.usefixtures("runtime_redis")
def test_results_show_who_reached_each_block_and_where_they_dropped_off(
    page: Page,
    workspace: Tenant,
    bakery: ConnectedPage,
    author: User,
    graph_sandbox: GraphSandbox,
    screenshot_dir: Path,
) -> None:
    flow_id = cake_flow(workspace, bakery, author)
    # Three people ask about cakes, one from an ad; two give their name, one drops off.
    say(
        graph_sandbox,
        "6100000000000001",
        "A cake please",
        message_referral={"source": "ADS", "ad_id": AD, "ads_context_data": {"ad_title": "Cakes"}},
    )
    say(graph_sandbox, "6100000000000002", "cake?")
    say(graph_sandbox, "6100000000000003", "birthday cake")
    say(graph_sandbox, "6100000000000001", "Ada")
    say(graph_sandbox, "6100000000000002", "Bo")
    assert Conversation.objects.get(psid="6100000000000001").ad_id == AD
    report = delivery.page_deliver(tenant_id=workspace.pk, page_id=bakery.pk)
    assert report.delivered == 2

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("mo")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/t/mos-cakes/flows/{flow_id}/")
    expect(page.get_by_label("Flow name")).to_have_value("Cake quotes")

    results = page.get_by_role("button", name="Results", exact=True)
    expect(results).to_have_attribute("aria-pressed", "false")
    results.click()
    expect(results).to_have_attribute("aria-pressed", "true")
    bar = page.get_by_role("region", name="Results")
    expect(bar.get_by_role("status")).to_have_text(
        "3 people started. Read-only while results are shown."
    )
    expect(bar.get_by_label("Version")).to_have_value("latest")

    expect(block(page, "Start").get_by_role("note", name=re.compile("^Results"))).to_have_attribute(
        "aria-label", "Results: 3 people reached"
    )
    asked = block(page, "Ask a question: Your name?")
    expect(asked.get_by_role("note", name=re.compile("^Results"))).to_have_attribute(
        "aria-label", "Results: 3 people reached, 1 dropped off (33%)"
    )
    expect(asked).to_contain_text("▼ 1 dropped off (33%)")
    lead = block(page, "Log event")
    expect(lead.get_by_role("note", name=re.compile("^Results"))).to_have_attribute(
        "aria-label", "Results: 2 people reached"
    )
    expect(lead.get_by_role("note", name=re.compile("^Events"))).to_have_attribute(
        "aria-label", "Events: 2 delivered, 0 failed, 0 not sent"
    )
    # The edge out of the question carries its share.
    expect(page.get_by_text("67% · 2")).to_be_visible()
    # Read-only while shown: no dragging, no wiring, the settings locked.
    expect(page.get_by_label("Flow name")).to_be_disabled()
    page.screenshot(path=str(screenshot_dir / "editor-results.png"))

    # Another period: nobody.
    bar.get_by_label("From").fill("2020-01-01")
    bar.get_by_label("To").fill("2020-01-31")
    expect(bar.get_by_role("status")).to_have_text(
        "0 people started. Read-only while results are shown."
    )
    expect(asked.get_by_role("note", name=re.compile("^Results"))).to_have_attribute(
        "aria-label", "Results: 0 people reached"
    )
    # A period the API refuses says why.
    bar.get_by_label("From").fill("2020-02-01")
    expect(bar.get_by_role("status")).to_contain_text("is after `to`")

    bar.get_by_label("From").fill("")
    bar.get_by_label("To").fill("")
    expect(bar.get_by_role("status")).to_have_text(
        "3 people started. Read-only while results are shown."
    )
    results.click()
    expect(page.get_by_role("region", name="Results")).to_have_count(0)
    expect(asked.get_by_role("note")).to_have_count(0)
    expect(page.get_by_label("Flow name")).to_be_disabled()  # a viewer's editor stays read-only

    # On a phone: the same numbers, the whole flow in view.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    results.click()
    expect(asked.get_by_role("note", name=re.compile("^Results"))).to_have_attribute(
        "aria-label", "Results: 3 people reached, 1 dropped off (33%)"
    )
    page.get_by_role("button", name="Fit View").click()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshot_dir / "editor-results-phone.png"), full_page=True)
