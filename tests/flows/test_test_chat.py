"""The editor's test chat, POST …/flows/<id>/test-chat/: the real interpreter on a draft or a
published version, without Facebook; its events are test events that are not delivered."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client, override_settings
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from events.models import EventSource, EventStatus, LoggedEvent
from flows.flow_templates import LEAD_GENERATION
from flows.models import Conversation, ConversationStatus, Flow
from flows.testchat import chat_psid
from messenger.models import OutboundMessage
from tenants.models import ConnectedPage, Membership, Tenant, Transport
from tenants.permissions import Role
from tenants.services import Actor
from tests.flows.factories import FlowFactory, FlowVersionFactory, edge, node, simple_document
from tests.tenants.factories import ConnectedPageFactory, api_key, member

pytestmark = pytest.mark.django_db

WELCOME = "Hi! We'd love to help. Two quick questions, then we'll put you in touch."
NEED = "What are you looking for?"
NEED_REPLIES = ["A quote", "A consultation", "More information"]
TIMELINE = "When would you like to get started?"
CHANNEL = "How should we contact you?"
EMAIL = "What's your email address?"
RETRY = "That doesn't look like an email address. Could you check it?"
THANKS = "Thank you! Someone from our team will contact you at ada@example.com shortly."
NOTE = "New lead: A quote, starting This month. Contact by Email: ada@example.com."


def url(flow: Flow) -> str:
    return f"/api/v1/tenants/{flow.tenant.slug}/flows/{flow.pk}/test-chat/"


@pytest.fixture
def capi_page(tenant: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(
        tenant=tenant, page_id="300000000000002", transport=Transport.CONVERSIONS_API
    )


@pytest.fixture
def lead_flow(tenant: Tenant, capi_page: ConnectedPage) -> Flow:
    return FlowFactory.create(tenant=tenant, page=capi_page, document=LEAD_GENERATION.document())


@pytest.fixture
def editor_membership(tenant: Tenant) -> Membership:
    return member(tenant, Role.EDITOR)


@pytest.fixture
def editor(client_for: Callable[..., APIClient], editor_membership: Membership) -> APIClient:
    client = client_for()
    client.force_login(editor_membership.user)
    return client


def chat(client: Client, flow: Flow, status_code: int = 200, **body: Any) -> Any:
    response = client.post(url(flow), body, format="json")
    assert response.status_code == status_code, response.content
    return response.json() if response.content else None


def texts(body: dict[str, Any]) -> list[str]:
    return [reply["text"] for reply in body["replies"]]


def path(body: dict[str, Any]) -> list[str]:
    return [step["node_id"] for step in body["path"]]


def test_the_lead_template_end_to_end(
    editor: APIClient,
    editor_membership: Membership,
    lead_flow: Flow,
    capi_page: ConnectedPage,
    tenant: Tenant,
) -> None:
    body = chat(editor, lead_flow, action="start")
    psid = chat_psid(Actor(user=editor_membership.user))
    session = body["session"]
    assert texts(body) == [WELCOME, NEED]
    assert body["replies"][1]["quick_replies"] == [
        {"title": title, "payload": title} for title in NEED_REPLIES
    ]
    assert body["replies"][1]["buttons"] == []
    assert body["replies"][1]["message"] == {
        "text": NEED,
        "quick_replies": [
            {"content_type": "text", "title": title, "payload": title} for title in NEED_REPLIES
        ],
    }
    assert body["path"] == [
        {"node_id": "start", "type": "start", "label": "Start"},
        {"node_id": "welcome", "type": "send_message", "label": "Send message"},
        {"node_id": "ask_need", "type": "ask", "label": "Ask a question"},
    ]
    assert body["variables"] == {
        "psid": psid,
        "page_id": "300000000000002",
        "ref": "",
        "from_ad": "no",
        "ad_id": "",
    }
    assert body["state"] == {"node_id": "ask_need", "status": "waiting", "step": 3, "retries": 0}
    assert body["version"] == "draft"
    assert body["events"] == []
    assert body["handoff"] is None

    # A quick reply pressed, then one typed.
    body = chat(
        editor,
        lead_flow,
        action="message",
        kind="quick_reply",
        text="A quote",
        payload="A quote",
        session=session,
    )
    assert texts(body) == [TIMELINE]
    assert path(body) == ["ask_need", "ask_timeline"]
    assert body["variables"]["need"] == "A quote"
    body = chat(editor, lead_flow, action="message", text="This month")
    assert texts(body) == [CHANNEL]
    body = chat(editor, lead_flow, action="message", payload="Email", text="Email")
    assert texts(body) == [EMAIL]
    assert path(body) == ["ask_channel", "ask_email"]  # Email's own handle

    # A bad email is asked again, a good one goes on to the event, the thanks and the handoff.
    body = chat(editor, lead_flow, action="message", text="ada at example")
    assert texts(body) == [RETRY, EMAIL]
    assert path(body) == ["ask_email"]
    assert body["state"] == {"node_id": "ask_email", "status": "waiting", "step": 10, "retries": 1}
    assert "contact" not in body["variables"]
    assert LoggedEvent.objects.count() == 0
    body = chat(editor, lead_flow, action="message", text="ada@example.com")
    assert texts(body) == [THANKS]
    assert path(body) == ["ask_email", "lead", "thanks", "to_team"]
    assert body["handoff"] == {"note": NOTE}
    assert body["state"]["status"] == "handed_off"
    assert body["variables"] == {
        "psid": psid,
        "page_id": "300000000000002",
        "ref": "",
        "from_ad": "no",
        "ad_id": "",
        "need": "A quote",
        "need_payload": "A quote",
        "timeline": "This month",
        "timeline_payload": "This month",  # typed, but a quick reply's title: pressing it
        "channel": "Email",
        "channel_payload": "Email",
        "contact": "ada@example.com",
    }

    event = LoggedEvent.objects.get()
    assert body["events"] == [
        {
            "id": event.pk,
            "event": "lead_submitted",
            "params": {"need": "A quote", "timeline": "This month", "channel": "Email"},
            "value": None,
            "currency": "",
            "status": "test",
            "status_label": "Test, not sent",
            "reason": "Test event: stored in Pagepulse and not sent to Facebook. To send test "
            "events too, turn on “Send test events to Facebook” in the workspace's Settings.",
            "test": True,
            "node_id": "lead",
            "new": True,
            "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        }
    ]
    assert (event.tenant, event.page, event.psid) == (tenant, capi_page, psid)
    assert (event.test, event.source, event.status) == (True, EventSource.TEST_CHAT, "test")
    assert event.idempotency_key == f"test-chat:{session}:lead:12"
    assert event.source_ref == f"test chat {session}, flow {lead_flow.pk} draft, node lead"
    conversation = Conversation.objects.get()
    assert (conversation.is_test, conversation.status) == (True, ConversationStatus.HANDED_OFF)
    assert conversation.handoff_note == NOTE
    assert conversation.handed_off_at is not None
    assert OutboundMessage.objects.count() == 0  # nothing goes to Facebook


def test_test_events_are_not_delivered(
    editor: APIClient,
    lead_flow: Flow,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        walk_to_the_lead(editor, lead_flow)
    assert LoggedEvent.objects.get().status == EventStatus.TEST  # "Test, not sent"
    assert callbacks == []  # no delivery enqueued


@override_settings(EVENTS_DELIVER_TEST_EVENTS=True)
def test_test_events_are_enqueued_when_test_delivery_is_on(
    editor: APIClient,
    lead_flow: Flow,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        walk_to_the_lead(editor, lead_flow)
    assert len(callbacks) == 1


def walk_to_the_lead(editor: APIClient, flow: Flow) -> dict[str, Any]:
    chat(editor, flow, action="start")
    for answer in ("A quote", "Later", "Phone"):
        chat(editor, flow, action="message", text=answer)
    body: dict[str, Any] = chat(editor, flow, action="message", text="+1 555 010 0199")
    return body


def test_a_message_after_the_chat_handed_off_does_nothing(
    editor: APIClient, lead_flow: Flow
) -> None:
    walk_to_the_lead(editor, lead_flow)
    body = chat(editor, lead_flow, action="message", text="hello?")
    assert (body["replies"], body["path"], body["handoff"]) == ([], [], None)
    assert body["state"]["status"] == "handed_off"
    assert len(body["events"]) == 1
    assert body["events"][0]["new"] is False


def test_start_again_ends_the_earlier_chat(editor: APIClient, lead_flow: Flow) -> None:
    first = chat(editor, lead_flow, action="start")["session"]
    chat(editor, lead_flow, action="message", text="A quote")
    body = chat(editor, lead_flow, action="start")
    assert body["session"] != first
    assert body["variables"].keys() == {"psid", "page_id", "ref", "from_ad", "ad_id"}
    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert statuses == {first: "ended", body["session"]: "waiting"}


def test_reset_ends_the_chat(editor: APIClient, lead_flow: Flow) -> None:
    session = chat(editor, lead_flow, action="start")["session"]
    assert chat(editor, lead_flow, 204, action="reset") is None
    conversation = Conversation.objects.get(pk=session)
    assert conversation.status == ConversationStatus.ENDED
    assert conversation.ended_at is not None
    body = chat(editor, lead_flow, 400, action="message", text="A quote", session=session)
    assert body["error"]["code"] == "test_chat_ended"
    assert chat(editor, lead_flow, 204, action="reset") is None  # nothing open: still fine


def test_a_flow_that_ends_ends_the_chat(
    editor: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    flow = FlowFactory.create(
        tenant=tenant, page=capi_page, document=simple_document("Hello there")
    )
    body = chat(editor, flow, action="start")
    assert texts(body) == ["Hello there"]
    assert path(body) == ["start", "hello", "end"]
    assert body["state"]["status"] == "ended"
    body = chat(editor, flow, 400, action="message", text="again")
    assert body["error"]["code"] == "test_chat_ended"


def test_each_person_has_their_own_chat(
    editor: APIClient, client_for: Callable[..., APIClient], tenant: Tenant, lead_flow: Flow
) -> None:
    session = chat(editor, lead_flow, action="start")["session"]
    colleague = client_for(tenant, Role.EDITOR)
    body = chat(colleague, lead_flow, 400, action="message", text="A quote", session=session)
    assert body["error"]["code"] == "test_chat_ended"
    other = chat(colleague, lead_flow, action="start")
    assert chat(editor, lead_flow, action="message", text="A quote")["session"] == session
    assert (
        Conversation.objects.get(pk=session).psid
        != Conversation.objects.get(pk=other["session"]).psid
    )


def test_a_published_version_runs_as_published_not_the_draft(
    editor: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    flow = FlowFactory.create(
        tenant=tenant, page=capi_page, document=simple_document("Version one")
    )
    version = FlowVersionFactory.create(flow=flow, number=1)
    flow.document = simple_document("The draft since")
    flow.save()

    body = chat(editor, flow, action="start", version=1)
    assert (texts(body), body["version"]) == (["Version one"], 1)
    assert Conversation.objects.get(pk=body["session"]).flow_version == version
    body = chat(editor, flow, action="start", version="draft")
    assert (texts(body), body["version"]) == (["The draft since"], "draft")
    assert Conversation.objects.get(pk=body["session"]).flow_version is None


def test_a_draft_is_run_as_it_is_on_every_turn(
    editor: APIClient, tenant: Tenant, capi_page: ConnectedPage, lead_flow: Flow
) -> None:
    chat(editor, lead_flow, action="start")
    document = copy.deepcopy(lead_flow.document)
    for item in document["nodes"]:
        if item["id"] == "ask_timeline":
            item["data"]["question"] = "When do you need it?"
    lead_flow.document = document
    lead_flow.save()
    assert texts(chat(editor, lead_flow, action="message", text="A quote")) == [
        "When do you need it?"
    ]


def test_a_draft_with_errors_is_refused_with_its_problems(
    editor: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    document = {
        "nodes": [node("start", "start"), node("hello", "send_message", text="")],
        "edges": [edge("start", "hello")],
    }
    flow = FlowFactory.create(tenant=tenant, page=capi_page, document=document)
    body = chat(editor, flow, 400, action="start")
    assert body["error"]["code"] == "flow_invalid"
    problems = body["error"]["details"]["problems"]
    assert {(p["node_id"], p["severity"]) for p in problems} >= {("hello", "error")}
    assert Conversation.objects.count() == 0
    # A published version of it still runs.
    FlowVersionFactory.create(flow=flow, number=1, document=simple_document("Published"))
    assert texts(chat(editor, flow, action="start", version=1)) == ["Published"]


def test_a_postback_button_and_a_value(
    editor: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    document = {
        "nodes": [
            node("start", "start"),
            node(
                "ask_size",
                "ask",
                question="Which size?",
                variable="size",
                check="text",
                quick_replies=[{"title": "Large", "payload": "L"}],
            ),
            node(
                "bought",
                "log_event",
                event="purchase",
                params={},
                value="12.50",
                currency="USD",
            ),
            node("end", "end"),
        ],
        "edges": [edge("start", "ask_size"), edge("ask_size", "bought"), edge("bought", "end")],
    }
    flow = FlowFactory.create(tenant=tenant, page=capi_page, document=document)
    chat(editor, flow, action="start")
    body = chat(editor, flow, action="message", kind="quick_reply", text="Large", payload="L")
    assert body["variables"]["size"] == "Large"
    assert body["variables"]["size_payload"] == "L"
    assert body["state"]["status"] == "ended"
    event = LoggedEvent.objects.get()
    assert (event.event, event.value, event.currency) == ("purchase", Decimal("12.5"), "USD")
    assert body["events"][0]["value"] == "12.500000"


def test_a_menus_buttons_and_quick_replies_lead_their_own_way(
    editor: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    document = {
        "nodes": [
            node("start", "start"),
            node(
                "menu",
                "send_message",
                text="What can we do for you?",
                buttons=[
                    {
                        "type": "postback",
                        "title": "Opening hours",
                        "payload": "HOURS",
                        "id": "hours",
                    }
                ],
                quick_replies=[{"title": "Prices", "payload": "PRICES", "id": "prices"}],
            ),
            node("hours", "send_message", text="We're open 9 to 5."),
            node("prices", "send_message", text="From 10 EUR a month."),
            node("other", "send_message", text="Someone will answer you soon."),
            node("end", "end"),
        ],
        "edges": [
            edge("start", "menu"),
            edge("menu", "hours", "button-hours"),
            edge("menu", "prices", "reply-prices"),
            edge("menu", "other"),
            edge("hours", "menu"),
            edge("prices", "end"),
            edge("other", "end"),
        ],
    }
    flow = FlowFactory.create(tenant=tenant, page=capi_page, document=document)

    body = chat(editor, flow, action="start")
    assert path(body) == ["start", "menu"]
    assert body["replies"][0]["buttons"] == [
        {"type": "postback", "title": "Opening hours", "payload": "HOURS"}
    ]
    assert body["state"] == {"node_id": "menu", "status": "waiting", "step": 2, "retries": 0}

    body = chat(
        editor, flow, action="message", kind="postback", text="Opening hours", payload="HOURS"
    )
    assert (path(body), texts(body)) == (
        ["menu", "hours", "menu"],
        ["We're open 9 to 5.", "What can we do for you?"],
    )
    assert body["state"]["status"] == "waiting"
    body = chat(editor, flow, action="message", text="  PRICES ")  # typed: a reply's title
    assert (path(body), texts(body)) == (["menu", "prices", "end"], ["From 10 EUR a month."])
    assert body["state"]["status"] == "ended"
    assert body["variables"].keys() == {"psid", "page_id", "ref", "from_ad", "ad_id"}

    chat(editor, flow, action="start")
    body = chat(editor, flow, action="message", text="Do you deliver?")
    assert path(body) == ["menu", "other", "end"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "action"),
        ({"action": "chat"}, "action"),
        ({"action": "start", "version": 0}, "version"),
        ({"action": "start", "version": "latest"}, "version"),
        ({"action": "start", "version": True}, "version"),
        ({"action": "start", "ref": "not a ref!"}, "ref"),
        ({"action": "message"}, "text"),
        ({"action": "message", "kind": "postback", "text": "Buy"}, "payload"),
        ({"action": "message", "text": "x" * 2001}, "text"),
        ({"action": "message", "text": "hi", "kind": "referral"}, "kind"),
    ],
)
def test_bad_requests(editor: APIClient, lead_flow: Flow, body: dict[str, Any], field: str) -> None:
    response = editor.post(url(lead_flow), body, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == [field]


def test_an_unknown_version_is_404(editor: APIClient, lead_flow: Flow) -> None:
    body = chat(editor, lead_flow, 404, action="start", version=7)
    assert body["error"]["message"] == "This flow has no version 7: pick a published version."


def test_viewers_may_not_run_it(
    client_for: Callable[..., APIClient], tenant: Tenant, lead_flow: Flow
) -> None:
    viewer = client_for(tenant, Role.VIEWER)
    body = chat(viewer, lead_flow, 403, action="start")
    assert body["error"]["code"] == "permission_denied"
    assert Conversation.objects.count() == 0


def test_another_tenants_flow_is_404(editor: APIClient, other_tenant: Tenant) -> None:
    theirs = FlowFactory.create(tenant=other_tenant, document=LEAD_GENERATION.document())
    response = editor.post(
        f"/api/v1/tenants/acme-bikes/flows/{theirs.pk}/test-chat/",
        {"action": "start"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert Conversation.objects.count() == 0


def test_an_api_key_has_its_own_test_chat(
    client_for: Callable[..., APIClient], tenant: Tenant, lead_flow: Flow
) -> None:
    client = client_for(key=api_key(tenant))
    body = chat(client, lead_flow, action="start")
    assert body["variables"]["psid"].startswith("902")
    assert len(body["variables"]["psid"]) == 16


def test_an_event_the_test_chat_cannot_send_shows_not_sent_with_its_reason(
    editor: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    document = {
        "nodes": [
            node("start", "start"),
            node("ask", "ask", question="How many?", variable="size"),
            node("paid", "log_event", event="purchase", value="{{size}}", currency="USD"),
            node("kept", "log_event", event="table_booked"),
            node("end", "end"),
        ],
        "edges": [
            edge("start", "ask"),
            edge("ask", "paid"),
            edge("paid", "kept"),
            edge("kept", "end"),
        ],
    }
    flow = FlowFactory.create(tenant=tenant, page=capi_page, document=document)
    chat(editor, flow, action="start")
    body = chat(editor, flow, action="message", text="a few")

    # Neither is dropped: one could not be sent as it filled in, the other is kept.
    assert [
        (e["node_id"], e["status"], e["status_label"], e["reason"]) for e in body["events"]
    ] == [
        ("paid", "not_sent", "Not sent", "The value is a number, such as 49.90, not a str."),
        (
            "kept",
            "kept",
            "Kept in Pagepulse",
            "table_booked is a custom event. The Conversions API takes only its 14 standard "
            "events, so Pagepulse keeps this one in Pagepulse only: it is counted in the delivery "
            "log and exports, never sent to Facebook. To send it, pick a standard event such as "
            "Lead submitted (LeadSubmitted).",
        ),
    ]
    assert LoggedEvent.objects.count() == 2
