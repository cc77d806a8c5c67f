"""People: the Person kept current in one statement per message (and backfilled from history),
the list's search and filters, a person's page and tags, and deleting one person's data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events import ratelimit
from events.models import DeliveryAttempt, EventStatus, LoggedEvent
from events.services import FORGOTTEN_REASON
from flows.models import Conversation
from messenger import intake, people, runtime, tasks
from messenger.models import (
    Message,
    MessageSender,
    Person,
    ProcessedMessage,
    Tag,
    WebhookDelivery,
)
from tenants.models import AuditAction, AuditEvent, ConnectedPage, Tenant
from tenants.permissions import Role
from tenants.services import Actor
from tests.events.factories import DeliveryAttemptFactory, LoggedEventFactory, delivered_event
from tests.flows.factories import ConversationFactory
from tests.messenger.runtime_support import InlineWorker, echo, encode, entry, envelope, text
from tests.migration_steps import migrate_to
from tests.sandbox_fixtures import ADA_PAGE as PAGE
from tests.tenants.factories import ConnectedPageFactory, member, signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runtime_redis")]

PSID = "6100000000000101"


def url(tenant: Tenant, path: str = "") -> str:
    return f"/t/{tenant.slug}/people/{path}"


def someone(tenant: Tenant, page: ConnectedPage, psid: str = PSID, **fields: Any) -> Person:
    now = timezone.now()
    defaults: dict[str, Any] = {"first_seen_at": now - timedelta(days=3), "last_seen_at": now}
    return Person.objects.create(tenant=tenant, page=page, psid=psid, **{**defaults, **fields})


# --- Kept current ------------------------------------------------------------------------------


def test_a_message_upserts_its_person_in_one_statement_and_only_widens_the_dates(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    now = timezone.now()
    with CaptureQueriesContext(connection) as captured:
        people.person_seen(page=ada_page, psid=PSID, at=now)
    assert len(captured) == 1
    people.person_seen(page=ada_page, psid=PSID, at=now - timedelta(hours=2))  # late delivery
    people.person_seen(page=ada_page, psid=PSID, at=now + timedelta(minutes=5))
    person = Person.objects.get()
    assert (person.first_seen_at, person.last_seen_at) == (
        now - timedelta(hours=2),
        now + timedelta(minutes=5),
    )
    assert (person.tenant_id, person.page_id, person.psid) == (tenant.pk, ada_page.pk, PSID)


def test_every_inbound_message_keeps_its_person(
    tenant: Tenant, ada_page: ConnectedPage, client: Client, worker: InlineWorker
) -> None:
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, PSID, body="hello"))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, "6100000000000102", body="hi"))))
    assert sorted(Person.objects.values_list("psid", flat=True)) == [PSID, "6100000000000102"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_latest")
def test_the_migration_finds_everyone_who_wrote_before(tenant: Tenant) -> None:
    migrate_to(("flows", "0007_runtime_moved_to_messenger"))  # before the inbox's columns
    apps = migrate_to(("messenger", "0004_people"))
    page = ConnectedPageFactory.create(tenant=tenant)
    now = timezone.now()
    message = apps.get_model("messenger", "Message")
    for hours in (30, 2):
        message.objects.create(
            tenant_id=tenant.pk,
            page_id=page.pk,
            psid=PSID,
            direction="in",
            sender="person",
            text="hi",
            sent_at=now - timedelta(hours=hours),
        )
    conversation = apps.get_model("flows", "Conversation")
    conversation.objects.create(tenant_id=tenant.pk, page_id=page.pk, psid="77", status="ended")
    conversation.objects.create(tenant_id=tenant.pk, page_id=page.pk, psid="78", is_test=True)

    migrate_to(("messenger", "0005_people_names_and_backfill"))

    found = {p.psid: p for p in Person.objects.all()}
    assert set(found) == {PSID, "77"}
    assert (found[PSID].first_seen_at, found[PSID].last_seen_at) == (
        now - timedelta(hours=30),
        now - timedelta(hours=2),
    )


# --- The list ----------------------------------------------------------------------------------


def test_search_by_name_psid_or_anything_a_flow_gathered(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    someone(tenant, ada_page, name="Dmitri Kowalski")
    someone(tenant, ada_page, psid="555")
    ConversationFactory.create(
        tenant=tenant, page=ada_page, psid="555", variables={"contact": "ann@example.com"}
    )
    client = signed_in(tenant, Role.VIEWER)

    def found(**params: str) -> list[str]:
        html = client.get(url(tenant), params).content.decode()
        return [psid for psid in (PSID, "555") if f"<code>{psid}</code>" in html]

    assert found() == [PSID, "555"]
    assert found(q="kowal") == [PSID]
    assert found(q="ANN@example") == ["555"]
    assert found(q="555") == ["555"]
    assert found(q="nobody") == []
    assert "Nobody matches." in client.get(url(tenant), {"q": "nobody"}).content.decode()


def test_filters_by_page_tag_lead_ad_and_last_seen(tenant: Tenant, ada_page: ConnectedPage) -> None:
    other = ConnectedPageFactory.create(tenant=tenant)
    vip = someone(tenant, ada_page)
    vip.tags.add(Tag.objects.create(tenant=tenant, name="VIP"))
    someone(tenant, other, psid="2", last_seen_at=timezone.now() - timedelta(days=40))
    someone(tenant, ada_page, psid="3")
    LoggedEventFactory.create(page=ada_page, psid="3", event="lead_submitted")
    someone(tenant, ada_page, psid="4")
    ConversationFactory.create(tenant=tenant, page=ada_page, psid="4", ad_id="120000000001")
    client = signed_in(tenant)

    def found(**params: Any) -> set[str]:
        html = client.get(url(tenant), params).content.decode()
        return {psid for psid in (PSID, "2", "3", "4") if f"<code>{psid}</code>" in html}

    assert found(page_id=other.pk) == {"2"}
    assert found(tag="vip") == {PSID}
    assert found(lead=1) == {"3"}
    assert found(from_ad=1) == {"4"}
    assert found(days=30) == {PSID, "3", "4"}
    assert found(days=31, page_id="²") == {PSID, "2", "3", "4"}  # what cannot be used is ignored


def test_the_list_costs_the_same_queries_for_3_or_30_people(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    client = signed_in(tenant)
    tag = Tag.objects.create(tenant=tenant, name="vip")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(tenant)).status_code == 200
        return len(captured)

    queries()
    for n in range(3):
        someone(tenant, ada_page, psid=f"9{n}").tags.add(tag)
    few = queries()
    for n in range(3, 30):
        someone(tenant, ada_page, psid=f"9{n}").tags.add(tag)
    assert queries() == few


# --- A person ----------------------------------------------------------------------------------


def test_a_persons_page_shows_what_flows_gathered_their_conversations_and_events(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    person = someone(tenant, ada_page)
    conversation = ConversationFactory.create(
        tenant=tenant, page=ada_page, psid=PSID, variables={"contact": "ann@example.com"}
    )
    lead = delivered_event(page=ada_page, psid=PSID, event="lead_submitted")

    html = signed_in(tenant, Role.VIEWER).get(url(tenant, f"{person.pk}/")).content.decode()

    assert "<dt>contact</dt><dd>ann@example.com</dd>" in html
    assert f'href="/t/{tenant.slug}/inbox/{conversation.pk}/"' in html
    assert f'href="/t/{tenant.slug}/events/{lead.pk}/">Lead submitted</a> · 57.23 USD' in html
    assert "1 lead among the newest 1 events." in html
    assert "Add a tag" not in html  # viewers read
    assert "Delete their data" not in html


def test_tags_are_added_reused_whatever_the_case_and_removed(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    person = someone(tenant, ada_page)
    other = someone(tenant, ada_page, psid="2")
    Tag.objects.create(tenant=tenant, name="VIP")
    client = signed_in(tenant, Role.EDITOR)

    client.post(url(tenant, f"{person.pk}/tags/"), {"name": "  vip "})
    client.post(url(tenant, f"{other.pk}/tags/"), {"name": "Wholesale buyer"})
    empty = client.post(url(tenant, f"{person.pk}/tags/"), {"name": "  "}, follow=True)

    assert list(person.tags.values_list("name", flat=True)) == ["VIP"]
    assert Tag.objects.count() == 2
    assert "Type a tag first" in empty.content.decode()
    tag = Tag.objects.get(name="VIP")
    client.post(url(tenant, f"{person.pk}/tags/{tag.pk}/remove/"))
    assert not person.tags.exists()
    viewer = signed_in(tenant, Role.VIEWER)
    assert viewer.post(url(tenant, f"{person.pk}/tags/"), {"name": "x"}).status_code == 403


def test_every_route_is_404_for_another_workspaces_person(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = someone(other_tenant, ConnectedPageFactory.create(tenant=other_tenant))
    their_tag = Tag.objects.create(tenant=other_tenant, name="x")
    mine = someone(tenant, ConnectedPageFactory.create(tenant=tenant), psid="1")
    client = signed_in(tenant, Role.OWNER)
    assert client.get(url(tenant, f"{theirs.pk}/")).status_code == 404
    assert client.post(url(tenant, f"{theirs.pk}/tags/"), {"name": "x"}).status_code == 404
    assert client.post(url(tenant, f"{mine.pk}/tags/{their_tag.pk}/remove/")).status_code == 404
    delete = client.post(url(tenant, f"{theirs.pk}/delete/"), {"confirm": "yes"})
    assert delete.status_code == 404
    assert client.get(f"/t/{other_tenant.slug}/people/").status_code == 404
    assert Person.objects.filter(pk=theirs.pk).exists()


# --- Deleting a person's data ------------------------------------------------------------------


def test_deleting_a_persons_data_asks_first_then_removes_it_and_keeps_the_counts(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    person = someone(tenant, ada_page)
    conversation = ConversationFactory.create(
        tenant=tenant, page=ada_page, psid=PSID, variables={"contact": "ann@example.com"}
    )
    Message.objects.create(
        tenant=tenant,
        page=ada_page,
        psid=PSID,
        conversation=conversation,
        direction="in",
        sender=MessageSender.PERSON,
        text="ann@example.com",
        sent_at=timezone.now(),
    )
    delivered = delivered_event(page=ada_page, psid=PSID, event="lead_submitted")
    attempt = DeliveryAttempt.objects.get(events=delivered)
    attempt.request = {"body": {"data": [{"user_data": {"page_scoped_user_id": PSID}}]}}
    attempt.save()
    pending = LoggedEventFactory.create(page=ada_page, psid=PSID)
    bystander = LoggedEventFactory.create(page=ada_page, psid="2")
    DeliveryAttemptFactory.create(page=ada_page, events=[bystander])
    someone(tenant, ada_page, psid="2")
    admin = signed_in(tenant, Role.ADMIN)

    assert (
        signed_in(tenant, Role.EDITOR).post(url(tenant, f"{person.pk}/delete/")).status_code == 403
    )
    asked = admin.post(url(tenant, f"{person.pk}/delete/"))
    assert asked.status_code == 200
    assert "Delete everything Pagepulse holds about this Messenger user?" in asked.content.decode()
    assert Person.objects.filter(pk=person.pk).exists()

    done = admin.post(url(tenant, f"{person.pk}/delete/"), {"confirm": "yes"}, follow=True)

    assert "Deleted: 1 message, 1 conversation; the PSID is gone from 2 events." in (
        done.content.decode()
    )
    assert not Person.objects.filter(pk=person.pk).exists()
    assert not Message.objects.filter(psid=PSID).exists()
    assert not Conversation.objects.filter(psid=PSID).exists()
    delivered.refresh_from_db()
    pending.refresh_from_db()
    assert (delivered.psid, delivered.status) == ("", EventStatus.DELIVERED)
    assert (pending.psid, pending.status, pending.last_error) == (
        "",
        EventStatus.KEPT,
        FORGOTTEN_REASON,
    )
    attempt.refresh_from_db()
    assert PSID not in str(attempt.request)
    assert LoggedEvent.objects.get(pk=bystander.pk).psid == "2"
    assert Person.objects.filter(psid="2").exists()
    audit = AuditEvent.objects.get(action=AuditAction.PERSON_DELETED)
    assert audit.target == "A Messenger user of Ada's Bakery"
    assert PSID not in str(audit.details)


def test_deleting_a_person_deletes_the_webhook_deliveries_that_carried_their_words(
    tenant: Tenant, ada_page: ConnectedPage, client: Client, worker: InlineWorker
) -> None:
    # What they wrote, an echo of what the Page wrote to them, and an ad click no flow took
    # (it waits in Redis for their next message); a bystander wrote in a delivery of its own.
    ad = {"ref": "spring", "ad_id": "6000000000042", "source": "ADS", "type": "OPEN_THREAD"}
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, PSID, body="my secret is 1234"))))
    worker.deliver(client, envelope(entry(PAGE, echo(PAGE, PSID, body="we answered them"))))
    worker.deliver(
        client,
        envelope(
            entry(
                PAGE,
                {
                    "sender": {"id": PSID},
                    "recipient": {"id": PAGE},
                    "timestamp": 1_700_000_000_000,
                    "referral": ad,
                },
            )
        ),
    )
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, "2", body="bystander here"))))
    # Stored, not processed yet: its messages still have to run.
    waiting = intake.delivery_store(encode(envelope(entry(PAGE, text(PAGE, PSID, body="later")))))
    pending_ad = runtime._pending_ad_key(ada_page, PSID)
    redis = ratelimit.redis_client()
    assert redis.exists(pending_ad)
    assert ProcessedMessage.objects.filter(mid__contains=f":{PSID}:").exists()
    person = Person.objects.get(psid=PSID)

    counts = people.person_delete(
        tenant=tenant, actor=Actor(user=member(tenant, Role.ADMIN).user), person_id=person.pk
    )

    assert counts["webhook_deliveries"] == 3
    left = WebhookDelivery.objects.all()
    assert sorted(left.values_list("pk", flat=True)) == sorted(
        [waiting, left.get(processed_at__isnull=False).pk]
    )
    assert b"bystander here" in bytes(left.get(processed_at__isnull=False).body)
    assert not any(b"my secret" in bytes(d.body) or b"we answered" in bytes(d.body) for d in left)
    assert ProcessedMessage.objects.count() == 2  # "my secret" and the bystander's, unlinked
    assert not ProcessedMessage.objects.filter(mid__contains=PSID).exists()
    assert not redis.exists(pending_ad)
    assert (
        AuditEvent.objects.get(action=AuditAction.PERSON_DELETED).details["webhook_deliveries"] == 3
    )


def test_processed_deliveries_and_old_message_keys_are_pruned_on_time(
    ada_page: ConnectedPage, settings: Any
) -> None:
    settings.WEBHOOK_DELIVERY_RETENTION_HOURS = 24
    now = timezone.now()

    def delivery(hours_ago: float, *, processed: bool) -> int:
        pk = intake.delivery_store(b'{"object":"page"}')
        received = now - timedelta(hours=hours_ago)
        WebhookDelivery.objects.filter(pk=pk).update(
            received_at=received, processed_at=received if processed else None
        )
        return pk

    old, recent, stuck = (
        delivery(25, processed=True),
        delivery(23, processed=True),
        delivery(48, processed=False),
    )
    linked = ProcessedMessage.objects.create(page_id=PAGE, mid="m.1", delivery_id=old)
    ProcessedMessage.objects.filter(pk=linked.pk).update(processed_at=now - timedelta(hours=25))
    expired = ProcessedMessage.objects.create(page_id=PAGE, mid="m.0")
    ProcessedMessage.objects.filter(pk=expired.pk).update(processed_at=now - timedelta(hours=73))

    assert intake.deliveries_prune(now=now) == (1, 1)

    assert sorted(WebhookDelivery.objects.values_list("pk", flat=True)) == sorted([recent, stuck])
    linked.refresh_from_db()
    assert linked.delivery_id is None  # the key still guards against Facebook's retries
    assert not ProcessedMessage.objects.filter(pk=expired.pk).exists()
    assert tasks.deliveries_prune() == 0  # nothing more is due
