"""The lead-generation template end to end against the real Graph sandbox: signed webhooks in
(through the Django test client), Send API answers out, lead_submitted delivered."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from events import delivery
from events.models import EventStatus, LoggedEvent
from flows.models import Conversation, ConversationStatus, Flow
from flows.services import flow_create, flow_publish
from messenger.models import OutboundMessage
from tenants.crypto import encrypt_token
from tenants.models import ConnectedPage, Tenant, Transport
from tenants.permissions import Role
from tenants.services import Actor
from tests.messenger.runtime_support import (
    InlineWorker,
    encode,
)
from tests.sandbox_fixtures import ADA_PAGE, GraphSandbox
from tests.tenants.factories import ConnectedPageFactory, member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runtime_redis", "lead_flow")]

PSID = "6100000000000077"
UNREACHABLE = "http://127.0.0.1:9/webhooks/messenger"


@pytest.fixture
def sandbox_page(graph_sandbox: GraphSandbox, settings: Settings, tenant: Tenant) -> ConnectedPage:
    """Ada's Bakery connected with a real sandbox Page token and dataset; Graph is the sandbox."""
    settings.GRAPH_API_URL = graph_sandbox.url
    settings.FACEBOOK_APP_SECRET = graph_sandbox.app_secret
    token = graph_sandbox.page_token()
    dataset = graph_sandbox.post(f"/{ADA_PAGE}/dataset", token).json()["id"]
    # The sandbox's delivery cannot reach the test client; it still signs the body and opens
    # the 24-hour window, and the test posts those exact bytes itself.
    graph_sandbox.webhook_config(url=UNREACHABLE, retries=0)
    return ConnectedPageFactory.create(
        tenant=tenant,
        page_id=ADA_PAGE,
        transport=Transport.CONVERSIONS_API,
        dataset_id=dataset,
        token_encrypted=encrypt_token(token),
    )


@pytest.fixture
def lead_flow(sandbox_page: ConnectedPage, tenant: Tenant) -> Flow:
    """The lead-generation template, published for the sandbox Page."""
    actor = Actor(user=member(tenant, Role.OWNER).user)
    flow = flow_create(
        tenant=tenant, actor=actor, page_id=sandbox_page.pk, template="lead_generation"
    )
    flow_publish(tenant=tenant, actor=actor, flow_id=flow.pk)
    return flow


def _say(graph_sandbox: GraphSandbox, client: Client, worker: InlineWorker, **what: Any) -> None:
    sent = graph_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, retries=0, **what)
    body = encode(sent["body"])
    response = worker.post(client, body, signature=sent["headers"]["X-Hub-Signature-256"])
    assert response.status_code == 200, response.content
    worker.drain()


def test_the_lead_template_end_to_end(
    graph_sandbox: GraphSandbox,
    sandbox_page: ConnectedPage,
    client: Client,
    worker: InlineWorker,
    tenant: Tenant,
) -> None:

    _say(graph_sandbox, client, worker, text="Hi, I'd like a quote")
    _say(graph_sandbox, client, worker, quick_reply={"text": "A quote", "payload": "A quote"})
    _say(graph_sandbox, client, worker, quick_reply={"text": "This month", "payload": "This month"})
    _say(graph_sandbox, client, worker, quick_reply={"text": "Email", "payload": "Email"})
    _say(graph_sandbox, client, worker, text="not an email")
    _say(graph_sandbox, client, worker, text="ada@example.com")

    messages = graph_sandbox.sent_messages(page_id=ADA_PAGE, psid=PSID)
    assert [m["message"]["text"] for m in messages] == [
        "Hi! We'd love to help. Two quick questions, then we'll put you in touch.",
        "What are you looking for?",
        "When would you like to get started?",
        "How should we contact you?",
        "What's your email address?",
        "That doesn't look like an email address. Could you check it?",
        "What's your email address?",
        "Thank you! Someone from our team will contact you at ada@example.com shortly.",
    ]
    assert messages[1]["message"]["quick_replies"][0] == {
        "content_type": "text",
        "title": "A quote",
        "payload": "A quote",
    }
    assert {m["messaging_type"] for m in messages} == {"RESPONSE"}
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.HANDED_OFF
    assert conversation.handoff_note == (
        "New lead: A quote, starting This month. Contact by Email: ada@example.com."
    )

    lead = LoggedEvent.objects.get()
    assert (lead.event, lead.psid, lead.status) == ("lead_submitted", PSID, EventStatus.PENDING)
    report = delivery.page_deliver(tenant_id=tenant.pk, page_id=sandbox_page.pk)

    assert report.delivered == 1
    received = graph_sandbox.events(page_id=ADA_PAGE, psid=PSID)
    assert [(e["transport"], e["event_name"]) for e in received] == [
        ("conversions_api", "LeadSubmitted")
    ]


def test_a_repeated_delivery_from_the_sandbox_answers_once(
    graph_sandbox: GraphSandbox,
    sandbox_page: ConnectedPage,
    client: Client,
    worker: InlineWorker,
    tenant: Tenant,
) -> None:
    first = graph_sandbox.send_webhook(page_id=ADA_PAGE, psid=PSID, retries=0, text="pricing?")
    again = graph_sandbox.resend_webhook(first["id"], retries=0)

    for sent in (first, again):
        worker.post(client, encode(sent["body"]), signature=sent["headers"]["X-Hub-Signature-256"])
        worker.drain()

    assert len(graph_sandbox.sent_messages(page_id=ADA_PAGE, psid=PSID)) == 2  # welcome + ask


def test_a_revoked_page_token_marks_the_page_on_send(
    graph_sandbox: GraphSandbox,
    sandbox_page: ConnectedPage,
    client: Client,
    worker: InlineWorker,
    tenant: Tenant,
) -> None:
    graph_sandbox.revoke(page_id=ADA_PAGE)

    _say(graph_sandbox, client, worker, text="info")

    sandbox_page.refresh_from_db()
    assert sandbox_page.status == "needs_reauth"
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"failed"}
    assert graph_sandbox.sent_messages(page_id=ADA_PAGE) == []


MENU_TEXT = "What can we do for you?"
HOURS_TEXT = "We're open 9 to 5."
PRICES_TEXT = "From 10 EUR a month."
OTHER_TEXT = "Someone will answer you soon."


def _menu_document() -> dict[str, Any]:
    """A menu whose postback button and quick reply each lead their own way; the hours loop
    back to the menu (fine: the menu waits for the person)."""

    def node(node_id: str, kind: str, **data: Any) -> dict[str, Any]:
        return {"id": node_id, "type": kind, "position": {"x": 0, "y": 0}, "data": data}

    def edge(source: str, handle: str, target: str) -> dict[str, str]:
        return {
            "id": f"{source}-{handle}",
            "source": source,
            "sourceHandle": handle,
            "target": target,
        }

    return {
        "nodes": [
            node("start", "start"),
            node(
                "menu",
                "send_message",
                text=MENU_TEXT,
                buttons=[
                    {
                        "type": "postback",
                        "title": "Opening hours",
                        "payload": "HOURS",
                        "id": "hours",
                    },
                    {"type": "web_url", "title": "Shop", "url": "https://ada.example/shop"},
                ],
                quick_replies=[
                    {"title": "Prices", "payload": "PRICES", "id": "prices"},
                    {"title": "Something else"},
                ],
            ),
            node("hours", "send_message", text=HOURS_TEXT),
            node("prices", "send_message", text=PRICES_TEXT),
            node("other", "send_message", text=OTHER_TEXT),
            node("end", "end"),
        ],
        "edges": [
            edge("start", "next", "menu"),
            edge("menu", "button-hours", "hours"),
            edge("menu", "reply-prices", "prices"),
            edge("menu", "next", "other"),
            edge("hours", "next", "menu"),
            edge("prices", "next", "end"),
            edge("other", "next", "end"),
        ],
    }


def _shown(message: dict[str, Any]) -> str:
    attachment = message.get("attachment")
    return str(attachment["payload"]["text"] if attachment else message["text"])


def test_a_menus_buttons_and_quick_replies_lead_their_own_way(
    graph_sandbox: GraphSandbox,
    sandbox_page: ConnectedPage,
    client: Client,
    worker: InlineWorker,
    tenant: Tenant,
) -> None:
    actor = Actor(user=member(tenant, Role.OWNER).user)
    flow = flow_create(
        tenant=tenant,
        actor=actor,
        page_id=sandbox_page.pk,
        name="Menu",
        trigger={"kind": "keywords", "keywords": ["menu"]},
        document=_menu_document(),
    )
    flow_publish(tenant=tenant, actor=actor, flow_id=flow.pk)

    _say(graph_sandbox, client, worker, text="menu")
    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.node_id) == (ConversationStatus.WAITING, "menu")
    _say(graph_sandbox, client, worker, postback={"title": "Opening hours", "payload": "HOURS"})
    # An open conversation takes the text as the menu's answer, though "pricing" is the lead
    # flow's keyword; it matches no button or reply, so it goes by "Any other answer".
    _say(graph_sandbox, client, worker, text="And your pricing?")
    _say(graph_sandbox, client, worker, text="menu")
    _say(graph_sandbox, client, worker, quick_reply={"text": "Prices", "payload": "PRICES"})

    messages = graph_sandbox.sent_messages(page_id=ADA_PAGE, psid=PSID)
    assert [_shown(m["message"]) for m in messages] == [
        MENU_TEXT,
        HOURS_TEXT,
        MENU_TEXT,
        OTHER_TEXT,
        MENU_TEXT,
        PRICES_TEXT,
    ]
    assert messages[0]["message"]["attachment"]["payload"]["buttons"] == [
        {"type": "postback", "title": "Opening hours", "payload": "HOURS"},
        {"type": "web_url", "url": "https://ada.example/shop", "title": "Shop"},
    ]
    assert [q["payload"] for q in messages[0]["message"]["quick_replies"]] == [
        "PRICES",
        "Something else",
    ]
    conversations = list(Conversation.objects.order_by("pk"))
    assert [(c.flow_id, c.status, c.node_id) for c in conversations] == [
        (flow.pk, ConversationStatus.ENDED, "end"),
        (flow.pk, ConversationStatus.ENDED, "end"),
    ]
    assert conversations[0].variables.keys() == {
        "psid",
        "page_id",
        "ref",
        "from_ad",
        "ad_id",
    }  # no variable saved
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}
