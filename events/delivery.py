"""Delivering the outbox: claim due events of a Page, send them through its transport, settle.

The lifecycle (events/README.md "Delivery lifecycle", docs/adr/0003-delivery-state-machine.md):

- ``enqueue_delivery`` is the one way to ask for a Page's delivery: after the current
  transaction commits, a ``deliver_page`` task goes to the ``delivery`` queue (at most one
  queued per Page at a time; the task clears the mark when it starts).
- ``page_deliver`` (the task's body) claims due rows of one Page with ``SELECT ... FOR UPDATE
  SKIP LOCKED`` (a conditional UPDATE on SQLite) under a lease and a claim token, takes tokens
  from the Page's rate limiter, sends, and settles every event of a call in bulk, as
  ``events.policy`` decides.
- ``sweep_due`` (beat, every ``EVENTS_SWEEP_SECONDS``) takes back expired leases, releases the
  blocked events of Pages that are active again, and enqueues every Page with due events, so a
  lost broker message only delays an event.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from redis.exceptions import LockError
from redis.lock import Lock

from events import bulk, policy, ratelimit, transport_status, validation
from events.models import (
    DUE_STATUSES,
    DeliveryAttempt,
    EventStatus,
    LoggedEvent,
    PageRateLimit,
)
from events.transports import CallResult, conversions_api, page_activities, unsendable_reason
from graph_api.client import GraphClient
from tenants import services as tenant_services
from tenants.crypto import decrypt_token
from tenants.models import ConnectedPage, PageStatus, Tenant, Transport
from tenants.services import region_allows_page_activities

logger = logging.getLogger(__name__)

QUEUED_MARK_SECONDS = 60
"""How long "a deliver_page task is queued for this Page" holds without the task starting."""


def enqueue_delivery(
    *, tenant_id: int, page_id: int, countdown: float = 0, force: bool = False
) -> None:
    """Ask for the Page's delivery once the current transaction commits (at once outside one).

    The one helper that wraps ``transaction.on_commit``: a rolled-back transaction enqueues
    nothing, and a failure to reach the broker is logged, not raised (the beat sweep finds the
    events anyway). ``countdown`` is capped at ``CELERY_MAX_COUNTDOWN_SECONDS``. An immediate
    enqueue is skipped while the Page's "queued" mark says a task waits for it; ``force`` (the
    sweep) sends one anyway, since the message behind a mark may be the one that was lost.
    """
    send = functools.partial(
        _send, tenant_id=tenant_id, page_id=page_id, countdown=countdown, force=force
    )
    # Django's robust on_commit names a failed callback by its __qualname__ when it logs it,
    # and a bare partial has none (the log call itself would raise).
    functools.update_wrapper(send, _send)
    transaction.on_commit(send, robust=True)


def _send(*, tenant_id: int, page_id: int, countdown: float, force: bool = False) -> None:
    from events.tasks import deliver_page  # the task module imports this one

    countdown = min(max(countdown, 0.0), float(settings.CELERY_MAX_COUNTDOWN_SECONDS))
    marked = countdown > 0 or ratelimit.mark_queued(page_id, seconds=QUEUED_MARK_SECONDS)
    if not (marked or force):
        return  # a task for this Page is queued and has not started: it will see these rows
    if countdown > 0:
        deliver_page.apply_async(args=(tenant_id, page_id), countdown=countdown)
    else:
        deliver_page.apply_async(args=(tenant_id, page_id))


def page_block_reason(page: ConnectedPage) -> str:
    """Why the Page's events cannot be sent now ("" when they can): they wait as ``blocked``
    and flow again by themselves once the cause is fixed."""
    if page.status == PageStatus.DISCONNECTED:
        return "The Page is disconnected from Pagepulse. Connect it again and its events are sent."
    if page.status == PageStatus.NEEDS_REAUTH:
        return page.last_error or (
            "Facebook no longer accepts the Page's access token. Continue with Facebook to "
            "renew it; its events are sent then."
        )
    if page.status == PageStatus.MISSING_PERMISSION:
        return page.last_error or (
            "A permission (page_events) or Page task is missing. Continue with Facebook and "
            "allow it; its events are sent then."
        )
    if page.transport == Transport.PAGE_ACTIVITIES and not region_allows_page_activities(
        page.tenant
    ):
        return (
            "The Events API (page_activities) is not available to businesses in Europe or "
            f"Japan, and this workspace is in {page.tenant.country.name}. Switch the Page to "
            "the Conversions API and its events are sent."
        )
    if held := transport_status.held_reason(page.transport):
        return held
    if page.transport == Transport.CONVERSIONS_API and not page.dataset_id:
        return (
            "The Page has no Conversions API dataset yet. Connect it again with Facebook and "
            "its events are sent."
        )
    return ""


# --- Delivering one Page ---------------------------------------------------------------------

RUN_BUDGET_SECONDS = 20.0
"""One task run claims again while there is work, for about this long, then hands over to a
fresh task: a busy Page never holds a worker process for long, and others get their turn."""
CLAIM_LIMITS: dict[str, int] = {
    Transport.CONVERSIONS_API: conversions_api.MAX_CAPI_EVENTS,
    Transport.PAGE_ACTIVITIES: 4 * page_activities.MAX_BATCH_OPERATIONS,
}
"""Events claimed at a time: one full Conversions API call, or a few users' worth of batches."""


@dataclass
class DeliveryReport:
    """What one ``page_deliver`` run did (for logs and tests)."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    dead: int = 0
    blocked: int = 0
    not_sent: int = 0
    kept: int = 0
    released: int = 0
    postponed: int = 0
    calls: int = 0


@dataclass
class _Claim:
    token: str
    events: list[LoggedEvent]
    leased_at: float
    """When its lease was last set (the claim, or a renewal), on ``time.monotonic``'s clock,
    taken before the lease's end was computed."""


class _Stop(Exception):
    """The Page cannot go on this run (throttled, blocked); the rest waits."""


def delivers_test_events(tenant: Tenant) -> bool:
    """Whether the workspace's test events go to Facebook: its own switch (Settings), or
    ``EVENTS_DELIVER_TEST_EVENTS`` for every workspace."""
    return settings.EVENTS_DELIVER_TEST_EVENTS or tenant.deliver_test_events


def _deliverable(rows: QuerySet[LoggedEvent]) -> QuerySet[LoggedEvent]:
    """Leave out test events, but for workspaces that deliver them."""
    if settings.EVENTS_DELIVER_TEST_EVENTS:
        return rows
    return rows.filter(Q(test=False) | Q(tenant__deliver_test_events=True))


def _due(page: ConnectedPage, now: datetime) -> QuerySet[LoggedEvent]:
    """The Page's rows a worker may take: due ones, and ones whose worker's lease ran out.
    ``_CLAIM`` states the same condition (with ``_deliverable``'s) for PostgreSQL's claim."""
    rows = LoggedEvent.objects.filter(tenant_id=page.tenant_id, page_id=page.pk).filter(
        Q(status__in=DUE_STATUSES) | Q(status=EventStatus.SENDING), next_attempt_at__lte=now
    )
    return _deliverable(rows)


CLAIMED_FIELDS = (
    "tenant_id",
    "page_id",
    "psid",
    "event",
    "params",
    "value",
    "currency",
    "logging_target",
    "event_time",
    "status",
    "attempts",
    "first_failed_at",
)
"""What delivery reads of a claimed event (payloads, validation, policy; ``__repr__``): a
claim of 1,000 rows loaded with all 27 columns spent a fifth of a worker's CPU building them,
most of it parsing timestamps it never reads."""


_EVENTS = f'"{LoggedEvent._meta.db_table}"'
_TENANTS = f'"{Tenant._meta.db_table}"'
_CLAIM = (
    f"UPDATE {_EVENTS} SET status = %(sending)s, claim_token = %(token)s, "  # noqa: S608 (the model's own names)
    "next_attempt_at = %(lease_end)s, updated_at = %(now)s "
    f"WHERE id IN (SELECT id FROM {_EVENTS} "
    "WHERE page_id = %(page)s AND tenant_id = %(tenant)s AND status = ANY(%(due)s) "
    "AND next_attempt_at <= %(now)s AND (NOT test OR %(tests)s "
    f"OR (SELECT deliver_test_events FROM {_TENANTS} WHERE id = %(tenant)s)) "
    "ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
    "RETURNING "
    + ", ".join(
        f.column
        for f in LoggedEvent._meta.concrete_fields
        if f.primary_key or f.attname in CLAIMED_FIELDS
    )
)
"""``claim`` on PostgreSQL in one statement: ``_due``'s rows (``_deliverable``'s test events
included), oldest first, locked and skipped when another worker holds them, leased and
returned. It locks the events only, never the workspace's row it reads: a claim for another
Page of the same workspace must not skip this one's rows."""


def claim(page: ConnectedPage, *, limit: int, now: datetime | None = None) -> _Claim:
    """Take up to ``limit`` due events of the Page for this worker, under a lease.

    PostgreSQL: one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``
    (``_CLAIM``), so concurrent workers take disjoint rows without waiting. SQLite (one writer
    at a time): a conditional UPDATE that only moves rows still due, then a read. Either way
    the rows get a fresh claim token and ``next_attempt_at`` at the end of the lease; settling
    checks the token.
    """
    leased_at = time.monotonic()
    now = now or timezone.now()
    token = secrets.token_hex(16)
    lease_end = now + timedelta(seconds=settings.EVENTS_LEASE_SECONDS)
    if connection.features.has_select_for_update_skip_locked:
        # raw() maps the returned columns to fields, as a queryset would (JSON decoded, the
        # fields not returned deferred); the statement runs once, when it is iterated.
        claimed = LoggedEvent.objects.raw(
            _CLAIM,
            {
                "sending": EventStatus.SENDING,
                "token": token,
                "lease_end": lease_end,
                "now": now,
                "page": page.pk,
                "tenant": page.tenant_id,
                "due": [*DUE_STATUSES, EventStatus.SENDING],
                "tests": bool(settings.EVENTS_DELIVER_TEST_EVENTS),
                "limit": limit,
            },
        )
        events = sorted(claimed, key=lambda event: event.pk)
        return _Claim(token=token, events=events, leased_at=leased_at)
    candidates = _due(page, now).order_by("next_attempt_at", "pk")
    ids = list(candidates.values_list("pk", flat=True)[:limit])
    if ids:
        _due(page, now).filter(pk__any_of=ids).update(
            status=EventStatus.SENDING, claim_token=token, next_attempt_at=lease_end, updated_at=now
        )
    events = list(
        LoggedEvent.objects.filter(pk__any_of=ids, claim_token=token)
        .only(*CLAIMED_FIELDS)
        .order_by("pk")
    )
    return _Claim(token=token, events=events, leased_at=leased_at)


def page_deliver(
    *, tenant_id: int, page_id: int, graph: GraphClient | None = None
) -> DeliveryReport:
    """Deliver the Page's due events until none is left, the run's budget is spent, or the
    Page cannot go on (throttled: it waits, re-scheduled; blocked: its events wait blocked).

    One run per Page at a time (``ratelimit.run_lock``, renewed before each claim): a second
    task for a Page whose run is going ends at once, and the run looks again for due rows after
    it lets go, so none waits for the sweep. A Page's backlog thus holds one worker process for
    at most ``RUN_BUDGET_SECONDS`` at a time and then queues behind the other Pages' tasks.
    """
    ratelimit.clear_queued(page_id)
    report = DeliveryReport()
    page = (
        ConnectedPage.objects.select_related("tenant")
        .filter(tenant_id=tenant_id, pk=page_id)
        .first()
    )
    if page is None:
        return report
    running = ratelimit.run_lock(page.pk, seconds=settings.EVENTS_LEASE_SECONDS)
    if not running.acquire():
        return report  # the Page's run takes these rows, or looks again when it ends
    try:
        requeued = _run(page, graph or GraphClient.from_settings(), report, running)
    finally:
        with contextlib.suppress(LockError):  # it ran out while we worked: nothing to release
            running.release()
    if not requeued and _due(page, timezone.now()).exists():
        # Committed after this run's last claim, while its lock turned their task away.
        enqueue_delivery(tenant_id=page.tenant_id, page_id=page.pk)
    logger.info(
        "events.delivery.run",
        extra={"tenant_id": page.tenant_id, "page_id": page.pk, **report.__dict__},
    )
    return report


def _run(page: ConnectedPage, graph: GraphClient, report: DeliveryReport, running: Lock) -> bool:
    """The run's loop; True when the Page's delivery is already asked for again (its budget
    was spent, or it was throttled or stopped and is re-scheduled)."""
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    reason = page_block_reason(page)
    if not reason:
        report.released += release_blocked(page)
    while True:
        if reason:
            report.blocked += block_due(page, reason)
            return False
        paused = ratelimit.paused_for(page.pk)
        if paused > 0:
            report.postponed += postpone_due(page, seconds=paused)
            return True  # postponed rows are not due until the pause ends
        batch = claim(page, limit=CLAIM_LIMITS.get(page.transport, 1000))
        if not batch.events:
            return False
        report.claimed += len(batch.events)
        try:
            _deliver_claim(page, batch, graph, report)
        except _Stop:
            return True
        if time.monotonic() > deadline:
            enqueue_delivery(tenant_id=page.tenant_id, page_id=page.pk)
            return True
        reason = page_block_reason(page)
        with contextlib.suppress(LockError):  # ran out meanwhile: another run may go on too
            running.extend(settings.EVENTS_LEASE_SECONDS, replace_ttl=True)


def _deliver_claim(
    page: ConnectedPage, batch: _Claim, graph: GraphClient, report: DeliveryReport
) -> None:
    now = timezone.now()
    sendable = []
    for event in batch.events:
        # The Page's transport may have changed since the event was logged: a name it refuses
        # is kept (Conversions API) and anything else it cannot take is not sent, with why.
        if kept := validation.kept_reason(event.event, page.transport):
            report.kept += _finish(batch.token, [event.pk], EventStatus.KEPT, kept, now)
        elif reason := unsendable_reason(event, transport=page.transport, now=now):
            report.not_sent += _finish(
                batch.token,
                [event.pk],
                EventStatus.NOT_SENT,
                reason,
                now,
            )
        else:
            sendable.append(event)
    if not sendable:
        return
    token = decrypt_token(page.token_encrypted)
    if page.transport == Transport.CONVERSIONS_API:
        calls = conversions_api.chunks(sendable)

        def send(calls: Sequence[list[LoggedEvent]]) -> list[CallResult]:
            return [
                conversions_api.send(
                    graph=graph,
                    page_id=page.page_id,
                    dataset_id=page.dataset_id,
                    token=token,
                    events=events,
                )
                for events in calls
            ]

        per_request = 1
    else:
        calls = page_activities.group(sendable)

        def send(calls: Sequence[list[LoggedEvent]]) -> list[CallResult]:
            return page_activities.send(graph=graph, page_id=page.page_id, token=token, calls=calls)

        per_request = page_activities.MAX_BATCH_OPERATIONS
    _send_calls(page, batch, calls, send, per_request, report)


def _send_calls(
    page: ConnectedPage,
    batch: _Claim,
    calls: list[list[LoggedEvent]],
    send: Callable[[Sequence[list[LoggedEvent]]], list[CallResult]],
    per_request: int,
    report: DeliveryReport,
) -> None:
    """Send the calls (``per_request`` of them share one HTTP request), a bucket's worth at a
    time; split a refused call of several events and send both halves; settle each answer."""
    claim_token = batch.token
    rate = _rate(page)
    queue = list(calls)
    while queue:
        grant = ratelimit.acquire(page.pk, min(len(queue), per_request), rate=rate)
        if grant.granted == 0:
            _postpone(page, claim_token, queue, grant.wait_seconds, report)
            raise _Stop
        going, queue = queue[: grant.granted], queue[grant.granted :]
        held = _hold(batch, going)
        ratelimit.refund(page.pk, len(going) - len(held))
        if not held:
            continue
        results = send(held)
        report.calls += len(results)
        ratelimit.record_engaged_users(
            page.pk, (e.psid for r in results for e in r.events), now=timezone.now()
        )
        stop: policy.Decision | None = None
        # One transaction for the answer of one HTTP request: its rows are locked from the
        # start (no sweep or other worker can take them while they settle), and a worker that
        # dies settling sends the whole request again, never more (DESIGN.md §7).
        with transaction.atomic():
            _lock(claim_token, [result.events for result in results])
            record_attempts(page, results)
            settled = []
            for result in results:
                if policy.should_split(result.error, len(result.events)):
                    half = len(result.events) // 2
                    queue[:0] = [result.events[:half], result.events[half:]]
                else:
                    settled.append(result)
            for decision in settle_calls(page, claim_token, settled, report):
                if decision.page_action != policy.PageAction.NONE:
                    stop = stop or decision
        usage = max((r.usage.max_percent for r in results), default=0)
        ratelimit.observe_usage(page.pk, usage)
        if stop is not None:
            _after_stop(page, claim_token, queue, stop, report)
            raise _Stop


def _held_rows(claim_token: str, calls: Sequence[list[LoggedEvent]]) -> QuerySet[LoggedEvent]:
    ids = [event.pk for events in calls for event in events]
    return LoggedEvent.objects.filter(
        pk__any_of=ids, claim_token=claim_token, status=EventStatus.SENDING
    )


def _lock(claim_token: str, calls: Sequence[list[LoggedEvent]]) -> set[int]:
    """Lock the calls' rows still under this claim until the transaction ends; their ids."""
    return set(_held_rows(claim_token, calls).select_for_update().values_list("pk", flat=True))


FRESH_LEASE_SECONDS = 10.0
"""A claim's lease set less than this long ago is not renewed before a call: it has at least
``EVENTS_LEASE_SECONDS`` minus this left (50 s by default), several times a Graph call's
longest (graph_api.client.DEFAULT_TIMEOUT)."""


def _hold(batch: _Claim, calls: Sequence[list[LoggedEvent]]) -> list[list[LoggedEvent]]:
    """Right before sending: leave out any event this worker no longer holds (its lease ran
    out while it sent earlier calls, and the sweep or another worker took them; or it was
    deleted), and renew the lease of the rest for another ``EVENTS_LEASE_SECONDS`` once it is
    older than ``FRESH_LEASE_SECONDS``: a call goes out only with events no one else may send,
    so a live worker never makes a duplicate.

    While the lease is fresh nobody else may take its rows (a claim, the sweep and a block take
    a sending row only once its lease has run out), so a plain read says which are held,
    without locking and rewriting every row: renewing it right after the claim rewrote each
    event once more through every index of the outbox for nothing."""
    if time.monotonic() - batch.leased_at < FRESH_LEASE_SECONDS:
        held = set(_held_rows(batch.token, calls).values_list("pk", flat=True))
    else:
        leased_at, now = time.monotonic(), timezone.now()
        with transaction.atomic():
            held = _lock(batch.token, calls)
            LoggedEvent.objects.filter(pk__any_of=held).update(
                next_attempt_at=now + timedelta(seconds=settings.EVENTS_LEASE_SECONDS),
                updated_at=now,
            )
        batch.leased_at = leased_at
    kept = [[event for event in events if event.pk in held] for events in calls]
    return [events for events in kept if events]


def _after_stop(
    page: ConnectedPage,
    claim_token: str,
    queue: list[list[LoggedEvent]],
    decision: policy.Decision,
    report: DeliveryReport,
) -> None:
    """The Page was throttled or lost its token or a permission: the unsent rest waits."""
    if decision.page_action == policy.PageAction.PAUSE:
        _postpone(page, claim_token, queue, decision.pause_seconds, report)
        return
    ids = [event.pk for events in queue for event in events]
    report.blocked += _finish(claim_token, ids, EventStatus.BLOCKED, decision.reason, None)


def _postpone(
    page: ConnectedPage,
    claim_token: str,
    queue: Iterable[list[LoggedEvent]],
    seconds: float,
    report: DeliveryReport,
) -> None:
    """Give claimed events back, due in ``seconds``, without counting an attempt, and ask
    for the Page's delivery then."""
    ids = [event.pk for events in queue for event in events]
    at = timezone.now() + timedelta(seconds=seconds)
    report.postponed += _release(
        LoggedEvent.objects.filter(
            pk__any_of=ids, claim_token=claim_token, status=EventStatus.SENDING
        ),
        at,
    )
    enqueue_delivery(tenant_id=page.tenant_id, page_id=page.pk, countdown=seconds)


def _release(rows: QuerySet[LoggedEvent], at: datetime, **fields: object) -> int:
    """Make rows due at ``at`` again (``pending`` if never tried, else ``retrying``)."""
    return rows.update(
        **fields,
        status=Case(
            When(attempts=0, then=Value(EventStatus.PENDING)), default=Value(EventStatus.RETRYING)
        ),
        next_attempt_at=at,
        claim_token="",
        updated_at=timezone.now(),
    )


def _rate(page: ConnectedPage) -> float:
    override = (
        PageRateLimit.objects.filter(tenant_id=page.tenant_id, page_id=page.pk)
        .values_list("calls_per_second", flat=True)
        .first()
    )
    return ratelimit.page_rate(page.pk, override=override, now=timezone.now())


def _finish(
    claim_token: str, ids: Sequence[int], status: str, reason: str, now: datetime | None
) -> int:
    """End claimed events in ``status`` (failed, blocked) with ``reason``, without a call."""
    if not ids:
        return 0
    return LoggedEvent.objects.filter(
        pk__any_of=ids, claim_token=claim_token, status=EventStatus.SENDING
    ).update(
        status=status,
        last_error=reason,
        claim_token="",
        next_attempt_at=now or timezone.now(),
        updated_at=timezone.now(),
    )


# --- Settling ----------------------------------------------------------------------------------


_ATTEMPT_EVENTS = DeliveryAttempt.events.through
_LINK_ATTEMPTS = (
    f"INSERT INTO {_ATTEMPT_EVENTS._meta.db_table} (deliveryattempt_id, loggedevent_id) "  # noqa: S608 (the model's own names)
    "SELECT * FROM unnest(%s::bigint[], %s::bigint[])"
)


def record_attempts(page: ConnectedPage, results: Sequence[CallResult]) -> list[DeliveryAttempt]:
    """One DeliveryAttempt per call, each linked to every event it carried: two statements for
    all the calls of an HTTP request (a Graph batch of 50 operations is 50 calls). The links
    (up to 1,000) go as two arrays of ids on PostgreSQL, without a model instance each."""
    attempts = bulk.insert_rows([_attempt(page, result) for result in results])
    links = [
        (attempt.pk, event.pk)
        for attempt, result in zip(attempts, results, strict=True)
        for event in result.events
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LINK_ATTEMPTS, [[a for a, _ in links], [e for _, e in links]])
    else:
        _ATTEMPT_EVENTS.objects.bulk_create(
            _ATTEMPT_EVENTS(deliveryattempt_id=attempt_id, loggedevent_id=event_id)
            for attempt_id, event_id in links
        )
    return attempts


def record_attempt(page: ConnectedPage, result: CallResult) -> DeliveryAttempt:
    """One DeliveryAttempt for the call, linked to every event it carried (two queries)."""
    (attempt,) = record_attempts(page, [result])
    return attempt


def _attempt(page: ConnectedPage, result: CallResult) -> DeliveryAttempt:
    error = result.error
    return DeliveryAttempt(
        tenant_id=page.tenant_id,
        page=page,
        transport=result.transport,
        outcome=policy.outcome_of(error),
        http_status=result.http_status,
        graph_code=error.code if error else None,
        graph_subcode=error.error_subcode if error else None,
        fbtrace_id=(error.fbtrace_id if error else _trace(result.response)) or "",
        duration_ms=result.duration_ms,
        request=result.request,
        response=result.response,
        error_class=type(error).__name__ if error else "",
        error_message=str(error) if error else "",
    )


def _trace(response: object) -> str:
    if isinstance(response, dict) and isinstance(response.get("fbtrace_id"), str):
        return str(response["fbtrace_id"])
    return ""


def settle(
    page: ConnectedPage, claim_token: str, result: CallResult, report: DeliveryReport
) -> policy.Decision:
    """Record one call and move its events (``settle_calls`` for one); its decision."""
    record_attempts(page, [result])
    (decision,) = settle_calls(page, claim_token, [result], report)
    return decision


def settle_calls(
    page: ConnectedPage, claim_token: str, results: Sequence[CallResult], report: DeliveryReport
) -> list[policy.Decision]:
    """Move every event the calls carried as ``events.policy`` decides, in one UPDATE per
    distinct outcome across all of them (usually one: every event delivered), whatever the
    number of calls. Only rows still under this claim move: a worker whose lease ran out cannot
    overwrite another's outcome. The attempts are recorded by the caller
    (``record_attempts``). Returns each call's decision for its first event (the Page's fate is
    the same for all of a call's events)."""
    now = timezone.now()
    schedule = policy.RetrySchedule.from_settings()
    moves: dict[tuple[object, ...], list[int]] = defaultdict(list)
    decisions = []
    for result in results:
        jitter = random.random()  # noqa: S311 (back-off jitter, not a secret)
        first: policy.Decision | None = None
        for event in result.events:
            decision = policy.decide(
                result.error,
                attempts=event.attempts,
                first_failed_at=event.first_failed_at,
                now=now,
                jitter=jitter,
                schedule=schedule,
            )
            first = first or decision
            key = (
                decision.status,
                decision.consumes_attempt,
                decision.next_attempt_at or now,
                decision.first_failed_at,
                decision.reason,
            )
            moves[key].append(event.pk)
        if first is None:
            raise ValueError("a call carries at least one event")
        decisions.append(first)
    for (status, consumes, next_attempt_at, first_failed_at, reason), ids in moves.items():
        moved = LoggedEvent.objects.filter(
            pk__any_of=ids, claim_token=claim_token, status=EventStatus.SENDING
        ).update(
            status=status,
            attempts=F("attempts") + 1 if consumes else F("attempts"),
            next_attempt_at=next_attempt_at,
            first_failed_at=first_failed_at,
            last_error=reason,
            delivered_at=now if status == EventStatus.DELIVERED else None,
            claim_token="",
            updated_at=now,
        )
        _count(report, str(status), moved)
    for result, first in zip(results, decisions, strict=True):
        _apply_page_action(page, result, first)
        if result.error is not None:
            logger.warning(
                "events.delivery.call_failed",
                extra={
                    "tenant_id": page.tenant_id,
                    "page_id": page.pk,
                    "events": len(result.events),
                    "error_class": type(result.error).__name__,
                    "graph_code": result.error.code,
                    "fbtrace_id": result.error.fbtrace_id,
                    "status": first.status,
                },
            )
    return decisions


def _count(report: DeliveryReport, status: str, moved: int) -> None:
    field = {
        EventStatus.DELIVERED: "delivered",
        EventStatus.RETRYING: "retrying",
        EventStatus.FAILED: "failed",
        EventStatus.DEAD: "dead",
        EventStatus.BLOCKED: "blocked",
    }[EventStatus(status)]
    setattr(report, field, getattr(report, field) + moved)


def _apply_page_action(page: ConnectedPage, result: CallResult, decision: policy.Decision) -> None:
    error = result.error
    if decision.page_action == policy.PageAction.PAUSE:
        ratelimit.pause(page.pk, decision.pause_seconds)
    elif decision.page_action == policy.PageAction.TOKEN_INVALID and error is not None:
        tenant_services.page_mark_token_invalid(page=page, error=error)
    elif decision.page_action == policy.PageAction.PERMISSION_MISSING and error is not None:
        tenant_services.page_mark_permission_missing(page=page, error=error)


# --- Holding and releasing a Page's events -----------------------------------------------------


def block_due(page: ConnectedPage, reason: str) -> int:
    """Hold the Page's due events (and any whose lease ran out) as ``blocked`` with ``reason``."""
    return _due(page, timezone.now()).update(
        status=EventStatus.BLOCKED, last_error=reason, claim_token="", updated_at=timezone.now()
    )


def release_blocked(page: ConnectedPage, *, now: datetime | None = None) -> int:
    """The Page can deliver again: its blocked events become due now, with a fresh window."""
    now = now or timezone.now()
    count = _release(
        LoggedEvent.objects.filter(
            tenant_id=page.tenant_id, page_id=page.pk, status=EventStatus.BLOCKED
        ),
        now,
        first_failed_at=None,
        last_error="",
    )
    if count:
        logger.info(
            "events.delivery.released",
            extra={"tenant_id": page.tenant_id, "page_id": page.pk, "count": count},
        )
    return count


def on_page_active(sender: object, *, page: ConnectedPage, **kwargs: object) -> None:
    """tenants' ``page_active``: a re-authorized Page's held events go out now, not at the
    next sweep."""
    if page_block_reason(page):
        return  # active, but still unable to deliver (e.g. page_activities in Europe)
    if release_blocked(page):
        enqueue_delivery(tenant_id=page.tenant_id, page_id=page.pk)


def postpone_due(page: ConnectedPage, *, seconds: float) -> int:
    """The Page is paused: its due events wait ``seconds`` more (no attempt counted), and a
    delivery is asked for then."""
    count = _release(
        _due(page, timezone.now()).exclude(status=EventStatus.SENDING),
        timezone.now() + timedelta(seconds=seconds),
    )
    enqueue_delivery(tenant_id=page.tenant_id, page_id=page.pk, countdown=seconds)
    return count


# --- The beat sweep ----------------------------------------------------------------------------


LEASE_DEAD_REASON = (
    "Every worker that took this event stopped before it settled (a crash or a kill each time) "
    "for the whole retry window, so it is no longer retried. Replay it once the cause is fixed."
)


@dataclass
class SweepReport:
    taken_back: int = 0
    dead: int = 0
    released: int = 0
    enqueued: int = 0
    tests_unsent: int = 0


def sweep_due(*, now: datetime | None = None) -> SweepReport:
    """Take back expired leases, release blocked events of Pages that can deliver again, and
    enqueue every Page with due events. The one reader across tenants (ADR 0001 allows it)."""
    now = now or timezone.now()
    report = SweepReport()
    # A lease that ran out is a failed try: its retry window starts then, so an event whose
    # every worker dies (a crash it causes, or kills) ends `dead` instead of cycling forever.
    expired = LoggedEvent.objects.filter(status=EventStatus.SENDING, next_attempt_at__lte=now)
    window = timedelta(seconds=settings.EVENTS_RETRY_WINDOW_SECONDS)
    report.dead = expired.filter(first_failed_at__lte=now - window).update(
        status=EventStatus.DEAD, claim_token="", last_error=LEASE_DEAD_REASON, updated_at=now
    )
    report.taken_back = _release(
        expired, now, first_failed_at=Coalesce(F("first_failed_at"), Value(now))
    )
    if not settings.EVENTS_DELIVER_TEST_EVENTS:
        # Test events logged while their workspace sent them, which stopped since: they will
        # not be sent, so they say so instead of waiting as "pending" forever.
        report.tests_unsent = LoggedEvent.objects.filter(
            status=EventStatus.PENDING, test=True, tenant__deliver_test_events=False
        ).update(status=EventStatus.TEST, last_error=validation.TEST_REASON, updated_at=now)
    held = LoggedEvent.objects.filter(status=EventStatus.BLOCKED).values("page_id")
    for page in ConnectedPage.objects.filter(pk__in=held, status=PageStatus.ACTIVE).select_related(
        "tenant"
    ):
        if not page_block_reason(page):
            report.released += release_blocked(page, now=now)
    due = _deliverable(
        LoggedEvent.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=now)
    )
    pages = due.order_by().values_list("tenant_id", "page_id").distinct()
    for tenant_id, page_id in pages:
        enqueue_delivery(tenant_id=tenant_id, page_id=page_id, force=True)
        report.enqueued += 1
    if any(report.__dict__.values()):
        logger.info("events.delivery.sweep", extra=report.__dict__)
    return report
