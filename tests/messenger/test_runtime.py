"""The runtime: routing deliveries to conversations, triggers, dedupe, version pinning, effects in
one transaction, sending in order inside the 24-hour window, Send API errors, handoffs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
import responses
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import EventSource, EventStatus, LoggedEvent
from events.ratelimit import redis_key
from flows.conversations import conversation_state
from flows.models import Conversation, ConversationStatus, Flow, FlowVersion, TriggerKind
from flows.services import flow_publish
from messenger import intake, runtime, sending
from messenger.models import Message, OutboundMessage, ProcessedMessage, WebhookDelivery
from tenants.exceptions import Conflict, NotFound, PermissionDenied
from tenants.models import ConnectedPage, PageStatus, Tenant, Transport
from tenants.permissions import Role
from tenants.services import Actor
from tests.flows.factories import edge, node, published_flow, simple_document
from tests.messenger.runtime_support import (
    PSID,
    InlineWorker,
    echo,
    encode,
    entry,
    envelope,
    graph_error,
    now_ms,
    postback,
    quick_reply,
    referral,
    send_url,
    sent,
    text,
    texts,
)
from tests.sandbox_fixtures import ADA_PAGE as PAGE
from tests.tenants.factories import ConnectedPageFactory, member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runtime_redis")]


def ask_document() -> dict[str, Any]:
    """start -> ask name -> thanks -> log lead_submitted -> end."""
    return {
        "nodes": [
            node("start", "start"),
            node("ask", "ask", question="Your name?", variable="name", check="text"),
            node("thanks", "send_message", text="Thanks, {{name}}!"),
            node("lead", "log_event", event="lead_submitted", params={"name": "{{name}}"}),
            node("end", "end"),
        ],
        "edges": [
            edge("start", "ask"),
            edge("ask", "thanks"),
            edge("thanks", "lead"),
            edge("lead", "end"),
        ],
    }


def handoff_document() -> dict[str, Any]:
    return {
        "nodes": [
            node("start", "start"),
            node("ask", "ask", question="What went wrong?", variable="problem", check="text"),
            node("sorry", "send_message", text="Sorry! A person will help you."),
            node("human", "handoff", note="Problem: {{problem}}"),
        ],
        "edges": [edge("start", "ask"), edge("ask", "sorry"), edge("sorry", "human")],
    }


def keyword_flow(
    tenant: Tenant,
    page: ConnectedPage,
    keywords: tuple[str, ...] = ("pricing",),
    text: str = "Our prices are fair.",
    **fields: Any,
) -> Flow:
    return published_flow(
        tenant,
        page=page,
        name=f"Keywords {'/'.join(keywords)}",
        trigger_kind=TriggerKind.KEYWORDS,
        trigger_keywords=list(keywords),
        document=simple_document(text),
        **fields,
    )


# --- Routing and triggers ---------------------------------------------------------------------


def test_a_batch_of_entries_and_people_runs_each_message_in_order(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[])
    payload = envelope(
        entry(PAGE, text(PAGE, "61001", "one"), text(PAGE, "61002", "two")),
        entry(PAGE, text(PAGE, "61003", "three"), text(PAGE, "61001", "four")),
    )

    worker.deliver(client, payload)

    conversations = Conversation.objects.order_by("psid")
    assert [c.psid for c in conversations] == ["61001", "61001", "61002", "61003"]
    assert sorted(psid for psid, _ in sent(send_api)) == ["61001", "61001", "61002", "61003"]
    assert ProcessedMessage.objects.filter(page_id=PAGE).count() == 4
    assert WebhookDelivery.objects.get().processed_at is not None


def test_the_answer_leaves_from_the_worker_that_ran_the_turn(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    # No task hop between a person's message and the answer: it waited behind other drains.
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[])

    worker.deliver(client, envelope(entry(PAGE, text(PAGE, "61001", "hi"))))

    assert [name for name, _, _ in worker.ran] == ["flows.tasks.drain_deliveries"]
    assert [psid for psid, _ in sent(send_api)] == ["61001"]
    assert _statuses(Conversation.objects.get()) == ["sent"]


def test_an_answer_that_cannot_go_at_once_goes_by_the_task(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[])
    slots = iter([2.0])  # the Page's send rate is used up for two seconds, then free
    monkeypatch.setattr(sending, "_send_slot", lambda page_pk: next(slots, 0.0))
    failures = iter([RuntimeError("the database went away")])
    send = sending.conversation_send

    def flaky(**kwargs: Any) -> sending.SendReport:
        if (error := next(failures, None)) is not None:
            raise error
        return send(**kwargs)

    worker.post(client, encode(envelope(entry(PAGE, text(PAGE, "61001", "hi")))))
    worker.drain(max_runs=1)
    first = Conversation.objects.get(psid="61001")
    assert worker.queued == [("flows.tasks.send_conversation", (first.pk,), 2.0)]
    assert len(send_api.calls) == 0
    worker.drain()
    assert [psid for psid, _ in sent(send_api)] == ["61001"]

    # A send that raises leaves the answer pending for the task; the delivery is done.
    monkeypatch.setattr(sending, "conversation_send", flaky)
    worker.post(client, encode(envelope(entry(PAGE, text(PAGE, "61002", "hi")))))
    worker.drain(max_runs=1)
    second = Conversation.objects.get(psid="61002")
    assert worker.queued == [
        ("flows.tasks.send_conversation", (second.pk,), runtime.BUSY_RETRY_SECONDS)
    ]
    assert WebhookDelivery.objects.filter(processed_at__isnull=True, error="").count() == 0
    worker.drain()
    assert [psid for psid, _ in sent(send_api)] == ["61001", "61002"]


def test_a_repeated_delivery_runs_the_flow_once(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[])
    body = encode(envelope(entry(PAGE, text(PAGE, mid="m_same"), postback(PAGE, "X", mid="m_pb"))))

    for _ in range(3):
        assert worker.post(client, body).status_code == 200
        worker.drain()

    assert WebhookDelivery.objects.count() == 3
    # The text started the default flow (which ended); the postback started it again.
    assert Conversation.objects.count() == 2
    assert texts(send_api) == ["Hello! How can we help?", "Hello! How can we help?"]
    reports = [runtime.delivery_process(delivery_id=d.pk) for d in WebhookDelivery.objects.all()]
    assert [r.ran for r in reports] == [0, 0, 0]  # processed already: nothing runs again


def test_the_same_mid_in_another_delivery_is_a_duplicate(
    tenant: Tenant, ada_page: ConnectedPage, send_api: responses.RequestsMock
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[])
    first = WebhookDelivery.objects.create(
        body=encode(envelope(entry(PAGE, text(PAGE, mid="m_1"))))
    )
    again = WebhookDelivery.objects.create(
        body=encode(envelope(entry(PAGE, text(PAGE, mid="m_1"))))
    )

    assert runtime.delivery_process(delivery_id=first.pk).ran == 1
    report = runtime.delivery_process(delivery_id=again.pk)

    assert (report.ran, report.duplicates) == (0, 1)


@pytest.mark.parametrize(
    ("item", "started"),
    [
        (lambda: text(PAGE, body="pricing"), "keywords"),
        (lambda: text(PAGE, body="What is your PRICING?"), "keywords"),
        (lambda: text(PAGE, body="Pricing plans, please"), "keywords"),
        (lambda: text(PAGE, body="pricingplan"), "default"),
        (lambda: text(PAGE, body="hello"), "default"),
        (lambda: quick_reply(PAGE, "Pricing", "P"), "keywords"),
        (lambda: postback(PAGE, "GET_STARTED"), "get_started"),
        (lambda: postback(PAGE, "GET_STARTED", ref="spring-sale"), "ref"),
        (lambda: postback(PAGE, "GET_STARTED", ref="unknown-ref"), "get_started"),
        (lambda: referral(PAGE, "spring-sale"), "ref"),
        (lambda: referral(PAGE, "Spring-Sale"), None),  # refs are exact
        (lambda: postback(PAGE, "SOME_BUTTON"), "default"),
    ],
)
def test_each_trigger_kind_starts_its_flow(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
    item: Callable[..., Any],
    started: str | None,
) -> None:
    flows = {
        "keywords": keyword_flow(tenant, ada_page, text="keywords"),
        "get_started": published_flow(
            tenant,
            page=ada_page,
            trigger_kind=TriggerKind.GET_STARTED,
            trigger_keywords=[],
            document=simple_document("get_started"),
        ),
        "ref": published_flow(
            tenant,
            page=ada_page,
            trigger_kind=TriggerKind.REF,
            trigger_keywords=[],
            trigger_ref="spring-sale",
            document=simple_document("ref"),
        ),
        "default": published_flow(
            tenant,
            page=ada_page,
            trigger_kind=TriggerKind.DEFAULT,
            trigger_keywords=[],
            document=simple_document("default"),
        ),
    }

    worker.deliver(client, envelope(entry(PAGE, item())))

    conversation = Conversation.objects.first()
    if started is None:
        assert conversation is None
        assert sent(send_api) == []
    else:
        assert conversation is not None
        assert conversation.flow == flows[started]
        assert texts(send_api) == [started]


def test_the_longest_keyword_wins() -> None:
    assert runtime.keyword_match("big pizza deal", ["pizza", "pizza deal"]) == "pizza deal"
    assert runtime.keyword_match("Pizza!", ["pizza"]) == "pizza"
    assert runtime.keyword_match("pizzas", ["pizza"]) is None
    assert runtime.keyword_match("", ["pizza"]) is None


def test_without_a_trigger_or_open_conversation_nothing_answers(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    keyword_flow(tenant, ada_page)

    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hello"))))

    assert Conversation.objects.count() == 0
    assert sent(send_api) == []


def test_a_draft_flow_does_not_answer(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    flow = published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT)
    flow.status = "draft"
    flow.save()

    worker.deliver(client, envelope(entry(PAGE, text(PAGE))))

    assert Conversation.objects.count() == 0


def test_an_answer_continues_the_open_conversation_even_if_it_holds_a_keyword(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    published_flow(
        tenant,
        page=ada_page,
        trigger_kind=TriggerKind.KEYWORDS,
        trigger_keywords=["name"],
        document=ask_document(),
    )
    keyword_flow(tenant, ada_page, keywords=("pricing",))

    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="my name"))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="Pricing Pete"))))

    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.ENDED
    assert conversation.variables["name"] == "Pricing Pete"
    assert texts(send_api) == ["Your name?", "Thanks, Pricing Pete!"]


def test_get_started_restarts_an_open_conversation(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    published_flow(
        tenant,
        page=ada_page,
        trigger_kind=TriggerKind.GET_STARTED,
        trigger_keywords=[],
        document=ask_document(),
    )

    worker.deliver(client, envelope(entry(PAGE, postback(PAGE, "GET_STARTED"))))
    worker.deliver(client, envelope(entry(PAGE, postback(PAGE, "GET_STARTED"))))

    first, second = Conversation.objects.order_by("pk")
    assert (first.status, second.status) == (ConversationStatus.ENDED, ConversationStatus.WAITING)
    assert texts(send_api) == ["Your name?", "Your name?"]


def test_quick_replies_and_postbacks_answer_the_ask(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    document = ask_document()
    document["nodes"][1]["data"]["quick_replies"] = [{"title": "Ada", "payload": "ADA"}]
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, document=document)

    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hi"))))
    worker.deliver(client, envelope(entry(PAGE, quick_reply(PAGE, "Ada", "ADA"))))

    conversation = Conversation.objects.get()
    assert conversation.variables["name"] == "Ada"
    assert conversation.variables["name_payload"] == "ADA"
    assert sent(send_api)[0][1] == {
        "text": "Your name?",
        "quick_replies": [{"content_type": "text", "title": "Ada", "payload": "ADA"}],
    }


def test_echoes_standby_and_receipts_are_ignored(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT)
    receipt = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": now_ms(),
        "read": {"watermark": now_ms()},
    }
    payload = envelope(
        entry(PAGE, echo(PAGE), receipt),
        entry(PAGE, text(PAGE), field="standby"),
    )

    worker.post(client, encode(payload))
    report = runtime.delivery_process(delivery_id=WebhookDelivery.objects.get().pk)

    assert (report.ran, report.ignored) == (0, 3)
    assert Conversation.objects.count() == 0
    assert ProcessedMessage.objects.count() == 0


def test_unknown_and_disconnected_pages_are_recorded_and_ignored(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    ConnectedPageFactory.create(
        tenant=tenant, page_id="300000000000009", status=PageStatus.DISCONNECTED
    )
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT)
    delivery = WebhookDelivery.objects.create(
        body=encode(
            envelope(
                entry("399999999999999", text("399999999999999")),
                entry("300000000000009", text("300000000000009")),
            )
        )
    )

    report = runtime.delivery_process(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.unrouted == [
        {"page_id": "399999999999999", "reason": "unknown_page"},
        {"page_id": "300000000000009", "reason": "disconnected_page"},
    ]
    assert delivery.processed_at is not None
    assert report.ran == 0
    assert Conversation.objects.count() == 0


def test_a_page_disconnected_in_one_workspace_routes_to_the_one_it_is_connected_in(
    other_tenant: Tenant, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    # A Page is connected in at most one workspace (tests/tenants/test_page_ownership.py).
    ada_page.status = PageStatus.DISCONNECTED
    ada_page.save()
    other = ConnectedPageFactory.create(tenant=other_tenant, page_id=PAGE)
    published_flow(other_tenant, page=other, trigger_kind=TriggerKind.DEFAULT)
    delivery = WebhookDelivery.objects.create(body=encode(envelope(entry(PAGE, text(PAGE)))))

    runtime.delivery_process(delivery_id=delivery.pk)

    assert Conversation.objects.get().tenant == other_tenant


def test_a_worker_process_routes_each_page_once_a_second(
    tenant: Tenant,
    ada_page: ConnectedPage,
    send_api: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[])
    looked_up: list[str] = []
    route_page = runtime._route_page

    def counted(page_id: str) -> tuple[ConnectedPage | None, str]:
        looked_up.append(page_id)
        return route_page(page_id)

    monkeypatch.setattr(runtime, "_route_page", counted)
    monkeypatch.setattr(runtime, "ROUTE_SECONDS", 3600.0)  # however slow this machine is
    for psid in ("61001", "61002", "61003"):
        WebhookDelivery.objects.create(body=encode(envelope(entry(PAGE, text(PAGE, psid)))))

    assert intake.deliveries_drain() == 3
    assert looked_up == [PAGE]  # one lookup for the batch's three deliveries
    WebhookDelivery.objects.create(body=encode(envelope(entry(PAGE, text(PAGE, "61004")))))
    assert intake.deliveries_drain() == 1
    assert looked_up == [PAGE]  # and none for the process's next drain
    assert sorted(psid for psid, _ in sent(send_api)) == ["61001", "61002", "61003", "61004"]

    # A Page disconnected while a drain runs is seen within the second.
    monkeypatch.setattr(runtime, "ROUTE_SECONDS", 1.0)
    clock = [1000.0]
    routes = runtime.PageRoutes(clock=lambda: clock[0])
    assert routes.route(PAGE)[0] == ada_page
    ada_page.status = PageStatus.DISCONNECTED
    ada_page.save()
    clock[0] += runtime.ROUTE_SECONDS / 2
    assert routes.route(PAGE)[0] == ada_page
    clock[0] += runtime.ROUTE_SECONDS
    assert routes.route(PAGE) == (None, "disconnected_page")

    # Every Page id a signed delivery names is looked up: what is kept stays bounded.
    monkeypatch.setattr(runtime, "MAX_ROUTED_PAGES", 2)
    assert routes.route("1") == (None, "unknown_page")
    assert routes.route("2") == (None, "unknown_page")
    assert len(routes._seen) == 1  # PAGE and "1" went to make room for "2"


@pytest.mark.django_db(transaction=True)  # the transactions are the worker's, not the test's
def test_a_middle_turn_and_its_send_read_and_write_each_thing_once(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    published_flow(tenant, page=ada_page, document=ask_document(), trigger_kind=TriggerKind.DEFAULT)

    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hello"))))
    with CaptureQueriesContext(connection) as queries:
        worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="Ada"))))

    conversation = Conversation.objects.get()
    seqs = list(conversation.outbound_messages.order_by("seq").values_list("seq", flat=True))
    assert seqs == [1, 2]  # the question, then the thanks
    assert conversation.outbound_seq == 2
    assert texts(send_api) == ["Your name?", "Thanks, Ada!"]
    directions = list(Message.objects.order_by("pk").values_list("direction", "text"))
    assert directions == [
        ("in", "hello"),
        ("out", "Your name?"),
        ("in", "Ada"),
        ("out", "Thanks, Ada!"),
    ]
    statements = [q["sql"] for q in queries.captured_queries]
    # Messages are numbered from the conversation's outbound_seq, not a MAX(seq) query.
    assert not [s for s in statements if "MAX(" in s.upper() and "outbound" in s], statements
    # The answer is sent with the conversation the turn committed: it is not read again.
    reads = [
        s
        for s in statements
        if s.startswith("SELECT") and re.search(r'FROM "?flows_conversation"? ', s)
    ]
    assert len(reads) == 1, reads
    # A version is never edited: the first turn read it, the next one has it.
    assert not [s for s in statements if '"flows_flowversion"' in s], statements
    # The person's answer and the bot's message each go in with one INSERT; the bot's, sent
    # after the turn committed, with no transaction of its own around it.
    inserts = [s for s in statements if s.startswith("INSERT INTO messenger_message")]
    assert len(inserts) == 2, statements
    # The turn's (PostgreSQL's; on SQLite Django's BEGIN is not a captured statement).
    assert len([s for s in statements if s == "BEGIN"]) <= 1, statements
    # The send: its pending messages read once, and each one marked sent only if still pending.
    outbound = [s for s in statements if re.search(r'^(SELECT|UPDATE) .*"?flows_outbound', s)]
    assert len(outbound) == 2, outbound
    assert outbound[1].startswith("UPDATE"), outbound
    assert "'pending'" in outbound[1], outbound


def test_published_versions_are_kept_up_to_a_bound_and_a_gone_one_is_none(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "MAX_CACHED_VERSIONS", 2)
    versions = [FlowVersion.objects.get(flow=published_flow(tenant)) for _ in range(3)]

    for version in versions:
        assert runtime.published_version(version.pk) == version

    assert list(runtime._versions) == [versions[1].pk, versions[2].pk]  # the oldest read went
    assert runtime.published_version(max(v.pk for v in versions) + 1) is None
    assert len(runtime._versions) == 2


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"object": "instagram", "entry": []}'])
def test_a_signed_body_that_is_not_a_page_delivery_is_recorded(body: bytes) -> None:
    delivery = WebhookDelivery.objects.create(body=body)

    runtime.delivery_process(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.error == "Not a Messenger delivery: the body is not JSON with object=page."
    assert delivery.processed_at is not None


def test_a_busy_conversation_makes_the_delivery_retry_and_nothing_is_lost(
    tenant: Tenant,
    ada_page: ConnectedPage,
    send_api: responses.RequestsMock,
    worker: InlineWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT)
    delivery = WebhookDelivery.objects.create(body=encode(envelope(entry(PAGE, text(PAGE)))))
    monkeypatch.setattr(runtime, "LOCK_WAIT_SECONDS", 0)

    with runtime.conversation_lock(ada_page, PSID), worker.capture(execute=True):
        report = runtime.delivery_process(delivery_id=delivery.pk)

    assert report.busy == 1
    delivery.refresh_from_db()
    assert delivery.processed_at is None
    assert worker.queued == [("flows.tasks.process_delivery", (delivery.pk,), 2)]
    worker.drain()
    delivery.refresh_from_db()
    assert delivery.processed_at is not None
    assert Conversation.objects.count() == 1


# --- Versions -------------------------------------------------------------------------------


def test_a_conversation_stays_on_its_version_and_a_new_one_gets_the_new_version(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    owner = member(tenant, Role.OWNER).user
    flow = published_flow(
        tenant,
        page=ada_page,
        trigger_kind=TriggerKind.KEYWORDS,
        trigger_keywords=["name"],
        document=ask_document(),
    )
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, "61001", "name"))))
    v2 = ask_document()
    v2["nodes"][2]["data"]["text"] = "Version two thanks {{name}}."
    flow.document = v2
    flow.save()
    flow_publish(tenant=tenant, actor=Actor(user=owner), flow_id=flow.pk)

    worker.deliver(client, envelope(entry(PAGE, text(PAGE, "61001", "Ada"))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, "61002", "name"))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, "61002", "Bob"))))

    old, new = Conversation.objects.order_by("psid")
    assert old.flow_version is not None
    assert new.flow_version is not None
    assert (old.flow_version.number, new.flow_version.number) == (1, 2)
    assert [(psid, m["text"]) for psid, m in sent(send_api)] == [
        ("61001", "Your name?"),
        ("61001", "Thanks, Ada!"),
        ("61002", "Your name?"),
        ("61002", "Version two thanks Bob."),
    ]
    assert FlowVersion.objects.filter(flow=flow).count() == 2


# --- Effects in one transaction ------------------------------------------------------------


def test_log_event_is_written_with_the_turn_and_its_idempotency_key(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    flow = published_flow(
        tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, document=ask_document()
    )
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hi"))))
    body = encode(envelope(entry(PAGE, text(PAGE, body="Ada", mid="m_answer"))))

    worker.post(client, body)
    worker.post(client, body)  # Facebook's retry of the same delivery
    worker.drain()

    conversation = Conversation.objects.get()
    event = LoggedEvent.objects.get()
    version = flow.versions.get()
    assert (event.event, event.params, event.psid, event.page) == (
        "lead_submitted",
        {"name": "Ada"},
        PSID,
        ada_page,
    )
    assert event.source == EventSource.FLOW
    assert event.source_ref == f"{version.pk}:lead"
    assert event.idempotency_key == f"conv:{conversation.pk}:lead:{conversation.step - 1}"
    assert event.test is False


def test_running_the_same_turn_again_logs_the_event_once(
    tenant: Tenant, ada_page: ConnectedPage, send_api: responses.RequestsMock
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, document=ask_document())
    runtime.delivery_process(
        delivery_id=WebhookDelivery.objects.create(
            body=encode(envelope(entry(PAGE, text(PAGE))))
        ).pk
    )
    conversation = Conversation.objects.get()
    waiting = conversation_state(conversation)
    answer = WebhookDelivery.objects.create(
        body=encode(envelope(entry(PAGE, text(PAGE, body="Ada"))))
    )
    runtime.delivery_process(delivery_id=answer.pk)
    # As if the step's dedupe row were lost: the same state and answer run again.
    Conversation.objects.filter(pk=conversation.pk).update(
        status=waiting.status, node_id=waiting.node_id, step=waiting.step
    )
    ProcessedMessage.objects.all().delete()
    WebhookDelivery.objects.filter(pk=answer.pk).update(processed_at=None)

    runtime.delivery_process(delivery_id=answer.pk)

    assert LoggedEvent.objects.count() == 1


def test_a_turn_that_fails_leaves_nothing_and_runs_again(
    tenant: Tenant,
    ada_page: ConnectedPage,
    monkeypatch: pytest.MonkeyPatch,
    send_api: responses.RequestsMock,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, document=ask_document())
    delivery = WebhookDelivery.objects.create(body=encode(envelope(entry(PAGE, text(PAGE)))))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(OutboundMessage.objects, "bulk_create", broken)
    report = runtime.delivery_process(delivery_id=delivery.pk)
    assert (report.failed, report.error) == (1, "RuntimeError: database went away")
    assert (Conversation.objects.count(), ProcessedMessage.objects.count()) == (0, 0)
    monkeypatch.undo()

    assert runtime.delivery_process(delivery_id=delivery.pk).ran == 1
    assert OutboundMessage.objects.count() == 1


def test_an_event_that_cannot_be_sent_is_logged_not_sent_with_its_reason(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    document = ask_document()
    document["nodes"][3]["data"] = {"event": "purchase", "value": "{{name}}", "currency": "USD"}
    flow = published_flow(
        tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, document=document
    )

    worker.deliver(client, envelope(entry(PAGE, text(PAGE))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="not a number"))))

    # The turn went on, and the event is not lost: it says it was not sent, and why.
    assert Conversation.objects.get().status == ConversationStatus.ENDED
    assert texts(send_api) == ["Your name?", "Thanks, not a number!"]
    event = LoggedEvent.objects.get()
    assert (event.event, event.status, event.value, event.currency, event.source) == (
        "purchase",
        EventStatus.NOT_SENT,
        None,
        "USD",
        EventSource.FLOW,
    )
    assert event.last_error == "The value is a number, such as 49.90, not a str."
    assert event.source_ref == f"{flow.versions.get().pk}:{document['nodes'][3]['id']}"


def test_a_published_event_the_pages_transport_refuses_is_not_sent_nor_dropped(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    # Published while the Page was on page_activities, which carries no OrderShipped; the
    # Page is on it now, so the block cannot be delivered.
    assert ada_page.transport == Transport.PAGE_ACTIVITIES
    document = ask_document()
    document["nodes"][3]["data"] = {"event": "OrderShipped"}
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, document=document)

    worker.deliver(client, envelope(entry(PAGE, text(PAGE))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="Ada"))))

    event = LoggedEvent.objects.get()
    assert (event.event, event.status) == ("order_shipped", EventStatus.NOT_SENT)
    assert event.last_error.startswith(
        "Order shipped (OrderShipped) cannot be sent on page_activities: only conversions_api "
        "carries it."
    )


def test_a_custom_event_on_a_conversions_api_page_is_kept(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    document = ask_document()
    document["nodes"][3]["data"] = {"event": "table_booked"}
    ada_page.transport = Transport.CONVERSIONS_API
    ada_page.save(update_fields=["transport"])
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, document=document)

    worker.deliver(client, envelope(entry(PAGE, text(PAGE))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="Ada"))))

    event = LoggedEvent.objects.get()
    assert (event.event, event.status) == ("table_booked", EventStatus.KEPT)
    assert event.last_error.startswith("table_booked is a custom event.")


# --- Sending -----------------------------------------------------------------------------------


def _waiting_with_messages(
    tenant: Tenant,
    page: ConnectedPage,
    *texts_: Any,
    last_message_ago: timedelta = timedelta(minutes=1),
) -> Conversation:
    flow = published_flow(tenant, page=page, trigger_kind=TriggerKind.DEFAULT)
    conversation = Conversation.objects.create(
        tenant=tenant,
        page=page,
        psid=PSID,
        flow=flow,
        flow_version=flow.versions.get(),
        status=ConversationStatus.WAITING,
        last_user_message_at=timezone.now() - last_message_ago,
    )
    for seq, body in enumerate(texts_, start=1):
        OutboundMessage.objects.create(
            tenant=tenant, conversation=conversation, seq=seq, message={"text": body}
        )
    return conversation


def _statuses(conversation: Conversation) -> list[str]:
    return list(
        OutboundMessage.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("status", flat=True)
    )


def test_messages_go_out_in_order_with_the_page_token(
    tenant: Tenant, ada_page: ConnectedPage, send_api: responses.RequestsMock
) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one", "two", "three")

    report = sending.conversation_send(conversation_id=conversation.pk)

    assert report.sent == 3
    assert texts(send_api) == ["one", "two", "three"]
    request = send_api.calls[0].request
    assert request.url is not None
    assert f"test-page-token-{PAGE}" in request.url  # the page's decrypted token
    assert "appsecret_proof=" in request.url
    assert _statuses(conversation) == ["sent", "sent", "sent"]
    first = OutboundMessage.objects.get(conversation=conversation, seq=1)
    assert first.message_id.startswith("m_sent")
    assert first.sent_at is not None


def test_sending_twice_sends_nothing_twice(
    tenant: Tenant, ada_page: ConnectedPage, send_api: responses.RequestsMock
) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one")

    sending.conversation_send(conversation_id=conversation.pk)
    report = sending.conversation_send(conversation_id=conversation.pk)

    assert report.sent == 0
    assert texts(send_api) == ["one"]


@pytest.mark.parametrize(
    ("ago", "expected"),
    [
        (timedelta(hours=23, minutes=59), "sent"),
        (timedelta(hours=24, minutes=1), "skipped"),
        (None, "skipped"),
    ],
)
def test_only_inside_the_24_hour_window(
    tenant: Tenant,
    ada_page: ConnectedPage,
    send_api: responses.RequestsMock,
    ago: timedelta | None,
    expected: str,
) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one", "two")
    if ago is None:
        Conversation.objects.filter(pk=conversation.pk).update(last_user_message_at=None)
    else:
        Conversation.objects.filter(pk=conversation.pk).update(
            last_user_message_at=timezone.now() - ago
        )

    sending.conversation_send(conversation_id=conversation.pk)

    assert _statuses(conversation) == [expected, expected]
    if expected == "skipped":
        assert sent(send_api) == []
        assert set(
            OutboundMessage.objects.filter(conversation=conversation).values_list(
                "reason", flat=True
            )
        ) == {sending.OUTSIDE_WINDOW}


def test_a_page_that_needs_reauth_is_marked_and_its_messages_fail(
    tenant: Tenant, ada_page: ConnectedPage
) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one", "two")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, send_url(), body=graph_error(190, 463), status=400)

        report = sending.conversation_send(conversation_id=conversation.pk)

    ada_page.refresh_from_db()
    assert ada_page.status == PageStatus.NEEDS_REAUTH
    assert (report.sent, report.failed) == (0, 2)
    assert _statuses(conversation) == ["failed", "failed"]
    assert "(#190/463)" in OutboundMessage.objects.get(conversation=conversation, seq=1).reason
    assert f"test-page-token-{PAGE}" not in ada_page.last_error

    # Messages written later for the page are not even tried.
    OutboundMessage.objects.create(
        tenant=tenant, conversation=conversation, seq=3, message={"text": "x"}
    )
    with responses.RequestsMock() as mock:
        sending.conversation_send(conversation_id=conversation.pk)
        assert len(mock.calls) == 0
    assert _statuses(conversation) == ["failed", "failed", "failed"]


@pytest.mark.parametrize(
    ("error", "statuses", "calls"),
    [
        (graph_error(10, 2018278, status=403), ["skipped", "skipped", "skipped"], 1),
        (graph_error(551, status=400), ["failed", "failed", "failed"], 1),
        (graph_error(100, 2018001, status=400), ["failed", "failed", "failed"], 1),
        (graph_error(230, status=403), ["failed", "failed", "failed"], 1),
        (graph_error(100, status=400), ["failed", "sent", "sent"], 3),
    ],
)
def test_send_api_errors_are_classified(
    tenant: Tenant, ada_page: ConnectedPage, error: str, statuses: list[Any], calls: int
) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one", "two", "three")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, send_url(), body=error, status=400)
        mock.add(responses.POST, send_url(), json={"recipient_id": PSID, "message_id": "m_2"})
        mock.add(responses.POST, send_url(), json={"recipient_id": PSID, "message_id": "m_3"})

        report = sending.conversation_send(conversation_id=conversation.pk)

        assert len(mock.calls) == calls
    assert _statuses(conversation) == statuses
    assert report.retry_in == 0
    ada_page.refresh_from_db()
    assert ada_page.status == PageStatus.ACTIVE


def test_a_transient_error_retries_with_a_bounded_countdown_then_fails(
    tenant: Tenant, ada_page: ConnectedPage, worker: InlineWorker
) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one", "two")
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            send_url(),
            body=graph_error(2, status=500, is_transient=True),
            status=500,
        )
        worker.queued.append(("flows.tasks.send_conversation", (conversation.pk,), None))
        worker.drain(max_runs=sending.MAX_SEND_ATTEMPTS)

        assert len(mock.calls) == sending.MAX_SEND_ATTEMPTS + 1  # the last run sent "two" too
    countdowns = [countdown for _, _, countdown in worker.ran[1:]]
    assert countdowns == [2, 4, 8, 16]
    assert all(c is not None and c <= sending.MAX_BACKOFF_SECONDS for c in countdowns)
    assert _statuses(conversation) == ["failed", "pending"]  # "two" waits for its own retry
    assert worker.queued == [("flows.tasks.send_conversation", (conversation.pk,), 2)]
    first = OutboundMessage.objects.get(conversation=conversation, seq=1)
    assert first.reason.endswith(f"(after {sending.MAX_SEND_ATTEMPTS} tries)")


def test_a_transient_error_then_success_keeps_the_order(
    tenant: Tenant, ada_page: ConnectedPage, worker: InlineWorker
) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one", "two")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, send_url(), body=graph_error(1, status=500), status=500)
        mock.add(responses.POST, send_url(), json={"recipient_id": PSID, "message_id": "m_1"})
        mock.add(responses.POST, send_url(), json={"recipient_id": PSID, "message_id": "m_2"})
        worker.queued.append(("flows.tasks.send_conversation", (conversation.pk,), None))
        worker.drain()

        bodies = [call.request.body or b"" for call in mock.calls]
    assert [b'"one"' in b for b in bodies] == [True, True, False]
    assert _statuses(conversation) == ["sent", "sent"]


def test_throttling_waits_for_facebook(tenant: Tenant, ada_page: ConnectedPage) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one")
    # The reference's usage header (§4.5): Messenger calls of the Page at 100%, access back in
    # 3 minutes.
    usage = {
        ada_page.page_id: [
            {
                "type": "messenger",
                "call_count": 100,
                "total_cputime": 20,
                "total_time": 35,
                "estimated_time_to_regain_access": 3,
            }
        ]
    }
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            send_url(),
            body=graph_error(613),
            status=400,
            headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
        )
        report = sending.conversation_send(conversation_id=conversation.pk)

    assert report.retry_in == 3 * 60
    assert _statuses(conversation) == ["pending"]


def test_the_send_rate_per_page_is_counted_across_workers(
    tenant: Tenant,
    ada_page: ConnectedPage,
    send_api: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sending, "SEND_CALLS_PER_SECOND", 2)
    monkeypatch.setattr("messenger.sending.time.time", lambda: 1_800_000_000.25)
    conversation = _waiting_with_messages(tenant, ada_page, "one", "two", "three")

    report = sending.conversation_send(conversation_id=conversation.pk)

    assert report.sent == 2
    assert report.retry_in == pytest.approx(0.75)
    assert _statuses(conversation) == ["sent", "sent", "pending"]


def test_a_conversation_being_sent_by_another_worker_is_retried(
    tenant: Tenant,
    ada_page: ConnectedPage,
    send_api: responses.RequestsMock,
    runtime_redis: redis.Redis,
) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one")
    lock = runtime_redis.lock(redis_key(f"{sending.LOCK_PREFIX}:{conversation.pk}"), timeout=10)
    assert lock.acquire(blocking=False)

    report = sending.conversation_send(conversation_id=conversation.pk)

    assert (report.sent, report.retry_in) == (0, 1.0)
    lock.release()


# --- Handoffs --------------------------------------------------------------------------------


def _handed_off(
    client: Client, worker: InlineWorker, tenant: Tenant, page: ConnectedPage
) -> Conversation:
    published_flow(tenant, page=page, trigger_kind=TriggerKind.DEFAULT, document=handoff_document())
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hi"))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="It broke"))))
    return Conversation.objects.get()


def test_a_handoff_flags_the_conversation_and_pauses_the_flow(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    conversation = _handed_off(client, worker, tenant, ada_page)

    assert conversation.status == ConversationStatus.HANDED_OFF
    assert conversation.handoff_note == "Problem: It broke"
    assert conversation.handed_off_at is not None
    assert list(runtime.conversation_handoffs(tenant)) == [conversation]

    before = conversation.last_user_message_at
    assert before is not None
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hello?"))))

    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.HANDED_OFF
    assert conversation.last_user_message_at is not None
    assert conversation.last_user_message_at > before
    assert texts(send_api) == ["What went wrong?", "Sorry! A person will help you."]


def test_resolving_a_handoff_ends_the_paused_flow(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
    other_tenant: Tenant,
) -> None:
    conversation = _handed_off(client, worker, tenant, ada_page)
    agent = member(tenant, Role.EDITOR).user

    resolved = runtime.handoff_resolve(
        tenant=tenant, actor=Actor(user=agent), conversation_id=conversation.pk
    )

    assert resolved.status == ConversationStatus.ENDED
    assert resolved.handoff_resolved_by == agent
    assert resolved.handoff_resolved_at is not None
    assert list(runtime.conversation_handoffs(tenant)) == []
    assert list(runtime.conversation_handoffs(tenant, resolved=True)) == [resolved]
    with pytest.raises(Conflict):
        runtime.handoff_resolve(
            tenant=tenant, actor=Actor(user=agent), conversation_id=conversation.pk
        )
    # The next message starts the flow again.
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hi again"))))
    assert Conversation.objects.filter(status=ConversationStatus.WAITING).count() == 1


def test_resolving_sends_what_follows_the_handoff(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    document = handoff_document()
    document["nodes"].append(node("back", "send_message", text="The bot is back."))
    document["edges"].append(edge("human", "back"))
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, document=document)
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="hi"))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, body="It broke"))))
    conversation = Conversation.objects.get()
    agent = member(tenant, Role.EDITOR).user

    with worker.capture(execute=True):
        runtime.handoff_resolve(
            tenant=tenant, actor=Actor(user=agent), conversation_id=conversation.pk
        )
    worker.drain()

    assert texts(send_api)[-1] == "The bot is back."


def test_handoffs_are_per_tenant_and_need_an_editor(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
    other_tenant: Tenant,
) -> None:
    conversation = _handed_off(client, worker, tenant, ada_page)
    outsider = member(other_tenant, Role.OWNER).user
    viewer = member(tenant, Role.VIEWER).user

    assert list(runtime.conversation_handoffs(other_tenant)) == []
    with pytest.raises(NotFound):
        runtime.handoff_resolve(
            tenant=other_tenant, actor=Actor(user=outsider), conversation_id=conversation.pk
        )
    with pytest.raises(PermissionDenied):
        runtime.handoff_resolve(
            tenant=tenant, actor=Actor(user=viewer), conversation_id=conversation.pk
        )


def test_resolving_while_a_message_is_processed_is_a_conflict(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    conversation = _handed_off(client, worker, tenant, ada_page)
    agent = member(tenant, Role.EDITOR).user

    with runtime.conversation_lock(ada_page, PSID), pytest.raises(Conflict):
        runtime.handoff_resolve(
            tenant=tenant, actor=Actor(user=agent), conversation_id=conversation.pk
        )

    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.HANDED_OFF


# --- The sweep -------------------------------------------------------------------------------


def test_the_sweep_re_enqueues_what_a_lost_task_left(
    tenant: Tenant, ada_page: ConnectedPage, worker: InlineWorker
) -> None:
    conversation = _waiting_with_messages(tenant, ada_page, "one")
    old = timezone.now() - timedelta(seconds=runtime.STALE_SECONDS + 1)
    OutboundMessage.objects.filter(conversation=conversation).update(created_at=old)
    # A worker holds this delivery right now: the sweep leaves it alone.
    WebhookDelivery.objects.create(body=b"{}", claimed_until=timezone.now() + timedelta(seconds=30))

    with worker.capture(execute=True):
        assert runtime.runtime_sweep() == 1
    assert worker.queued == [("flows.tasks.send_conversation", (conversation.pk,), None)]

    # One nobody holds (its nudge was lost with Redis, or its worker was killed): a drain.
    WebhookDelivery.objects.create(body=b"{}")
    worker.queued.clear()
    with worker.capture(execute=True):
        assert runtime.runtime_sweep() == 2
    assert worker.queued == [
        ("flows.tasks.drain_deliveries", (), None),
        ("flows.tasks.send_conversation", (conversation.pk,), None),
    ]


def test_resolving_a_test_chat_handoff_sends_nothing(
    tenant: Tenant, ada_page: ConnectedPage, worker: InlineWorker
) -> None:
    document = handoff_document()
    document["nodes"].append(node("back", "send_message", text="The bot is back."))
    document["edges"].append(edge("human", "back"))
    flow = published_flow(
        tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, document=document
    )
    conversation = Conversation.objects.create(
        tenant=tenant,
        page=ada_page,
        psid="9010000000000001",
        flow=flow,
        is_test=True,
        node_id="human",
        status=ConversationStatus.HANDED_OFF,
        step=4,
        last_user_message_at=timezone.now(),
    )
    agent = member(tenant, Role.EDITOR).user

    with worker.capture(execute=True):
        runtime.handoff_resolve(
            tenant=tenant, actor=Actor(user=agent), conversation_id=conversation.pk
        )

    reply = OutboundMessage.objects.get(conversation=conversation)
    assert (reply.message, reply.status, reply.reason) == (
        {"text": "The bot is back."},
        "skipped",
        runtime.TEST_CHAT_REASON,
    )
    assert worker.queued == []


def test_shapes_the_reference_never_shows_are_ignored_and_the_rest_still_runs(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    ada_page: ConnectedPage,
) -> None:
    published_flow(tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT)
    odd = {"id": PAGE, "time": now_ms(), "messaging": 7, "standby": 3}
    payload = envelope(entry(PAGE, text(PAGE)))
    payload["entry"].insert(0, odd)
    delivery = WebhookDelivery.objects.create(body=encode(payload))

    report = runtime.delivery_process(delivery_id=delivery.pk)

    assert (report.ran, report.error) == (1, "")
    assert Conversation.objects.filter(psid=PSID).count() == 1
    assert runtime.delivery_process(delivery_id=delivery.pk).ran == 0  # processed: done
    assert WebhookDelivery.objects.get().processed_at is not None
