"""Daily aggregates of logged events and conversations, and the one reader over them.

Closed days (before today, in TIME_ZONE) are folded into ``EventDaily`` and ``ConversationDaily``
by a beat task; ``AggregatedDay`` records which days are complete. ``day_rows`` answers any range
of days from the aggregates where a day is complete and from the raw rows otherwise (today, or a
day the task has not reached yet), so the overview always equals a recount of the delivery log.
Why a materialized daily table rather than counters kept in the logging transaction:
docs/adr/0012-overview-aggregates.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from events.models import EventSource, LoggedEvent
from flows.models import Conversation, FlowVersion
from insights.models import AggregatedDay, ConversationDaily, EventDaily
from tenants.models import Tenant

MAX_DAYS_PER_RUN = 400


@dataclass(frozen=True)
class EventCell:
    """Events of one day, Page, flow (None: not from a flow), name and currency."""

    day: date
    page_id: int
    flow_id: int | None
    event: str
    currency: str
    count: int
    value: Decimal


@dataclass(frozen=True)
class ConversationCell:
    day: date
    page_id: int
    flow_id: int | None
    started: int


def day_start(day: date) -> datetime:
    """Midnight starting ``day`` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _flow_of_version(version_ids: Iterable[int]) -> dict[int, int]:
    ids = set(version_ids)
    if not ids:
        return {}
    return dict(FlowVersion.objects.filter(pk__in=ids).values_list("pk", "flow_id"))


def _version_id(source: str, source_ref: str) -> int | None:
    """A flow event's source_ref is ``<flow_version_id>:<node_id>`` (messenger/runtime.py)."""
    if source != EventSource.FLOW:
        return None
    head = source_ref.partition(":")[0]
    return int(head) if head.isdigit() else None


def raw_event_cells(
    tenant: Tenant, start: datetime, end: datetime, *, flow_id: int | None = None
) -> list[EventCell]:
    """Count logged events (test events left out) in ``[start, end)`` straight from the outbox;
    with ``flow_id``, only that flow's (by the versions named in ``source_ref``)."""
    events = LoggedEvent.objects.filter(
        tenant=tenant, test=False, created_at__gte=start, created_at__lt=end
    )
    if flow_id is not None:
        versions = FlowVersion.objects.filter(tenant=tenant, flow_id=flow_id).values_list(
            "pk", flat=True
        )
        prefixes = Q()
        for version_pk in versions:
            prefixes |= Q(source_ref__startswith=f"{version_pk}:")
        events = events.filter(prefixes, source=EventSource.FLOW) if prefixes else events.none()
    rows = list(
        events.order_by()
        .annotate(day=TruncDate("created_at"))
        .values("day", "page_id", "source", "source_ref", "event", "currency")
        .annotate(count=Count("id"), value=Sum("value"))
    )
    flows = _flow_of_version(
        v for row in rows if (v := _version_id(row["source"], row["source_ref"])) is not None
    )
    counts: dict[tuple[date, int, int | None, str, str], int] = defaultdict(int)
    values: dict[tuple[date, int, int | None, str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        version = _version_id(row["source"], row["source_ref"])
        key = (
            row["day"],
            row["page_id"],
            flows.get(version) if version is not None else None,
            row["event"],
            row["currency"],
        )
        counts[key] += row["count"]
        values[key] += row["value"] or Decimal(0)
    return [
        EventCell(
            day, page, flow, event, currency, count, values[(day, page, flow, event, currency)]
        )
        for (day, page, flow, event, currency), count in counts.items()
    ]


def raw_conversation_cells(
    tenant: Tenant, start: datetime, end: datetime, *, flow_id: int | None = None
) -> list[ConversationCell]:
    """Conversations started in ``[start, end)`` (test chats left out), from the raw rows."""
    conversations = Conversation.objects.filter(
        tenant=tenant, is_test=False, created_at__gte=start, created_at__lt=end
    )
    if flow_id is not None:
        conversations = conversations.filter(flow_id=flow_id)
    rows = (
        conversations.order_by()
        .annotate(day=TruncDate("created_at"))
        .values("day", "page_id", "flow_id")
        .annotate(started=Count("id"))
    )
    return [
        ConversationCell(row["day"], row["page_id"], row["flow_id"], row["started"]) for row in rows
    ]


def covered_until(tenant: Tenant, first: date, last: date) -> date | None:
    """The last day D such that every day of ``[first, D]`` is aggregated; None if ``first`` isn't."""
    days = set(
        AggregatedDay.objects.filter(tenant=tenant, date__gte=first, date__lte=last).values_list(
            "date", flat=True
        )
    )
    covered = None
    day = first
    while day <= last and day in days:
        covered = day
        day += timedelta(days=1)
    return covered


def day_rows(
    tenant: Tenant,
    first: date,
    last: date,
    *,
    use_aggregates: bool = True,
    flow_id: int | None = None,
) -> tuple[list[EventCell], list[ConversationCell]]:
    """Event and conversation cells of the days ``[first, last]``: aggregated days from the
    daily tables, the rest counted from the raw rows (all of them without ``use_aggregates``,
    the naive COUNT the benchmark compares with)."""
    covered = covered_until(tenant, first, last) if use_aggregates else None
    events: list[EventCell] = []
    conversations: list[ConversationCell] = []
    if covered is not None:
        daily_events = EventDaily.objects.filter(tenant=tenant, date__gte=first, date__lte=covered)
        daily_conversations = ConversationDaily.objects.filter(
            tenant=tenant, date__gte=first, date__lte=covered
        )
        if flow_id is not None:
            daily_events = daily_events.filter(flow_id=flow_id)
            daily_conversations = daily_conversations.filter(flow_id=flow_id)
        # Tuples, not model instances: a month of a busy workspace is thousands of cells.
        events.extend(
            EventCell(*row)
            for row in daily_events.values_list(
                "date", "page_id", "flow_id", "event", "currency", "count", "value"
            )
        )
        conversations.extend(
            ConversationCell(*row)
            for row in daily_conversations.values_list("date", "page_id", "flow_id", "started")
        )
    raw_from = first if covered is None else covered + timedelta(days=1)
    if raw_from <= last:
        start, end = day_start(raw_from), day_start(last + timedelta(days=1))
        events.extend(raw_event_cells(tenant, start, end, flow_id=flow_id))
        conversations.extend(raw_conversation_cells(tenant, start, end, flow_id=flow_id))
    return events, conversations


@transaction.atomic
def refresh_days(tenant: Tenant, first: date, last: date) -> int:
    """Rebuild the daily rows of ``[first, last]`` from the raw rows; returns the days marked."""
    EventDaily.objects.filter(tenant=tenant, date__gte=first, date__lte=last).delete()
    ConversationDaily.objects.filter(tenant=tenant, date__gte=first, date__lte=last).delete()
    start, end = day_start(first), day_start(last + timedelta(days=1))
    EventDaily.objects.bulk_create(
        (
            EventDaily(
                tenant=tenant,
                date=c.day,
                page_id=c.page_id,
                flow_id=c.flow_id,
                event=c.event,
                currency=c.currency,
                count=c.count,
                value=c.value,
            )
            for c in raw_event_cells(tenant, start, end)
        ),
        batch_size=1000,
    )
    ConversationDaily.objects.bulk_create(
        (
            ConversationDaily(
                tenant=tenant, date=c.day, page_id=c.page_id, flow_id=c.flow_id, started=c.started
            )
            for c in raw_conversation_cells(tenant, start, end)
        ),
        batch_size=1000,
    )
    days = []
    day = first
    while day <= last:
        days.append(AggregatedDay(tenant=tenant, date=day))
        day += timedelta(days=1)
    AggregatedDay.objects.filter(tenant=tenant, date__gte=first, date__lte=last).delete()
    AggregatedDay.objects.bulk_create(days)
    return len(days)


def aggregate_closed_days(today: date | None = None) -> int:
    """Fold every tenant's closed days that are not aggregated yet (from its first event or
    conversation, at most MAX_DAYS_PER_RUN a run); returns how many days were folded."""
    today = today or timezone.localdate()
    yesterday = today - timedelta(days=1)
    folded = 0
    last_done: dict[int, date] = defaultdict(lambda: date.min)
    for tenant_id, day in AggregatedDay.objects.values_list("tenant_id", "date"):
        last_done[tenant_id] = max(last_done[tenant_id], day)
    for tenant in Tenant.objects.order_by("pk"):
        if tenant.pk in last_done:
            first = last_done[tenant.pk] + timedelta(days=1)
        else:
            first_event = LoggedEvent.objects.filter(tenant=tenant).order_by("created_at").first()
            first_conversation = (
                Conversation.objects.filter(tenant=tenant).order_by("created_at").first()
            )
            starts = [
                timezone.localtime(row.created_at).date()
                for row in (first_event, first_conversation)
                if row is not None
            ]
            if not starts:
                continue
            first = min(starts)
        first = max(first, yesterday - timedelta(days=MAX_DAYS_PER_RUN - 1))
        if first > yesterday:
            continue
        folded += refresh_days(tenant, first, yesterday)
    return folded
