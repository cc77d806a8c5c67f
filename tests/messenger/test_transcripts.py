"""Transcripts (issue 15, item 2): what people, the bot and agents wrote, in order, never twice,
kept for the workspace's retention period."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.db import connection
from django.test import Client

from flows.models import Conversation, TriggerKind
from messenger import runtime, transcripts
from messenger.models import Message, WebhookDelivery
from tenants.models import AuditAction, AuditEvent, ConnectedPage, Tenant
from tenants.permissions import Role
from tests.flows.factories import published_flow
from tests.messenger.runtime_support import (
    PSID,
    InlineWorker,
    encode,
    entry,
    envelope,
    now_ms,
    postback,
    quick_reply,
    referral,
    text,
)
from tests.sandbox_fixtures import ADA_PAGE as PAGE
from tests.tenants.factories import ConnectedPageFactory, TenantFactory, signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runtime_redis")]


def transcript(psid: str = PSID) -> list[tuple[str, str, str, str]]:
    return [
        (m.direction, m.sender, m.kind, m.text or m.payload or m.referral.get("ref", ""))
        for m in Message.objects.filter(psid=psid).order_by("sent_at", "id")
    ]


def test_both_ways_in_order_with_who_sent_each(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[])
    photo = {"type": "image", "payload": {"url": "https://example.com/cake.jpg"}}
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hi"))))
    worker.deliver(
        client,
        envelope(
            entry(
                PAGE,
                {
                    "sender": {"id": PSID},
                    "recipient": {"id": PAGE},
                    "timestamp": now_ms(),
                    "message": {"mid": "m_photo", "attachments": [photo]},
                },
            )
        ),
    )
    worker.deliver(client, envelope(entry(PAGE, quick_reply(PAGE, "Yes", "YES"))))
    worker.deliver(client, envelope(entry(PAGE, postback(PAGE, "MENU", title="Menu"))))

    rows = transcript()
    assert rows[0] == ("in", "person", "text", "hi")
    assert rows[1] == ("out", "bot", "text", "Hello! How can we help?")
    assert rows[2][:3] == ("in", "person", "attachment")
    assert ("in", "person", "quick_reply", "Yes") in rows
    assert ("in", "person", "postback", "Menu") in rows
    assert Message.objects.get(mid="m_photo").attachments == [
        {"type": "image", "url": "https://example.com/cake.jpg"}
    ]
    assert Message.objects.get(kind="quick_reply").payload == "YES"
    bot = Message.objects.filter(sender="bot")
    assert bot.count() == 4
    assert all(m.mid.startswith("m_sent") for m in bot)
    assert all(m.conversation is not None for m in Message.objects.all())


def test_an_item_that_starts_no_flow_is_kept_too(
    client: Client, worker: InlineWorker, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    worker.deliver(
        client, envelope(entry(PAGE, text(PAGE, body="anyone?"), referral(PAGE, "summer")))
    )

    assert transcript() == [
        ("in", "person", "text", "anyone?"),
        ("in", "person", "referral", "summer"),
    ]
    assert Message.objects.get(kind="referral").referral["ref"] == "summer"
    assert not Conversation.objects.exists()


def test_a_redelivered_webhook_adds_no_row(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[])
    body = encode(envelope(entry(PAGE, text(PAGE, body="once", mid="m_once"))))
    for _ in range(3):
        worker.post(client, body)
        worker.drain()

    assert WebhookDelivery.objects.count() == 3
    assert Message.objects.filter(direction="in").count() == 1
    assert Message.objects.filter(direction="out").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_person_keep_the_transcript_in_order(
    worker: InlineWorker, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    if connection.vendor == "sqlite":  # the in-memory test database locks whole tables
        pytest.skip(
            "needs PostgreSQL: SQLite's shared in-memory test database refuses writers "
            "at once ('table is locked'); tests/test_sqlite_concurrency.py covers SQLite"
        )
    # No flow: each text is recorded and answered by nothing, so only the transcript counts.
    start = now_ms() - 60_000
    deliveries = [
        WebhookDelivery.objects.create(
            body=encode(envelope(entry(PAGE, text(PAGE, body=f"m{i}", ts=start + i * 10))))
        ).pk
        for i in range(6)
    ]
    barrier = threading.Barrier(len(deliveries))

    def process(delivery_id: int) -> None:
        try:
            barrier.wait()
            runtime.delivery_process(delivery_id=delivery_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=process, args=(d,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    worker.drain()  # a delivery that found the person busy runs again

    assert [row[3] for row in transcript()] == [f"m{i}" for i in range(6)]
    assert Message.objects.count() == 6


def test_an_agents_answer_is_recorded_as_the_agent_s(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    conversation = Conversation.objects.create(tenant=tenant, page=ada_page, psid=PSID)
    row = transcripts.message_record_agent(
        conversation=conversation, text="Hi, Ada here.", mid="m_agent"
    )
    assert (row.direction, row.sender, row.kind, row.psid) == ("out", "agent", "text", PSID)
    assert row.tenant_id == tenant.pk


def test_the_retention_task_deletes_each_workspaces_old_messages(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    other = TenantFactory.create(transcript_retention_days=7)
    other_page = ConnectedPageFactory.create(tenant=other)
    for page, age in ((ada_page, 89), (ada_page, 91), (other_page, 6), (other_page, 8)):
        transcripts.message_record_inbound(
            page=page,
            psid=PSID,
            conversation=None,
            kind="text",
            text=f"{page.tenant_id}:{age}",
            payload="",
            attachments=[],
            referral=None,
            mid="",
            sent_at=now - timedelta(days=age),
        )

    assert transcripts.transcripts_prune(now=now) == 2
    assert sorted(Message.objects.values_list("text", flat=True)) == sorted(
        [f"{tenant.pk}:89", f"{other.pk}:6"]
    )


@pytest.mark.parametrize("days", ["0", "3651", "ninety"])
def test_the_settings_screen_refuses_a_retention_out_of_range(tenant: Tenant, days: str) -> None:
    client = signed_in(tenant, Role.ADMIN)
    response = client.post(
        f"/t/{tenant.slug}/settings/",
        {"name": tenant.name, "country": str(tenant.country), "transcript_retention_days": days},
    )
    assert response.status_code == 400
    assert "transcript_retention_days" in response.context["form"].errors
    tenant.refresh_from_db()
    assert tenant.transcript_retention_days == 90


def test_an_admin_sets_the_retention_and_it_is_audited(tenant: Tenant) -> None:
    client = signed_in(tenant, Role.ADMIN)
    response = client.post(
        f"/t/{tenant.slug}/settings/",
        {"name": tenant.name, "country": str(tenant.country), "transcript_retention_days": "30"},
    )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.transcript_retention_days == 30
    audit = AuditEvent.objects.get(tenant=tenant, action=AuditAction.TENANT_UPDATED)
    assert audit.details["transcript_retention_days"] == [90, 30]
