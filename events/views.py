"""The delivery log a person sees: every logged event, its attempts, replay, and an overview.

Filters are events.filters.EventFilter, the same the API's `GET events/` applies, so a link
from the log and an API query mean the same thing. Counts by status refresh by themselves
(static/js/delivery-log.js polls the counts fragment); every page works without JavaScript.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from events import catalog, selectors, services, stats
from events.charts import BarChart, name_rows, simple_bars, stacked_bars
from events.filters import FILTER_PARAMETERS, EventFilter
from events.models import REPLAYABLE_STATUSES, DeliveryAttempt, EventStatus, LoggedEvent
from events.scrub import scrubbed
from graph_api.redaction import redact
from tenants.models import Tenant
from tenants.params import id_param
from tenants.permissions import role_can
from tenants.views import actor_for, redirect_back, tenant_page

PAGE_SIZE = 50
# How often the counts by status refresh themselves, in seconds.
COUNTS_REFRESH_SECONDS = 5


def _filter_params(query: QueryDict) -> QueryDict:
    """Only the filter parameters of `query` (not the pager's `before`, nor anything else)."""
    params = QueryDict(mutable=True)
    for key in FILTER_PARAMETERS:
        values = [value for value in query.getlist(key) if value != ""]
        if values:
            params.setlist(key, values)
    return params


def _without(params: QueryDict, key: str) -> QueryDict:
    rest = params.copy()
    rest.pop(key, None)
    return rest


def _counts(tenant: Tenant, params: QueryDict) -> tuple[EventFilter, dict[str, int]]:
    """Counts by status of the events matching every filter but `status` (they are its tabs)."""
    filterset = selectors.events_filtered(tenant=tenant, params=_without(params, "status"))
    counts = stats.status_counts(filterset.qs) if filterset.is_valid() else {}
    return filterset, counts


def _status_tabs(params: QueryDict, counts: dict[str, int]) -> list[dict[str, Any]]:
    chosen = set(params.getlist("status"))
    rest = _without(params, "status")
    tabs = []
    for status in stats.STATUS_ORDER:
        if status == EventStatus.TEST and params.get("test") != "true" and status not in chosen:
            continue  # test events are listed only under "Test events"
        link = rest.copy()
        link["status"] = status
        tabs.append(
            {
                "status": status,
                "label": EventStatus(status).label,
                "count": counts.get(status, 0),
                "query": link.urlencode(),
                "active": status in chosen,
            }
        )
    return tabs


@dataclass(frozen=True)
class LogRow:
    event: LoggedEvent
    label: str  # the catalog's label of a standard event, "" for a custom one
    last_error: str


def _label(event: str) -> str:
    found = catalog.get(event)
    return found.label if found else ""


@tenant_page("event.view")
@require_GET
def delivery_log(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    params = _filter_params(request.GET)
    filterset = selectors.events_filtered(tenant=tenant, params=params)
    rows: list[LogRow] = []
    older = ""
    replayable = 0
    if filterset.is_valid():
        events = filterset.qs
        before = id_param(request.GET.get("before"))
        if before is not None:
            events = events.filter(pk__lt=before)
        found = list(events[: PAGE_SIZE + 1])
        if len(found) > PAGE_SIZE:
            found = found[:PAGE_SIZE]
            older = _with(params, before=str(found[-1].pk))
        rows = [LogRow(event, _label(event.event), redact(event.last_error)) for event in found]
        replayable = filterset.qs.filter(status__in=REPLAYABLE_STATUSES).count()
    _, counts = _counts(tenant, params)
    context = {
        "filterset": filterset,
        "form": filterset.form,
        "rows": rows,
        "older_query": older,
        "paged": "before" in request.GET,
        "params": params,
        "query": params.urlencode(),
        "tabs": _status_tabs(params, counts),
        "all_query": _without(params, "status").urlencode(),
        "total": sum(counts.values()),
        "statuses": EventStatus.choices,
        "pages": selectors.pages_for_tenant(tenant=tenant),
        "event_names": selectors.event_names(tenant=tenant),
        "replayable_count": replayable,
        "can_replay": role_can(request.tenant_role, "event.replay"),  # type: ignore[attr-defined]
        "refresh_seconds": COUNTS_REFRESH_SECONDS,
        "next_url": request.get_full_path(),
    }
    status = 200 if filterset.is_valid() else 400
    return render(request, "events/delivery_log.html", context, status=status)


def _with(params: QueryDict, **extra: str) -> str:
    query = params.copy()
    for key, value in extra.items():
        query[key] = value
    return query.urlencode()


@tenant_page("event.view")
@require_GET
def delivery_log_counts(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The counts by status alone: what the log's script fetches every few seconds."""
    params = _filter_params(request.GET)
    filterset, counts = _counts(tenant, params)
    context = {
        "tabs": _status_tabs(params, counts),
        "all_query": _without(params, "status").urlencode(),
        "total": sum(counts.values()),
        "params": params,
    }
    response = render(
        request, "events/_counts.html", context, status=200 if filterset.is_valid() else 400
    )
    response["Cache-Control"] = "no-store"
    return response


@dataclass(frozen=True)
class AttemptView:
    """One attempt as the page shows it: JSON pretty-printed, every secret removed."""

    attempt: DeliveryAttempt
    request_json: str
    response_json: str
    error_message: str


def _pretty(value: Any) -> str:
    if value in (None, {}, []):
        return ""
    return json.dumps(scrubbed(value), indent=2, sort_keys=True, ensure_ascii=False)


@tenant_page("event.view")
@require_GET
def event_detail(request: HttpRequest, tenant: Tenant, event_id: int) -> HttpResponse:
    event = selectors.event_with_attempts(tenant=tenant, event_id=event_id)
    if event is None:
        raise Http404("No such event in this workspace")
    attempts = [
        AttemptView(
            attempt=attempt,
            request_json=_pretty(attempt.request),
            response_json=_pretty(attempt.response),
            error_message=redact(attempt.error_message),
        )
        for attempt in event.delivery_attempts.all()
    ]
    context = {
        "event": event,
        "label": _label(event.event),
        "params_json": _pretty(event.params),
        "params": _readable_params(event.params),
        "last_error": redact(event.last_error),
        "attempts": attempts,
        "can_replay": role_can(request.tenant_role, "event.replay"),  # type: ignore[attr-defined]
        "next_url": request.get_full_path(),
    }
    return render(request, "events/event_detail.html", context)


def _readable_params(params: object) -> list[tuple[str, str]]:
    """An event's parameters as (name, value) lines a person reads: text as it is, lists and
    objects (a purchase's `contents`) as compact JSON."""
    if not isinstance(params, dict):
        return []
    return [
        (str(name), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for name, value in params.items()
    ]


def _back(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    return redirect_back(request, tenant, fallback="events:log")


@tenant_page("event.replay")
@require_POST
def replay(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Replay the selected events (`ids`), or every replayable one matching the filters."""
    actor = actor_for(request)
    if request.POST.get("all_matching") == "1":
        filterset = selectors.events_filtered(tenant=tenant, params=_filter_params(request.POST))
        if not filterset.is_valid():
            messages.error(request, "The filters are not valid; nothing was replayed.")
            return _back(request, tenant)
        count = services.events_replay(tenant=tenant, actor=actor, queryset=filterset.qs)
    else:
        raw = request.POST.getlist("ids")
        ids = [number for number in map(id_param, raw) if number is not None]
        if not ids or len(ids) != len(raw):
            messages.error(request, "Tick the events to replay first.")
            return _back(request, tenant)
        count = services.events_replay(tenant=tenant, actor=actor, event_ids=ids)
    if count:
        messages.success(
            request,
            f"Replayed {count} event{'s' if count != 1 else ''}: "
            f"{'they are' if count != 1 else 'it is'} pending delivery again.",
        )
    else:
        messages.warning(
            request,
            "Nothing was replayed: only dead, failed, blocked or not-sent events can be, and "
            "these are not (any more).",
        )
    return _back(request, tenant)


def _chart_or_none(chart: BarChart) -> BarChart | None:
    return None if chart.empty else chart


@tenant_page("event.view")
@require_GET
def overview(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    period = stats.PERIODS.get(request.GET.get("period", ""), stats.PERIODS[stats.DEFAULT_PERIOD])
    buckets = stats.timeline(tenant=tenant, period=period)
    names = stats.top_event_names(tenant=tenant, period=period)
    leads = stats.leads_timeline(tenant=tenant, period=period)
    totals = dict.fromkeys(stats.STATUS_ORDER, 0)
    for bucket in buckets:
        for status, count in bucket.counts.items():
            totals[status] += count
    start, _ = period.window()
    context = {
        "period": period,
        "periods": stats.PERIODS.values(),
        "status_chart": _chart_or_none(stacked_bars(buckets, period.unit)),
        "name_rows": [replace(row, label=_label(row.event)) for row in name_rows(names)],
        "lead_chart": _chart_or_none(simple_bars(leads, period.unit, noun="lead")),
        "lead_total": sum(count for _, count in leads),
        "values": stats.value_by_currency(tenant=tenant, period=period),
        "totals": [
            {"status": status, "label": EventStatus(status).label, "count": totals[status]}
            for status in stats.STATUS_ORDER
            if status != EventStatus.TEST  # the overview leaves test events out
        ],
        "total": sum(totals.values()),
        "since": start,
        "since_param": start.isoformat(),
    }
    return render(request, "events/overview.html", context)
