"""Reads of flows that are more than a one-line filter. Every one takes the tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Sum

from events.selectors import NodeEvents, flow_node_events
from flows.models import Flow, FlowVersion, NodeDailyCount
from tenants.models import Tenant


@dataclass
class NodeStats:
    """One block's funnel in a period: arrivals, stops, and the handles it was left by."""

    node_id: str
    entered: int = 0
    ended: int = 0
    handed_off: int = 0
    exits: dict[str, int] = field(default_factory=dict)
    events: NodeEvents | None = None

    @property
    def exited(self) -> int:
        return sum(self.exits.values())


@dataclass
class FlowStats:
    """What `GET …/flows/<id>/stats/` serves (see its serializer for the meaning of each)."""

    flow_id: int
    version: int | None  # the version number asked for; None for all versions
    versions: list[int]
    since: date
    until: date
    started: int
    nodes: list[NodeStats]


def flow_stats(
    *, tenant: Tenant, flow: Flow, since: date, until: date, versions: Sequence[FlowVersion]
) -> FlowStats:
    """The funnel counters of ``versions`` of the flow, days ``since`` to ``until`` (UTC,
    inclusive), summed per block and handle, with each log_event block's events.

    Three queries whatever the size of the flow: the counters (from the aggregate table,
    never from the conversations), the events by status, their last errors.
    """
    version_ids = [version.pk for version in versions]
    rows = (
        NodeDailyCount.objects.for_tenant(tenant)
        .filter(flow_version_id__in=version_ids, day__gte=since, day__lte=until)
        .values("node_id", "handle")
        .annotate(
            entered=Sum("entered"),
            exited=Sum("exited"),
            ended=Sum("ended"),
            handed_off=Sum("handed_off"),
        )
        .order_by("node_id", "handle")
    )
    nodes: dict[str, NodeStats] = {}
    for row in rows:
        stats = nodes.setdefault(row["node_id"], NodeStats(node_id=row["node_id"]))
        if row["handle"]:
            stats.exits[row["handle"]] = stats.exits.get(row["handle"], 0) + row["exited"]
        else:
            stats.entered += row["entered"]
            stats.ended += row["ended"]
            stats.handed_off += row["handed_off"]
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    events = (
        flow_node_events(tenant=tenant, version_ids=version_ids, since=start, until=end)
        if version_ids
        else {}
    )
    for node_id, counted in events.items():
        nodes.setdefault(node_id, NodeStats(node_id=node_id)).events = counted
    start_nodes = {
        str(node.get("id"))
        for version in versions
        for node in version.document.get("nodes", [])
        if isinstance(node, dict) and node.get("type") == "start"
    }
    return FlowStats(
        flow_id=flow.pk,
        version=versions[0].number if len(versions) == 1 else None,
        versions=[],
        since=since,
        until=until,
        started=sum(nodes[n].entered for n in start_nodes if n in nodes),
        nodes=sorted(nodes.values(), key=lambda n: n.node_id),
    )
