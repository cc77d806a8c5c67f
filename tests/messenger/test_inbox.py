"""The inbox: the list and its filters, the live check, a conversation's transcript, the reply
box with the 24-hour rule (and the human agent tag), taking a thread over from the bot, handing
it back, closing it, emails on new handoffs, and every route's tenancy."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
import responses
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import Settings

from flows.models import Conversation, ConversationStatus
from messenger import inbox
from messenger.models import Message, MessageSender, OutboundMessage, Person, Tag
from tenants.models import AuditAction, AuditEvent, ConnectedPage, Membership, PageStatus, Tenant
from tenants.permissions import Role
from tests.flows.factories import (
    FlowFactory,
    FlowVersionFactory,
    edge,
    handed_off,
    node,
    published_flow,
)
from tests.messenger.runtime_support import (
    InlineWorker,
    entry,
    envelope,
    graph_error,
    send_url,
    sent,
    text,
)
from tests.sandbox_fixtures import ADA_PAGE as PAGE
from tests.tenants.factories import ConnectedPageFactory, member, signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runtime_redis")]

PSID = "24571937185104"


def as_member(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def url(tenant: Tenant, path: str = "") -> str:
    return f"/t/{tenant.slug}/inbox/{path}"


def lead(tenant: Tenant, page: ConnectedPage, **fields: Any) -> Conversation:
    """A lead the flow handed off an hour after the person's last message."""
    defaults: dict[str, Any] = {
        "psid": PSID,
        "last_user_message_at": timezone.now() - timedelta(hours=1),
        "variables": {"need": "A quote", "contact": "a@b.co", "psid": PSID},
    }
    return handed_off(tenant=tenant, page=page, **{**defaults, **fields})


def say(conversation: Conversation, sender: str, words: str, **fields: Any) -> Message:
    return Message.objects.create(
        tenant=conversation.tenant,
        page=conversation.page,
        psid=conversation.psid,
        conversation=conversation,
        direction="in" if sender == MessageSender.PERSON else "out",
        sender=sender,
        text=words,
        sent_at=fields.pop("sent_at", timezone.now()),
        **fields,
    )


# --- The list ---------------------------------------------------------------------------------


def test_the_inbox_opens_on_the_conversations_that_need_a_person(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    waiting = lead(tenant, ada_page)
    say(waiting, MessageSender.PERSON, "a@b.co")
    handed_off(tenant=tenant, page=ada_page, is_test=True, handoff_note="From the test chat")
    with_bot = handed_off(tenant=tenant, page=ada_page, psid="77", status="waiting")
    say(with_bot, MessageSender.BOT, "What are you looking for?")
    handed_off(tenant=tenant, page=ada_page, psid="78", status="ended")

    response = signed_in(tenant, Role.VIEWER).get(url(tenant))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'aria-current="page">Inbox</a>' in html
    assert 'aria-current="page">Needs a person (1)</a>' in html
    assert ">Open (2)</a>" in html
    assert ">With the bot (1)</a>" in html
    assert ">Closed (1)</a>" in html
    assert f"<code>{PSID}</code>" in html
    assert "They:</span> a@b.co" in html
    assert "What are you looking for?" not in html  # with the bot: another filter
    assert "<code>77</code>" not in html
    html = signed_in(tenant).get(url(tenant), {"state": "bot"}).content.decode()
    assert "Bot:</span> What are you looking for?" in html
    assert f"<code>{PSID}</code>" not in html
    html = signed_in(tenant).get(url(tenant), {"state": "all"}).content.decode()
    assert html.count("<code>") == 3  # never the test chat


def test_filters_by_page_and_by_tag(tenant: Tenant, ada_page: ConnectedPage) -> None:
    other_page = ConnectedPageFactory.create(tenant=tenant, name="Ada's Café")
    vip = lead(tenant, ada_page)
    lead(tenant, other_page, psid="555")
    tag = Tag.objects.create(tenant=tenant, name="VIP")
    person = Person.objects.create(
        tenant=tenant,
        page=ada_page,
        psid=vip.psid,
        first_seen_at=timezone.now(),
        last_seen_at=timezone.now(),
    )
    person.tags.add(tag)
    client = signed_in(tenant)

    by_page = client.get(url(tenant), {"page_id": other_page.pk}).content.decode()
    by_tag = client.get(url(tenant), {"tag": "vip"}).content.decode()
    nothing = client.get(url(tenant), {"tag": "wholesale"}).content.decode()

    assert "<code>555</code>" in by_page
    assert f"<code>{PSID}</code>" not in by_page
    assert f"<code>{PSID}</code>" in by_tag
    assert "<code>555</code>" not in by_tag
    assert "No conversation needs a person right now." in nothing


def test_another_workspaces_page_or_a_bad_filter_filters_nothing_away(
    tenant: Tenant, other_tenant: Tenant, ada_page: ConnectedPage
) -> None:
    lead(tenant, ada_page)
    theirs = ConnectedPageFactory.create(tenant=other_tenant)
    client = signed_in(tenant)
    for params in ({"page_id": theirs.pk}, {"page_id": "x"}, {"state": "nonsense"}):
        response = client.get(url(tenant), params)
        assert response.status_code == 200
        assert f"<code>{PSID}</code>" in response.content.decode()


def test_the_list_costs_the_same_queries_for_3_or_30_conversations(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    client = signed_in(tenant)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(tenant), {"state": "all"}).status_code == 200
        return len(captured)

    queries()  # the first visit records the workspace as the member's last used one

    for n in range(3):
        say(lead(tenant, ada_page, psid=f"9{n}"), MessageSender.PERSON, "hi")
    few = queries()
    for n in range(3, 30):
        say(lead(tenant, ada_page, psid=f"9{n}"), MessageSender.PERSON, "hi")
    assert queries() == few


def test_the_live_check_is_204_until_something_changes(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    client = signed_in(tenant)
    html = client.get(url(tenant)).content.decode()
    cursor = re.search(r'data-cursor="([^"]+)"', html)
    assert cursor is not None

    assert client.get(url(tenant), {"state": "needs", "live": cursor[1]}).status_code == 204
    conversation = lead(tenant, ada_page)
    fresh = client.get(url(tenant), {"state": "needs", "live": cursor[1]})

    assert fresh.status_code == 200
    part = fresh.content.decode()
    assert part.startswith('<div class="live-part" data-cursor="')
    assert f"<code>{conversation.psid}</code>" in part
    assert "<html" not in part


# --- A conversation ---------------------------------------------------------------------------


def test_the_transcript_shows_who_said_what_and_the_bots_blocks(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    version = FlowVersionFactory.create(
        flow=FlowFactory.create(tenant=tenant, page=ada_page),
        document={
            "nodes": [
                node("start", "start"),
                node("ask_need", "ask", question="What are you looking for?", variable="need"),
                node("to_team", "handoff", note="New lead"),
            ],
            "edges": [edge("start", "ask_need"), edge("ask_need", "to_team")],
        },
    )
    conversation = lead(tenant, ada_page, flow_version=version, flow=version.flow)
    now = timezone.now()
    say(conversation, MessageSender.PERSON, "Hi, a quote please", sent_at=now - timedelta(3))
    say(
        conversation,
        MessageSender.BOT,
        "What are you looking for?",
        mid="m_bot1",
        sent_at=now - timedelta(2),
    )
    OutboundMessage.objects.create(
        tenant=tenant,
        conversation=conversation,
        seq=1,
        node_id="ask_need",
        message={"text": "What are you looking for?"},
        status="sent",
        message_id="m_bot1",
    )
    say(
        conversation,
        MessageSender.PERSON,
        "",
        kind="attachment",
        sent_at=now - timedelta(1),
        attachments=[
            {"type": "image", "url": "https://cdn.example/p.jpg"},
            {"type": "file", "url": "javascript:alert(1)"},
        ],
    )

    html = signed_in(tenant, Role.VIEWER).get(url(tenant, f"{conversation.pk}/")).content.decode()

    order = [
        html.index(s)
        for s in ("Hi, a quote please", '<span class="muted">Ask a question</span>', "p.jpg")
    ]
    assert order == sorted(order)
    assert (
        '<a href="https://cdn.example/p.jpg" rel="noopener noreferrer" target="_blank">Image</a>'
        in html
    )
    assert "javascript:" not in html
    assert "<dt>contact</dt><dd>a@b.co</dd><dt>need</dt><dd>A quote</dd>" in html
    assert "Needs a person" in html
    # A viewer reads; only editors and above answer.
    assert 'id="reply-box"' not in html
    assert "Hand back to the bot" not in html


# --- Answering --------------------------------------------------------------------------------


def test_an_answer_inside_24_hours_goes_out_as_a_response_and_joins_the_transcript(
    tenant: Tenant, ada_page: ConnectedPage, send_api: responses.RequestsMock
) -> None:
    conversation = lead(tenant, ada_page)
    client = signed_in(tenant, Role.EDITOR)

    response = client.post(url(tenant, f"{conversation.pk}/reply/"), {"text": " We'll call you! "})

    assert response.status_code == 302
    body = json.loads(send_api.calls[0].request.body or "")
    assert body == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "We'll call you!"},
    }
    reply = Message.objects.get(sender=MessageSender.AGENT)
    assert (reply.text, reply.conversation_id, reply.direction) == (
        "We'll call you!",
        conversation.pk,
        "out",
    )
    assert reply.mid.startswith("m_sent")
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.HANDED_OFF
    assert conversation.paused_status == ""
    page = client.get(response["Location"]).content.decode()
    assert "Sent. The bot stays quiet" in page
    assert "Your team</strong>" in page


def test_answering_a_thread_the_bot_runs_takes_it_over_and_hand_back_returns_it(
    tenant: Tenant,
    ada_page: ConnectedPage,
    send_api: responses.RequestsMock,
    client: Client,
    worker: InlineWorker,
) -> None:
    conversation = lead(
        tenant, ada_page, status="waiting", node_id="to_team", psid="6100000000000001"
    )
    editor = signed_in(tenant, Role.EDITOR)
    editor.post(url(tenant, f"{conversation.pk}/reply/"), {"text": "Hi, Ada here."})
    conversation.refresh_from_db()
    assert (conversation.status, conversation.paused_status) == ("handed_off", "waiting")
    taken = AuditEvent.objects.get(action=AuditAction.CONVERSATION_TAKEN_OVER)
    assert taken.details["conversation_id"] == conversation.pk

    # The person writes while a person of the team has the thread: the bot stays quiet.
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, conversation.psid, body="thanks!"))))
    assert [m["text"] for _, m in sent(send_api)] == ["Hi, Ada here."]
    assert Message.objects.filter(conversation=conversation, text="thanks!").exists()

    response = editor.post(url(tenant, f"{conversation.pk}/hand-back/"), follow=True)
    assert "Handed back: the bot answers this person again." in response.content.decode()
    conversation.refresh_from_db()
    assert (conversation.status, conversation.node_id, conversation.paused_status) == (
        "waiting",
        "to_team",
        "",
    )
    assert len(sent(send_api)) == 1  # handing back sends nothing by itself


def test_after_24_hours_the_box_is_closed_and_says_why(
    tenant: Tenant, ada_page: ConnectedPage, send_api: responses.RequestsMock
) -> None:
    conversation = lead(tenant, ada_page, last_user_message_at=timezone.now() - timedelta(hours=25))
    client = signed_in(tenant)

    page = client.get(url(tenant, f"{conversation.pk}/")).content.decode()
    response = client.post(url(tenant, f"{conversation.pk}/reply/"), {"text": "Still there?"})

    assert "Messenger lets a Page answer within 24 hours of the person&#x27;s last message" in page
    assert 'required disabled aria-describedby="reply-window">' in page
    assert response.status_code == 409
    html = response.content.decode()
    assert "Messenger lets a Page answer within 24 hours" in html
    assert ">Still there?</textarea>" in html  # what was typed is kept
    assert sent(send_api) == []
    assert not Message.objects.filter(sender=MessageSender.AGENT).exists()


@pytest.mark.parametrize(
    ("days", "status", "tagged"), [(3, 302, True), (8, 409, False)], ids=["3 days", "8 days"]
)
def test_the_human_agent_tag_answers_up_to_7_days_where_the_app_has_it(
    tenant: Tenant,
    ada_page: ConnectedPage,
    send_api: responses.RequestsMock,
    settings: Settings,
    days: int,
    status: int,
    tagged: bool,
) -> None:
    settings.MESSENGER_HUMAN_AGENT_TAG = True
    conversation = lead(tenant, ada_page, last_user_message_at=timezone.now() - timedelta(days))

    response = signed_in(tenant).post(url(tenant, f"{conversation.pk}/reply/"), {"text": "Hi"})

    assert response.status_code == status
    if tagged:
        body = json.loads(send_api.calls[0].request.body or "")
        assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    else:
        assert "within 7 days" in response.content.decode()
        assert sent(send_api) == []


def test_the_window_is_judged_at_the_moment_given() -> None:
    now = timezone.now()
    conversation = Conversation(last_user_message_at=now - timedelta(hours=23, minutes=59))
    assert inbox.reply_window(conversation, now=now).open
    assert not inbox.reply_window(conversation, now=now + timedelta(minutes=2)).open
    assert not inbox.reply_window(Conversation(), now=now).open


@pytest.mark.parametrize(
    ("code", "subcode", "says"),
    [
        (551, None, "This person cannot be reached on Messenger any more"),
        (10, 2018278, "the time to answer this person has ended"),
        (10, 1893063, "temporarily restricted this Page from sending"),
        (100, None, "Facebook refused the message: error 100"),
    ],
)
def test_facebook_refusing_the_answer_is_shown_and_nothing_is_recorded(
    tenant: Tenant,
    ada_page: ConnectedPage,
    send_api: responses.RequestsMock,
    code: int,
    subcode: int | None,
    says: str,
) -> None:
    conversation = lead(tenant, ada_page)
    send_api.replace(responses.POST, send_url(), body=graph_error(code, subcode), status=400)

    response = signed_in(tenant).post(url(tenant, f"{conversation.pk}/reply/"), {"text": "Hi"})

    assert response.status_code == 502
    html = response.content.decode()
    assert says in html
    assert "Nothing was sent." in html
    assert not Message.objects.filter(sender=MessageSender.AGENT).exists()


def test_a_dead_token_marks_the_page_for_reconnection(
    tenant: Tenant, ada_page: ConnectedPage, send_api: responses.RequestsMock
) -> None:
    conversation = lead(tenant, ada_page)
    send_api.replace(responses.POST, send_url(), body=graph_error(190, 460), status=400)

    response = signed_in(tenant).post(url(tenant, f"{conversation.pk}/reply/"), {"text": "Hi"})

    assert "an admin reconnects the Page on the Pages screen" in response.content.decode()
    ada_page.refresh_from_db()
    assert ada_page.status == PageStatus.NEEDS_REAUTH
    again = signed_in(tenant).post(url(tenant, f"{conversation.pk}/reply/"), {"text": "Hi"})
    assert again.status_code == 409
    assert "needs" in again.content.decode()
    assert len(sent(send_api)) == 1  # the second try never reached Facebook


@pytest.mark.parametrize(
    ("words", "says"),
    [("   ", "Write a message first"), ("x" * 2000, "this one has 2,000")],
    ids=["empty", "too long"],
)
def test_a_reply_that_cannot_go_says_why(
    tenant: Tenant, ada_page: ConnectedPage, send_api: responses.RequestsMock, words: str, says: str
) -> None:
    conversation = lead(tenant, ada_page)
    response = signed_in(tenant).post(url(tenant, f"{conversation.pk}/reply/"), {"text": words})
    assert response.status_code == 400
    assert says in response.content.decode()
    assert sent(send_api) == []


def test_an_old_conversation_points_to_the_newer_one(
    tenant: Tenant, ada_page: ConnectedPage, send_api: responses.RequestsMock
) -> None:
    old = lead(tenant, ada_page, status="ended")
    newer = lead(tenant, ada_page)
    client = signed_in(tenant)
    page = client.get(url(tenant, f"{old.pk}/")).content.decode()
    response = client.post(url(tenant, f"{old.pk}/reply/"), {"text": "Hi"})
    assert f'href="/t/{tenant.slug}/inbox/{newer.pk}/">answer there</a>' in page
    assert response.status_code == 409
    assert sent(send_api) == []


def test_close_ends_the_thread_without_the_flow_and_is_audited(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    conversation = lead(tenant, ada_page)
    client = signed_in(tenant, Role.EDITOR)

    response = client.post(url(tenant, f"{conversation.pk}/close/"), follow=True)

    assert "Closed. The next time this person writes" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.ENDED
    assert conversation.handoff_resolved_at is not None
    assert AuditEvent.objects.get(action=AuditAction.CONVERSATION_CLOSED).details["was"] == (
        "handed_off"
    )
    again = client.post(url(tenant, f"{conversation.pk}/close/"), follow=True)
    assert "This conversation is closed already." in again.content.decode()


def test_a_message_no_flow_answers_joins_the_last_conversation_and_rises_in_the_inbox(
    tenant: Tenant, ada_page: ConnectedPage, client: Client, worker: InlineWorker
) -> None:
    closed = lead(
        tenant,
        ada_page,
        status="ended",
        psid="6100000000000002",
        last_user_message_at=timezone.now() - timedelta(days=3),
    )
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, closed.psid, body="one more thing"))))

    closed.refresh_from_db()
    assert Message.objects.get(text="one more thing").conversation_id == closed.pk
    assert closed.last_user_message_at is not None
    assert inbox.reply_window(closed).open
    html = signed_in(tenant).get(url(tenant), {"state": "closed"}).content.decode()
    assert "They:</span> one more thing" in html


def test_viewers_cannot_answer_hand_back_or_close(tenant: Tenant, ada_page: ConnectedPage) -> None:
    conversation = lead(tenant, ada_page)
    client = signed_in(tenant, Role.VIEWER)
    for action in ("reply", "hand-back", "close"):
        response = client.post(url(tenant, f"{conversation.pk}/{action}/"), {"text": "Hi"})
        assert response.status_code == 403, action
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.HANDED_OFF


def test_every_route_is_404_for_another_workspaces_conversation_or_a_test_chat(
    tenant: Tenant, other_tenant: Tenant, ada_page: ConnectedPage
) -> None:
    theirs = handed_off(tenant=other_tenant)
    test_chat = lead(tenant, ada_page, is_test=True)
    client = signed_in(tenant)
    for conversation in (theirs, test_chat):
        assert client.get(url(tenant, f"{conversation.pk}/")).status_code == 404
        for action in ("reply", "hand-back", "close"):
            response = client.post(url(tenant, f"{conversation.pk}/{action}/"), {"text": "Hi"})
            assert response.status_code == 404, action
    # And another workspace's inbox is 404 for a non-member.
    assert client.get(f"/t/{other_tenant.slug}/inbox/").status_code == 404
    assert client.post(f"/t/{other_tenant.slug}/inbox/notifications/").status_code == 404


def test_the_old_handoffs_screen_sends_people_to_the_inbox(tenant: Tenant) -> None:
    client = signed_in(tenant)
    response = client.get(f"/t/{tenant.slug}/handoffs/")
    resolved = client.get(f"/t/{tenant.slug}/handoffs/", {"state": "resolved"})
    assert response["Location"] == f"/t/{tenant.slug}/inbox/?state=needs"
    assert resolved["Location"] == f"/t/{tenant.slug}/inbox/?state=closed"


# --- Emails on new handoffs -------------------------------------------------------------------


def test_admins_who_opt_in_get_one_email_per_handoff(
    tenant: Tenant,
    ada_page: ConnectedPage,
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    settings: Settings,
) -> None:
    settings.SITE_URL = "https://pagepulse.example"
    admin = member(tenant, Role.ADMIN)
    quiet_admin = member(tenant, Role.ADMIN)
    assert quiet_admin.user.email
    editor = member(tenant, Role.EDITOR)
    response = as_member(admin).post(url(tenant, "notifications/"), {"notify": "on"}, follow=True)
    assert "You will get an email each time a conversation needs a person." in (
        response.content.decode()
    )
    refused = as_member(editor).post(url(tenant, "notifications/"), {"notify": "on"}, follow=True)
    assert "for the workspace&#x27;s admins and owners" in refused.content.decode()
    assert not Membership.objects.get(pk=editor.pk).notify_handoffs

    published_flow(
        tenant,
        page=ada_page,
        trigger_kind="default",
        document={
            "nodes": [
                node("start", "start"),
                node("ask", "ask", question="What went wrong?", variable="problem", check="text"),
                node("human", "handoff", note="Problem: {{problem}}"),
            ],
            "edges": [edge("start", "ask"), edge("ask", "human")],
        },
    )
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hi"))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="It broke"))))

    assert [name for name, _, _ in worker.ran].count("messenger.tasks.handoff_notify") == 1
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    conversation = Conversation.objects.get(is_test=False)
    assert email.to == [admin.user.email]
    assert email.subject == "Ada's Bakery: a conversation needs a person"
    assert "Problem: It broke" in email.body
    assert "problem: It broke" in email.body
    assert f"https://pagepulse.example/t/{tenant.slug}/inbox/{conversation.pk}/" in email.body
    # The task running twice sends nothing twice.
    assert inbox.handoff_notify(conversation_id=conversation.pk) == 0
    assert len(mail.outbox) == 1
