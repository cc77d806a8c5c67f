"""flows/migrations/0007 and messenger/migrations/0001: the runtime's models move to messenger/
with their tables and every row (state only: no table is created, dropped or renamed)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from flows.models import Conversation
from messenger.models import OutboundMessage, ProcessedMessage, WebhookDelivery
from tests.migration_steps import migrate_to
from tests.tenants.factories import ConnectedPageFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_latest")]

BEFORE = ("flows", "0006_flowversion_published_by_api_key")
AFTER = ("messenger", "0001_runtime_from_flows")


def test_deliveries_processed_mids_and_outbound_messages_keep_every_row() -> None:
    apps = migrate_to(BEFORE)
    page = ConnectedPageFactory.create()
    conversation = apps.get_model("flows", "Conversation").objects.create(
        tenant_id=page.tenant_id, page_id=page.pk, psid="6100000000000042", status="waiting"
    )
    delivery = apps.get_model("flows", "WebhookDelivery").objects.create(
        body=b'{"object": "page"}', attempts=2, error="Graph said no"
    )
    apps.get_model("flows", "ProcessedMessage").objects.create(
        page_id=page.page_id, mid="m_1", delivery_id=delivery.pk
    )
    outbound = apps.get_model("flows", "OutboundMessage")
    for seq in (1, 2):
        outbound.objects.create(
            tenant_id=page.tenant_id,
            conversation_id=conversation.pk,
            seq=seq,
            message={"text": f"hello {seq}"},
            status="sent" if seq == 1 else "pending",
        )

    apps = migrate_to(AFTER)
    moved = apps.get_model("messenger", "OutboundMessage")
    assert [(m.seq, m.message["text"], m.status) for m in moved.objects.order_by("seq")] == [
        (1, "hello 1", "sent"),
        (2, "hello 2", "pending"),
    ]

    call_command("migrate", verbosity=0)  # today's models read the same rows
    stored = WebhookDelivery.objects.get()
    assert (bytes(stored.body), stored.attempts, stored.error) == (
        b'{"object": "page"}',
        2,
        "Graph said no",
    )
    processed = ProcessedMessage.objects.get()
    assert (processed.mid, processed.delivery_id) == ("m_1", stored.pk)
    today = Conversation.objects.get(pk=conversation.pk)
    assert list(today.outbound_messages.values_list("seq", flat=True)) == [1, 2]
    assert OutboundMessage.objects.filter(conversation=today, status="pending").count() == 1

    apps = migrate_to(BEFORE)  # reversible, and still every row
    assert apps.get_model("flows", "OutboundMessage").objects.count() == 2
    assert apps.get_model("flows", "WebhookDelivery").objects.get().attempts == 2
    assert apps.get_model("flows", "ProcessedMessage").objects.get().mid == "m_1"


def test_each_conversation_starts_numbering_from_its_last_message() -> None:
    before = ("flows", "0008_conversation_inbox")
    apps = migrate_to(before, ("messenger", "0006_webhook_delivery_page"))
    page = ConnectedPageFactory.create()
    conversations = apps.get_model("flows", "Conversation")
    outbound = apps.get_model("messenger", "OutboundMessage")
    talked, quiet = (
        conversations.objects.create(
            tenant_id=page.tenant_id, page_id=page.pk, psid=psid, status="waiting"
        )
        for psid in ("6100000000000042", "6100000000000043")
    )
    for seq in (1, 2, 5):
        outbound.objects.create(
            tenant_id=page.tenant_id, conversation_id=talked.pk, seq=seq, message={"text": "hi"}
        )

    apps = migrate_to(("flows", "0009_conversation_outbound_seq"))

    numbered = apps.get_model("flows", "Conversation").objects
    assert numbered.get(pk=talked.pk).outbound_seq == 5
    assert numbered.get(pk=quiet.pk).outbound_seq == 0
    migrate_to(before)  # reversible
