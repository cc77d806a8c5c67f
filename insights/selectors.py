"""Reads of the marketer's overview: our numbers (from insights.aggregates), Ads Manager's (from
AdDailyInsight), the per-ad join, and the rows of the CSV exports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from events.models import LoggedEvent
from flows.models import Conversation, ConversationStatus, Flow, FlowVersion
from insights.aggregates import ConversationCell, EventCell, day_rows, day_start
from insights.models import AdDailyInsight, AdsConnection, FollowedAdAccount
from tenants.models import ConnectedPage, Tenant

LEAD_EVENT = "lead_submitted"
PURCHASE_EVENT = "purchase"
PERIODS = (("today", "Today", 1), ("7d", "Last 7 days", 7), ("30d", "Last 30 days", 30))


@dataclass
class Totals:
    """Leads, purchases, revenue by currency and conversations started over some days."""

    leads: int = 0
    purchases: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)
    conversations: int = 0

    def add_event(self, cell: EventCell) -> None:
        if cell.event == LEAD_EVENT:
            self.leads += cell.count
        elif cell.event == PURCHASE_EVENT:
            self.purchases += cell.count
            if cell.currency:
                self.revenue[cell.currency] = (
                    self.revenue.get(cell.currency, Decimal(0)) + cell.value
                )

    @property
    def revenue_items(self) -> list[tuple[str, Decimal]]:
        return sorted(self.revenue.items())


@dataclass
class Breakdown:
    """One Page's or flow's line in the overview (last 30 days)."""

    label: str
    totals: Totals
    handoffs_waiting: int = 0
    url: str = ""


@dataclass
class Overview:
    today: date
    periods: list[tuple[str, str, Totals]]
    handoffs_waiting: int
    by_page: list[Breakdown]
    by_flow: list[Breakdown]
    daily_leads: list[tuple[datetime, int]]
    daily_conversations: list[tuple[datetime, int]]


def overview(*, tenant: Tenant, today: date | None = None, use_aggregates: bool = True) -> Overview:
    """Everything the overview shows, from one read of the last 30 days."""
    today = today or timezone.localdate()
    first = today - timedelta(days=29)
    events, conversations = day_rows(tenant, first, today, use_aggregates=use_aggregates)
    periods = []
    for key, label, days in PERIODS:
        since = today - timedelta(days=days - 1)
        totals = Totals()
        for cell in events:
            if cell.day >= since:
                totals.add_event(cell)
        totals.conversations = sum(c.started for c in conversations if c.day >= since)
        periods.append((key, label, totals))

    waiting = (
        Conversation.objects.filter(
            tenant=tenant, status=ConversationStatus.HANDED_OFF, is_test=False
        )
        .order_by()
        .values("page_id", "flow_id")
        .annotate(count=Count("id"))
    )
    waiting_by_page: dict[int, int] = defaultdict(int)
    waiting_by_flow: dict[int | None, int] = defaultdict(int)
    for row in waiting:
        waiting_by_page[row["page_id"]] += row["count"]
        waiting_by_flow[row["flow_id"]] += row["count"]

    return Overview(
        today=today,
        periods=periods,
        handoffs_waiting=sum(waiting_by_page.values()),
        by_page=_by_page(tenant, events, conversations, waiting_by_page),
        by_flow=_by_flow(tenant, events, conversations, waiting_by_flow),
        daily_leads=_daily(
            first, today, ((c.day, c.count) for c in events if c.event == LEAD_EVENT)
        ),
        daily_conversations=_daily(first, today, ((c.day, c.started) for c in conversations)),
    )


def flow_totals(
    *, tenant: Tenant, flow: Flow, today: date | None = None, use_aggregates: bool = True
) -> list[tuple[str, str, Totals]]:
    """One flow's leads, purchases, revenue and conversations for today, 7 and 30 days."""
    today = today or timezone.localdate()
    events, conversations = day_rows(
        tenant,
        today - timedelta(days=29),
        today,
        use_aggregates=use_aggregates,
        flow_id=flow.pk,
    )
    periods = []
    for key, label, days in PERIODS:
        since = today - timedelta(days=days - 1)
        totals = Totals()
        for cell in events:
            if cell.day >= since and cell.flow_id == flow.pk:
                totals.add_event(cell)
        totals.conversations = sum(
            c.started for c in conversations if c.day >= since and c.flow_id == flow.pk
        )
        periods.append((key, label, totals))
    return periods


def _daily(
    first: date, last: date, points: Iterator[tuple[date, int]] | Any
) -> list[tuple[datetime, int]]:
    counts: dict[date, int] = defaultdict(int)
    for day, count in points:
        counts[day] += count
    out = []
    day = first
    while day <= last:
        out.append((day_start(day), counts.get(day, 0)))
        day += timedelta(days=1)
    return out


def _by_page(
    tenant: Tenant,
    events: list[EventCell],
    conversations: list[ConversationCell],
    waiting: dict[int, int],
) -> list[Breakdown]:
    totals: dict[int, Totals] = defaultdict(Totals)
    for cell in events:
        totals[cell.page_id].add_event(cell)
    for conv in conversations:
        totals[conv.page_id].conversations += conv.started
    pages = ConnectedPage.objects.for_tenant(tenant).order_by("name")
    return [
        Breakdown(page.name, totals.get(page.pk, Totals()), waiting.get(page.pk, 0))
        for page in pages
    ]


def _by_flow(
    tenant: Tenant,
    events: list[EventCell],
    conversations: list[ConversationCell],
    waiting: dict[int | None, int],
) -> list[Breakdown]:
    totals: dict[int | None, Totals] = defaultdict(Totals)
    for cell in events:
        totals[cell.flow_id].add_event(cell)
    for conv in conversations:
        totals[conv.flow_id].conversations += conv.started
    rows = [
        Breakdown(flow.name, totals.get(flow.pk, Totals()), waiting.get(flow.pk, 0), str(flow.pk))
        for flow in Flow.objects.for_tenant(tenant).order_by("name")
    ]
    other = totals.get(None)
    if other is not None and (other.leads or other.purchases or other.conversations):
        rows.append(Breakdown("Not from a flow (API)", other, waiting.get(None, 0)))
    return rows


# --- Per ad: Ads Manager's numbers joined to ours --------------------------------------------


@dataclass
class AdRow:
    ad_id: str
    ad_name: str
    campaign_name: str
    account_name: str
    currency: str
    fb_conversations: int = 0
    fb_leads: int = 0
    fb_purchases: int = 0
    spend: Decimal = Decimal(0)
    our_conversations: int | None = None
    our_leads: int | None = None

    @property
    def cost_per_lead(self) -> Decimal | None:
        """Spend per lead Ads Manager attributed; None without leads."""
        if not self.fb_leads:
            return None
        return (self.spend / self.fb_leads).quantize(Decimal("0.01"))

    @property
    def differs(self) -> bool:
        return self.our_leads is not None and self.our_leads != self.fb_leads


@dataclass(frozen=True)
class OurAdNumbers:
    conversations: int = 0
    leads: int = 0


def _from_an_ad() -> Q:
    return ~Q(ad_id="")


def leads_logged_per_ad(*, tenant: Tenant, first: date, last: date) -> dict[str, OurAdNumbers]:
    """Our side of the per-ad table: conversations started from each ad and the leads we logged
    for it, over ``[first, last]``. The only place that joins our rows to an ad id."""
    start, end = day_start(first), day_start(last + timedelta(days=1))
    leads = dict(
        LoggedEvent.objects.filter(
            tenant=tenant,
            test=False,
            event=LEAD_EVENT,
            created_at__gte=start,
            created_at__lt=end,
        )
        .filter(_from_an_ad())
        .order_by()
        .values("ad_id")
        .annotate(count=Count("id"))
        .values_list("ad_id", "count")
    )
    conversations = dict(
        Conversation.objects.filter(
            tenant=tenant, is_test=False, created_at__gte=start, created_at__lt=end
        )
        .filter(_from_an_ad())
        .order_by()
        .values("ad_id")
        .annotate(count=Count("id"))
        .values_list("ad_id", "count")
    )
    return {
        str(ad_id): OurAdNumbers(conversations.get(ad_id, 0), leads.get(ad_id, 0))
        for ad_id in set(leads) | set(conversations)
    }


def ad_rows(*, tenant: Tenant, first: date, last: date) -> list[AdRow]:
    """One row per ad with Ads Manager's numbers over ``[first, last]`` beside ours."""
    grouped = (
        AdDailyInsight.objects.filter(tenant=tenant, date__gte=first, date__lte=last)
        .order_by()
        .values("ad_id", "account__name", "currency")
        .annotate(
            ad_name=Max("ad_name"),
            campaign_name=Max("campaign_name"),
            conversations=Sum("conversations_started"),
            leads=Sum("leads"),
            purchases=Sum("purchases"),
            spend=Sum("spend"),
        )
    )
    ours = leads_logged_per_ad(tenant=tenant, first=first, last=last)
    rows = []
    for row in grouped:
        mine = ours.get(row["ad_id"], OurAdNumbers())
        rows.append(
            AdRow(
                ad_id=row["ad_id"],
                ad_name=row["ad_name"],
                campaign_name=row["campaign_name"],
                account_name=row["account__name"],
                currency=row["currency"],
                fb_conversations=row["conversations"] or 0,
                fb_leads=row["leads"] or 0,
                fb_purchases=row["purchases"] or 0,
                spend=row["spend"] or Decimal(0),
                our_conversations=mine.conversations,
                our_leads=mine.leads,
            )
        )
    rows.sort(key=lambda r: (-r.spend, r.ad_name))
    return rows


def ads_status(*, tenant: Tenant) -> dict[str, Any]:
    """Whether ad accounts are connected and followed, and any connection needing reauth."""
    connections = list(AdsConnection.objects.for_tenant(tenant))
    return {
        "connected": bool(connections),
        "followed": FollowedAdAccount.objects.for_tenant(tenant).filter(followed=True).count(),
        "needs_reauth": [c for c in connections if c.status != "active"],
    }


# --- Leads for the CSV export -----------------------------------------------------------------


@dataclass(frozen=True)
class LeadRow:
    logged_at: datetime
    page: str
    flow: str
    psid: str
    status: str
    value: Decimal | None
    currency: str
    variables: dict[str, Any]


def lead_rows(*, tenant: Tenant, first: date, last: date) -> Iterator[LeadRow]:
    """Every lead logged in ``[first, last]`` (test events left out), oldest first, with what
    the flow gathered: the variables of the conversation that logged it."""
    events = (
        LoggedEvent.objects.filter(
            tenant=tenant,
            test=False,
            event=LEAD_EVENT,
            created_at__gte=day_start(first),
            created_at__lt=day_start(last + timedelta(days=1)),
        )
        .select_related("page")
        .order_by("created_at", "id")
    )
    versions: dict[int, FlowVersion] = {}
    for chunk in _chunks(events.iterator(chunk_size=500), 500):
        version_ids = {v for e in chunk if (v := _version_pk(e.source_ref)) is not None}
        missing = version_ids - set(versions)
        versions.update(
            (v.pk, v) for v in FlowVersion.objects.filter(pk__in=missing).select_related("flow")
        )
        keys = Q()
        for e in chunk:
            keys |= Q(page_id=e.page_id, psid=e.psid)
        variables: dict[tuple[int, str, int | None], dict[str, Any]] = {}
        for conv in (
            Conversation.objects.filter(tenant=tenant, is_test=False)
            .filter(keys)
            .order_by("created_at")
            .only("page_id", "psid", "flow_version_id", "variables")
        ):
            # The newest conversation of the person on that version wins.
            variables[(conv.page_id, conv.psid, conv.flow_version_id)] = conv.variables or {}
        for e in chunk:
            version_pk = _version_pk(e.source_ref)
            version = versions.get(version_pk) if version_pk is not None else None
            yield LeadRow(
                logged_at=e.created_at,
                page=e.page.name,
                flow=version.flow.name if version else "",
                psid=e.psid,
                status=e.status,
                value=e.value,
                currency=e.currency,
                variables=variables.get((e.page_id, e.psid, version_pk), {}),
            )


def _version_pk(source_ref: str) -> int | None:
    head = source_ref.partition(":")[0]
    return int(head) if head.isdigit() else None


def _chunks(items: Iterator[LoggedEvent], size: int) -> Iterator[list[LoggedEvent]]:
    chunk: list[LoggedEvent] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
