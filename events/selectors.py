"""Reads of logged events for the events API and the delivery log. Every one takes the tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from events import transport_status
from events.filters import EventFilter
from events.models import DeliveryAttempt, EventSource, EventStatus, LoggedEvent
from tenants.models import ConnectedPage, Tenant


def events_for_tenant(*, tenant: Tenant) -> QuerySet[LoggedEvent]:
    """The workspace's events, newest first, each with its Page (one query for a list)."""
    return LoggedEvent.objects.for_tenant(tenant).select_related("page").order_by("-id")


def events_filtered(*, tenant: Tenant, params: QueryDict | dict[str, Any]) -> EventFilter:
    """`EventFilter` bound to `params` over the workspace's events (check `.is_valid()`)."""
    return EventFilter(data=params, queryset=events_for_tenant(tenant=tenant))


def event_with_attempts(*, tenant: Tenant, event_id: int) -> LoggedEvent | None:
    """One event of the workspace with its delivery attempts oldest first, or None."""
    attempts = DeliveryAttempt.objects.for_tenant(tenant).order_by("created_at", "id")
    return (
        events_for_tenant(tenant=tenant)
        .prefetch_related(Prefetch("delivery_attempts", queryset=attempts))
        .filter(pk=event_id)
        .first()
    )


def page_by_facebook_id(*, tenant: Tenant, page_id: str) -> ConnectedPage | None:
    """The workspace's connected Page with Facebook's id `page_id`, or None."""
    return ConnectedPage.objects.for_tenant(tenant).filter(page_id=page_id).first()


def pages_for_tenant(*, tenant: Tenant) -> QuerySet[ConnectedPage]:
    return ConnectedPage.objects.for_tenant(tenant).order_by("name", "id")


def event_names(*, tenant: Tenant, limit: int = 200) -> list[str]:
    """The distinct event names logged in the workspace (for the log's filter suggestions)."""
    return list(
        LoggedEvent.objects.for_tenant(tenant)
        .order_by("event")
        .values_list("event", flat=True)
        .distinct()[:limit]
    )


# --- Events that were not sent, and what a transport move makes of waiting ones ---------------

WAITING_STATUSES = (EventStatus.PENDING, EventStatus.RETRYING, EventStatus.BLOCKED)
"""Events not sent yet that a transport move carries with it."""
UNSENT_WARNING_STATUSES = (EventStatus.NOT_SENT, EventStatus.BLOCKED)
"""Events a person must act on to get them sent (a kept or test event is not sent by design)."""
DEFAULT_SINCE = timedelta(hours=24)


@dataclass(frozen=True)
class ReasonCount:
    status: str
    reason: str
    count: int


@dataclass(frozen=True)
class UnsentSummary:
    """Live events that did not reach Facebook since ``since``, grouped by why."""

    since: datetime
    not_sent: int
    blocked: int
    kept: int
    reasons: tuple[ReasonCount, ...]

    @property
    def total(self) -> int:
        """The events a person must act on: not sent, or held."""
        return self.not_sent + self.blocked

    @property
    def any(self) -> bool:
        return bool(self.total or self.kept)


def _summary(events: QuerySet[LoggedEvent], since: datetime, limit: int) -> UnsentSummary:
    rows = list(
        events.filter(
            status__in=(*UNSENT_WARNING_STATUSES, EventStatus.KEPT), created_at__gte=since
        )
        .order_by()
        .values("status", "last_error")
        .annotate(count=Count("id"))
        .order_by("-count", "status", "last_error")
    )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + row["count"]
    return UnsentSummary(
        since=since,
        not_sent=counts.get(EventStatus.NOT_SENT, 0),
        blocked=counts.get(EventStatus.BLOCKED, 0),
        kept=counts.get(EventStatus.KEPT, 0),
        reasons=tuple(
            ReasonCount(row["status"], row["last_error"], row["count"]) for row in rows[:limit]
        ),
    )


def flow_unsent_summary(
    *,
    tenant: Tenant,
    version_ids: Sequence[int],
    since: datetime | None = None,
    limit: int = 5,
) -> UnsentSummary:
    """What a flow's live events (those its published versions logged) did not get sent.

    The flows app passes its versions' ids: a flow's event names its version and block in
    ``source_ref`` (``<version id>:<node id>``), and the events app knows nothing of flows.
    """
    since = since or timezone.now() - DEFAULT_SINCE
    if not version_ids:
        return UnsentSummary(since=since, not_sent=0, blocked=0, kept=0, reasons=())
    of_flow = Q()
    for version_id in version_ids:
        of_flow |= Q(source_ref__startswith=f"{int(version_id)}:")
    events = LoggedEvent.objects.for_tenant(tenant).filter(
        of_flow, source=EventSource.FLOW, test=False
    )
    return _summary(events, since, limit)


def tenant_unsent_summary(
    *, tenant: Tenant, since: datetime | None = None, limit: int = 5
) -> UnsentSummary:
    """The workspace's live events not sent since ``since`` (the overview's attention list)."""
    since = since or timezone.now() - DEFAULT_SINCE
    return _summary(LoggedEvent.objects.for_tenant(tenant).filter(test=False), since, limit)


@dataclass(frozen=True)
class WaitingMove:
    """Waiting events of one name (and shape) and what a move to another transport makes of
    them."""

    event: str
    count: int
    move: transport_status.EventMove


def waiting_event_moves(*, tenant: Tenant, page: ConnectedPage, target: str) -> list[WaitingMove]:
    """The Page's pending, retrying and blocked events, grouped, each with its move to
    ``target`` (the dry run of a transport move lists these)."""
    # Parameter values and amounts were checked when the events were logged; what a move can
    # break is the name, the parameter keys and the logging target: group by those.
    shapes: dict[tuple[str, tuple[str, ...], str], int] = {}
    rows = (
        LoggedEvent.objects.for_tenant(tenant)
        .filter(page=page, status__in=WAITING_STATUSES)
        .order_by()
        .values_list("event", "params", "logging_target")
    )
    for event, params, logging_target in rows.iterator(chunk_size=2000):
        key = (event, tuple(sorted(params or {})), logging_target)
        shapes[key] = shapes.get(key, 0) + 1
    moves = []
    for (event, keys, logging_target), count in sorted(shapes.items()):
        move = transport_status.event_move(
            event=event,
            target=target,
            source=page.transport,
            params=dict.fromkeys(keys, "{{value}}"),
            logging_target=logging_target,
            templated=True,
        )
        moves.append(WaitingMove(event=event, count=count, move=move))
    return moves


# What the funnel overlay shows on a log_event block, by status (DESIGN.md §7's lifecycle):
# reached Facebook; rejected by it or given up on; never sent (with a reason); still on its way.
NODE_EVENT_GROUPS: dict[str, tuple[str, ...]] = {
    "delivered": (EventStatus.DELIVERED,),
    "failed": (EventStatus.FAILED, EventStatus.DEAD),
    "not_sent": (EventStatus.NOT_SENT, EventStatus.KEPT, EventStatus.TEST),
    "pending": (
        EventStatus.PENDING,
        EventStatus.SENDING,
        EventStatus.RETRYING,
        EventStatus.BLOCKED,
    ),
}
# Statuses whose last_error is Facebook's answer (or why it could not be asked).
ERROR_STATUSES = (EventStatus.FAILED, EventStatus.DEAD, EventStatus.RETRYING, EventStatus.BLOCKED)


@dataclass(frozen=True)
class NodeEvents:
    """A flow's log_event block's events in a period: counts by group, and the last error."""

    delivered: int = 0
    failed: int = 0
    not_sent: int = 0
    pending: int = 0
    last_error: str = ""
    last_error_at: datetime | None = None


def flow_node_events(
    *, tenant: Tenant, version_ids: Sequence[int], since: datetime, until: datetime
) -> dict[str, NodeEvents]:
    """Per node id, the events the flow versions' log_event blocks logged in [since, until)
    (test events aside), in two queries whatever the number of blocks. The last error is
    that of the newest event that failed, is retrying or waits blocked."""
    rows = LoggedEvent.objects.for_tenant(tenant).filter(
        source=EventSource.FLOW,
        source_flow_version__in=list(version_ids),
        created_at__gte=since,
        created_at__lt=until,
        test=False,
    )
    counts: dict[str, dict[str, int]] = {}
    group_of = {
        status: group for group, statuses in NODE_EVENT_GROUPS.items() for status in statuses
    }
    for node, status, n in (
        rows.values_list("source_node", "status").annotate(n=Count("id")).order_by()
    ):
        group = group_of.get(status)
        if group is not None:
            counts.setdefault(node, {}).setdefault(group, 0)
            counts[node][group] += n
    failing = rows.filter(status__in=ERROR_STATUSES).exclude(last_error="")
    newest = failing.values("source_node").annotate(last=Max("id")).values("last")
    latest = {
        node: (error, at)
        for node, error, at in LoggedEvent.objects.for_tenant(tenant)
        .filter(pk__in=newest)
        .values_list("source_node", "last_error", "updated_at")
    }
    return {
        node: NodeEvents(
            **counts.get(node, {}),
            last_error=latest.get(node, ("", None))[0],
            last_error_at=latest.get(node, ("", None))[1],
        )
        for node in sorted(set(counts) | set(latest))
    }
