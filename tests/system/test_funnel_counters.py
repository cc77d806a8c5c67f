"""The funnel counters under concurrent conversations, with real workers: every increment made
by turns running at once on several worker processes is kept, so the counters equal a recount
from the raw rows (conversations, the messages each block sent, the events each block logged),
and a conversation from a click-to-Messenger ad carries its ad onto its event.

The Graph sandbox plays the Messenger users and sends signed webhooks to the live server; a
Celery worker with four processes runs the turns (tests/system/test_runtime.py has the set-up).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Count, Sum

from events.models import LoggedEvent
from flows.models import Conversation, ConversationStatus, FlowVersion, NodeDailyCount
from messenger.models import OutboundMessage
from tests.system.harness import Cluster
from tests.system.runtime_fixtures import (  # noqa: F401 (fixtures)
    Lead,
    Messenger,
    converse,
    lead_flows_fixture,
    messenger_fixture,
    runtime_worker,
    webhook_url_fixture,
)
from tests.system.workspace import PAGE_A, PAGE_B, Workspace

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("lead_flows", "webhook_url"),
]

PEOPLE = 60
AD = "6000000000777"


@dataclass(frozen=True)
class Visitor(Lead):
    """A person who may come from an ad, and may stop answering after some turns."""

    turns_taken: int = 99
    from_ad: bool = False

    def turns(self) -> list[tuple[dict[str, Any], list[str]]]:
        turns = super().turns()[: self.turns_taken]
        if self.from_ad:
            first, answers = turns[0]
            referral = {"source": "ADS", "ad_id": AD, "ads_context_data": {"ad_title": "Spring"}}
            turns[0] = ({**first, "message_referral": referral}, answers)
        return turns


def psid(n: int) -> str:
    return str(6_100_000_000_300_000 + n)


def counted(version: FlowVersion) -> dict[str, dict[str, int]]:
    """The version's counters, every day summed, per node: entered, ended, handed_off, and
    ``exit:<handle>`` per handle."""
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        NodeDailyCount.objects.filter(flow_version=version)
        .values("node_id", "handle")
        .annotate(
            entered=Sum("entered"), exited=Sum("exited"), ended=Sum("ended"), off=Sum("handed_off")
        )
    )
    for row in rows:
        node = totals[row["node_id"]]
        if row["handle"]:
            node[f"exit:{row['handle']}"] = row["exited"]
        else:
            node.update(entered=row["entered"], ended=row["ended"], handed_off=row["off"])
    return {node: {k: v for k, v in counts.items() if v} for node, counts in totals.items()}


def recounted(version: FlowVersion) -> dict[str, dict[str, int]]:
    """The same numbers from the raw rows alone.

    The lead template has no loop, so a block is entered once per conversation that reached
    it: a message block or question by the conversations it sent a message to, a log-event
    block by the events it logged, Start by the conversations; a block's exits are the arrivals
    of the blocks its handles lead to; where a conversation stopped, by its status and node.
    """
    conversations = Conversation.objects.filter(flow_version=version)
    nodes = {n["id"]: n for n in version.document["nodes"]}
    entered: Counter[str] = Counter()
    for node_id, n in (
        OutboundMessage.objects.filter(conversation__flow_version=version)
        .values_list("node_id")
        .annotate(n=Count("conversation", distinct=True))
    ):
        entered[node_id] = n
    for node_id, n in (
        LoggedEvent.objects.filter(source_flow_version=version.pk)
        .values_list("source_node")
        .annotate(n=Count("id"))
    ):
        entered[node_id] = n
    for node_id, node in nodes.items():
        if node["type"] == "start":
            entered[node_id] = conversations.count()
    stopped = Counter(conversations.values_list("status", "node_id"))
    for (status, node_id), n in stopped.items():
        if status == ConversationStatus.HANDED_OFF:  # a handoff block sends nothing
            entered[node_id] += n
    totals: dict[str, dict[str, int]] = {
        node_id: {"entered": n} for node_id, n in entered.items() if n
    }
    for edge in version.document["edges"]:
        # (Here every block reached is reached from one block only: everyone picks Email.)
        arrivals = entered[edge["target"]] if entered[edge["source"]] else 0
        if arrivals:
            handle = edge["sourceHandle"] or "next"
            totals[edge["source"]][f"exit:{handle}"] = (
                totals[edge["source"]].get(f"exit:{handle}", 0) + arrivals
            )
    for (status, node_id), n in stopped.items():
        key: dict[str, str] = {
            ConversationStatus.ENDED: "ended",
            ConversationStatus.HANDED_OFF: "handed_off",
        }
        if status in key:
            totals[node_id][key[status]] = n
    return totals


def test_counters_under_concurrent_conversations_equal_a_recount_from_the_raw_rows(
    workspace: Workspace, cluster: Cluster, messenger: Messenger
) -> None:
    runtime_worker(cluster, concurrency=4)
    # Everyone at once, on two Pages: most finish, some stop after one to four answers, a
    # third came from an ad.
    people = [
        Visitor(
            **vars(Lead.numbered((PAGE_A, PAGE_B)[n % 2], psid(n), n)),
            turns_taken=99 if n % 5 else 1 + n % 4,
            from_ad=n % 3 == 0,
        )
        for n in range(PEOPLE)
    ]
    converse(messenger, people, timeout=90, on_timeout=cluster.logs)

    for version in FlowVersion.objects.filter(tenant=workspace.tenant):
        mine = [p for p in people if p.page_id == version.flow.page.page_id]
        counts = counted(version)
        assert counts == recounted(version), version
        start = next(n["id"] for n in version.document["nodes"] if n["type"] == "start")
        assert counts[start]["entered"] == len(mine)
        # People who stopped answering are the drop-off: reached, not left, not ended.
        waiting = Conversation.objects.filter(
            flow_version=version, status=ConversationStatus.WAITING
        ).count()
        assert waiting == sum(1 for p in mine if p.turns_taken < len(Lead.turns(p)))
        drop = sum(
            c.get("entered", 0)
            - sum(v for k, v in c.items() if k.startswith("exit:"))
            - c.get("ended", 0)
            - c.get("handed_off", 0)
            for c in counts.values()
        )
        assert drop == waiting
    # The ad's people: their conversations and every event they logged carry the ad.
    from_ad = {p.psid for p in people if p.from_ad}
    assert set(Conversation.objects.filter(ad_id=AD).values_list("psid", flat=True)) == from_ad
    events = LoggedEvent.objects.filter(tenant=workspace.tenant)
    assert events.count() == sum(1 for p in people if p.turns_taken >= len(Lead.turns(p)))
    assert {(e.psid in from_ad, e.ad_id) for e in events} <= {(True, AD), (False, "")}
