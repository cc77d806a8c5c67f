"""Counts of a workspace's logged events, for the delivery log and its overview.

Each function is one grouped query (never one per status, bucket or name), takes the tenant
explicitly, and fills the gaps itself, so a chart always has every status and every bucket.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from events.models import EventStatus, LoggedEvent
from tenants.models import Tenant

Unit = Literal["hour", "day"]

# The order statuses are stacked and listed in: the journey first, then the ways it stops.
STATUS_ORDER: tuple[str, ...] = (
    EventStatus.DELIVERED,
    EventStatus.PENDING,
    EventStatus.SENDING,
    EventStatus.RETRYING,
    EventStatus.BLOCKED,
    EventStatus.FAILED,
    EventStatus.DEAD,
    EventStatus.NOT_SENT,
    EventStatus.KEPT,
    EventStatus.TEST,
)
# The catalog's key for a lead (DESIGN.md §6): the overview charts leads on their own.
LEAD_EVENT = "lead_submitted"


@dataclass(frozen=True)
class Period:
    """A chart's window: `buckets` buckets of one `unit`, the last one holding now."""

    key: str
    label: str
    unit: Unit
    buckets: int

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.unit == "hour" else timedelta(days=1)

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        now = timezone.localtime(now or timezone.now())
        last = now.replace(minute=0, second=0, microsecond=0)
        if self.unit == "day":
            last = last.replace(hour=0)
        start = last - self.step * (self.buckets - 1)
        return start, last + self.step


PERIODS: dict[str, Period] = {
    period.key: period
    for period in (
        Period("24h", "Last 24 hours", "hour", 24),
        Period("7d", "Last 7 days", "day", 7),
        Period("30d", "Last 30 days", "day", 30),
    )
}
DEFAULT_PERIOD = "7d"


@dataclass
class Bucket:
    start: datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class NameCount:
    event: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _empty_counts() -> dict[str, int]:
    return dict.fromkeys(STATUS_ORDER, 0)


def status_counts(events: QuerySet[LoggedEvent]) -> dict[str, int]:
    """How many of `events` (already scoped to one tenant) are in each status, every status."""
    counts = _empty_counts()
    rows: Iterable[dict[str, Any]] = (
        events.order_by().values("status").annotate(count=Count("id")).values("status", "count")
    )
    for row in rows:
        counts[row["status"]] = row["count"]
    return counts


def _window(
    tenant: Tenant, start: datetime, end: datetime, *, test: bool | None
) -> QuerySet[LoggedEvent]:
    events = LoggedEvent.objects.for_tenant(tenant).filter(
        created_at__gte=start, created_at__lt=end
    )
    return events if test is None else events.filter(test=test)


def timeline(
    *, tenant: Tenant, period: Period, now: datetime | None = None, test: bool | None = False
) -> list[Bucket]:
    """Events logged in each bucket of `period`, by status; every bucket present, oldest first.

    `test=False` (the default) leaves the editor's test-chat events out, None counts them too.
    """
    start, end = period.window(now)
    buckets: dict[datetime, Bucket] = {}
    moment = start
    while moment < end:
        buckets[moment] = Bucket(start=moment, counts=_empty_counts())
        moment += period.step
    rows: Iterable[dict[str, Any]] = (
        _window(tenant, start, end, test=test)
        .order_by()
        .annotate(bucket=Trunc("created_at", period.unit, tzinfo=timezone.get_current_timezone()))
        .values("bucket", "status")
        .annotate(count=Count("id"))
        .values("bucket", "status", "count")
    )
    for row in rows:
        bucket = buckets.get(timezone.localtime(row["bucket"]))
        if bucket is not None:
            bucket.counts[row["status"]] += row["count"]
    return list(buckets.values())


def leads_timeline(
    *, tenant: Tenant, period: Period, now: datetime | None = None
) -> list[tuple[datetime, int]]:
    """Leads (`lead_submitted`, test events left out) logged in each bucket of `period`."""
    start, end = period.window(now)
    counts: dict[datetime, int] = defaultdict(int)
    rows: Iterable[dict[str, Any]] = (
        _window(tenant, start, end, test=False)
        .filter(event=LEAD_EVENT)
        .order_by()
        .annotate(bucket=Trunc("created_at", period.unit, tzinfo=timezone.get_current_timezone()))
        .values("bucket")
        .annotate(count=Count("id"))
        .values("bucket", "count")
    )
    for row in rows:
        counts[timezone.localtime(row["bucket"])] += row["count"]
    result: list[tuple[datetime, int]] = []
    moment = start
    while moment < end:
        result.append((moment, counts.get(moment, 0)))
        moment += period.step
    return result


def top_event_names(
    *,
    tenant: Tenant,
    period: Period,
    now: datetime | None = None,
    limit: int = 10,
    test: bool | None = False,
) -> list[NameCount]:
    """The `limit` most logged event names in `period`, each with its counts by status."""
    start, end = period.window(now)
    events = _window(tenant, start, end, test=test)
    top = list(
        events.order_by()
        .values("event")
        .annotate(count=Count("id"))
        .order_by("-count", "event")
        .values_list("event", flat=True)[:limit]
    )
    names = {name: NameCount(event=name, counts=_empty_counts()) for name in top}
    rows: Iterable[dict[str, Any]] = (
        events.filter(event__in=top)
        .order_by()
        .values("event", "status")
        .annotate(count=Count("id"))
        .values("event", "status", "count")
    )
    for row in rows:
        names[row["event"]].counts[row["status"]] += row["count"]
    return list(names.values())


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    value: Decimal  # the sum of the events' values in this currency
    events: int  # events that carried a value in this currency
    delivered: Decimal  # the part of `value` Facebook has accepted


def value_by_currency(
    *, tenant: Tenant, period: Period, now: datetime | None = None
) -> list[CurrencyTotal]:
    """The value events carried in `period` (test events left out), per currency, largest
    first: what was logged, and how much of it was delivered. Values in different currencies
    are never added together."""
    start, end = period.window(now)
    rows = (
        _window(tenant, start, end, test=False)
        .filter(value__isnull=False)
        .exclude(currency="")
        .order_by()
        .values("currency")
        .annotate(
            total=Sum("value"),
            count=Count("id"),
            delivered=Sum("value", filter=Q(status=EventStatus.DELIVERED), default=Decimal(0)),
        )
        .order_by("-total", "currency")
    )
    return [
        CurrencyTotal(row["currency"], row["total"], row["count"], row["delivered"]) for row in rows
    ]
