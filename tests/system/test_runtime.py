"""The bot runtime end to end: the Graph sandbox plays Messenger users, sending signed webhook
deliveries to the app on a real HTTP server (pytest-django's live server, in this process);
a Celery worker process consuming the ``runtime`` and ``delivery`` queues runs the flows, sends
the bot's answers through the sandbox's Send API and delivers the events they log, with beat
sweeping as in production. PostgreSQL, the run's namespace in Redis (tests/redis_db.py),
nothing stubbed.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from flows.models import Conversation, ConversationStatus
from messenger.models import OutboundMessage, OutboundStatus, ProcessedMessage, WebhookDelivery
from tests.sandbox_fixtures import GraphSandbox
from tests.system.harness import Cluster, wait_for
from tests.system.runtime_fixtures import (
    ASK_CHANNEL,
    ASK_EMAIL,
    ASK_NEED,
    ASK_TIMELINE,
    NOT_AN_EMAIL,
    THANKS,
    WELCOME,
    Lead,
    Messenger,
    acknowledged,
    converse,
    runtime_worker,
)
from tests.system.workspace import PAGE_A, PAGE_B, Workspace
from tests.timing import deadline

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lead_flows", "webhook_url"),
]

PEOPLE = 200
TRANSPORT_EVENT = {"page_activities": "lead_submitted", "conversions_api": "LeadSubmitted"}


def psid(n: int) -> str:
    return str(6_100_000_000_100_000 + n)


def lead_params(received: Mapping[str, Any]) -> dict[str, Any]:
    """The lead's parameters as the sandbox recorded them, per transport."""
    if received["transport"] == "page_activities":
        return dict(received["params"])
    return dict(received["custom_data"])


CONVERSE_DEADLINE_SECONDS = 300
"""How long the 200 conversations may take before the test gives up (scaled by TEST_TIME_SCALE):
a deadline, not a target. How fast they go is benchmarks/conversations.py's figure."""
FIGURES_FILE = "PAGEPULSE_CONVERSATIONS_FIGURES"
"""When this environment variable names a file, the 200-conversation test writes its timings
there as JSON (benchmarks/conversations.py reads them); the test itself never times anything."""


def settle(workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox, leads: int) -> None:
    """Wait until every lead_submitted is delivered, then two more sweeps (anything a sweep
    would send again, it has had the chance to)."""
    workspace.wait_until_all("delivered", leads, timeout=120, cluster=cluster)
    cluster.wait_for_sweeps(2)


@pytest.mark.timeout(600)  # the deadlines below, with room: pytest-timeout is the last resort
def test_two_hundred_conversations_at_once_each_answered_in_order_and_each_lead_once(
    workspace: Workspace,
    cluster: Cluster,
    sandbox: GraphSandbox,
    messenger: Messenger,
) -> None:
    runtime_worker(cluster, concurrency=4)
    cluster.beat()
    # Half on each Page, so each transport carries a hundred leads.
    people = [Lead.numbered((PAGE_A, PAGE_B)[n % 2], psid(n), n) for n in range(PEOPLE)]
    assert len({p.psid for p in people}) == PEOPLE

    started = time.monotonic()
    received = converse(
        messenger, people, timeout=CONVERSE_DEADLINE_SECONDS, on_timeout=cluster.logs
    )
    conversed = time.monotonic() - started

    # Every bot message arrived, in order, once, for each person, as a RESPONSE.
    for person in people:
        messages = received[person.psid]
        assert [m["message"]["text"] for m in messages] == person.bot_texts(), person
        assert {(m["page_id"], m["messaging_type"]) for m in messages} == {
            (person.page_id, "RESPONSE")
        }
    assert sum(map(len, received.values())) == sum(len(p.bot_texts()) for p in people)
    # Every conversation reached the end: the lead was logged and the thread handed off.
    ended = {
        c.psid: (c.page.page_id, c.status, c.handoff_note)
        for c in Conversation.objects.filter(tenant=workspace.tenant).select_related("page")
    }
    assert ended == {p.psid: (p.page_id, ConversationStatus.HANDED_OFF, p.note) for p in people}
    assert Counter(OutboundMessage.objects.values_list("status", flat=True)) == {
        OutboundStatus.SENT: sum(len(p.bot_texts()) for p in people)
    }
    assert not WebhookDelivery.objects.filter(processed_at__isnull=True).exists()
    assert set(WebhookDelivery.objects.values_list("error", flat=True)) == {""}

    # Every lead_submitted reached the sandbox exactly once, on its Page's transport.
    settle(workspace, cluster, sandbox, PEOPLE)
    if figures := os.environ.get(FIGURES_FILE):
        Path(figures).write_text(
            json.dumps(
                {
                    "conversations": PEOPLE,
                    "deliveries": WebhookDelivery.objects.count(),
                    "bot_messages": sum(map(len, received.values())),
                    "conversed_seconds": round(conversed, 2),
                    "leads_delivered_seconds": round(time.monotonic() - started, 2),
                }
            )
        )
    leads = sandbox.events()
    assert Counter(e["psid"] for e in leads) == Counter({p.psid: 1 for p in people})
    by_psid = {e["psid"]: e for e in leads}
    transports = {page_id: page.transport for page_id, page in workspace.pages.items()}
    for person in people:
        event = by_psid[person.psid]
        transport = transports[person.page_id]
        assert (event["page_id"], event["transport"], event["event_name"]) == (
            person.page_id,
            transport,
            TRANSPORT_EVENT[transport],
        )
        assert lead_params(event) == {
            "need": person.need,
            "timeline": person.timeline,
            "channel": "Email",
        }


def test_the_lead_template_end_to_end_with_every_delivery_sent_twice(
    workspace: Workspace, cluster: Cluster, sandbox: GraphSandbox, messenger: Messenger
) -> None:
    runtime_worker(cluster, concurrency=2)
    cluster.beat()
    person = Lead(page_id=PAGE_B, psid=psid(1000), need="A consultation", bad_email=True)
    originals: list[int] = []
    copies: list[Future[dict[str, Any]]] = []

    def again(delivery: dict[str, Any]) -> None:
        # Right away, so both copies of a delivery may be processed at the same time.
        originals.append(delivery["id"])
        copies.append(messenger.resend(delivery["id"]))

    received = converse(messenger, [person], timeout=120, on_sent=again, on_timeout=cluster.logs)

    turns = len(person.turns())
    resent = [copy.result(timeout=deadline(30)) for copy in copies]
    for copy in resent:
        acknowledged(copy)
    assert [copy["resent_from"] for copy in resent] == originals
    assert len(originals) == turns
    wait_for(
        lambda: not WebhookDelivery.objects.filter(processed_at__isnull=True).exists(),
        timeout=60,
        what="every delivery processed",
        on_timeout=cluster.logs,
    )
    assert WebhookDelivery.objects.count() == 2 * turns
    assert ProcessedMessage.objects.count() == turns  # each mid ran once
    settle(workspace, cluster, sandbox, 1)

    texts = [m["message"]["text"] for m in messenger.messages() if m["psid"] == person.psid]
    assert texts == [m["message"]["text"] for m in received[person.psid]]
    assert texts == [
        WELCOME,
        ASK_NEED,
        ASK_TIMELINE,
        ASK_CHANNEL,
        ASK_EMAIL,
        NOT_AN_EMAIL,
        ASK_EMAIL,
        THANKS.format(email=person.email),
    ]
    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.handoff_note) == (
        ConversationStatus.HANDED_OFF,
        f"New lead: A consultation, starting This month. Contact by Email: {person.email}.",
    )
    [lead] = sandbox.events()
    assert (lead["psid"], lead["transport"], lead["event_name"]) == (
        person.psid,
        "conversions_api",
        "LeadSubmitted",
    )
    assert lead_params(lead) == {
        "need": "A consultation",
        "timeline": "This month",
        "channel": "Email",
    }
