"""Everything in the events app that writes: logging events into the outbox, and replaying.

Events are validated against the Page's transport before anything is written; a request with
one bad event writes nothing. Rows are written in one transaction (the caller's, when there is
one: a flow step logs its events in the same transaction as the conversation's step) and
delivery is enqueued when it commits. See events/README.md "Delivery lifecycle".
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from events import bulk, catalog, transport_status, validation
from events.delivery import delivers_test_events, enqueue_delivery, page_block_reason
from events.exceptions import InvalidEvents, NoEvents, TooManyEvents
from events.models import (
    REPLAYABLE_STATUSES,
    UNSENT_STATUSES,
    DeliveryAttempt,
    EventStatus,
    LoggedEvent,
)
from events.policy import MAX_EVENT_AGE
from tenants.exceptions import NotFound
from tenants.models import ApiKey, AuditAction, ConnectedPage, Tenant, Transport
from tenants.services import Actor, audit_record
from tenants.services.workspaces import require_permission

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_REQUEST = 1000
"""One request logs at most this many events (a full Conversions API call)."""
MAX_FUTURE_SKEW = timedelta(minutes=10)
"""An ``event_time`` further ahead than this is a mistake (milliseconds sent as seconds)."""
MAX_PSID_LENGTH = 64
EVENT_NAME_MAX_LENGTH = LoggedEvent._meta.get_field("event").max_length or 64


@dataclass(frozen=True)
class EventInput:
    """One event as a flow block or an integration names it (see interfaces.md)."""

    event: str
    params: Mapping[str, object] = field(default_factory=dict)
    value: Decimal | None = None
    currency: str = ""
    logging_target: str = "page"
    event_time: datetime | None = None


@dataclass(frozen=True)
class PsidEvents:
    """The events of one Messenger user in a batch."""

    psid: str
    events: Sequence[EventInput]


def log_events(
    *,
    tenant: Tenant,
    page: ConnectedPage,
    psid: str,
    events: Sequence[EventInput],
    source: str,
    idempotency_key: str | None = None,
    api_key: ApiKey | None = None,
    source_ref: str = "",
    test: bool = False,
    record_unsendable: bool = False,
    source_flow_version: int | None = None,
    source_node: str = "",
    ad_id: str = "",
) -> list[LoggedEvent]:
    """Log ``events`` for one Messenger user of ``page``; see ``log_event_batch``."""
    return log_event_batch(
        tenant=tenant,
        page=page,
        batch=[PsidEvents(psid=psid, events=events)],
        source=source,
        idempotency_key=idempotency_key,
        api_key=api_key,
        source_ref=source_ref,
        test=test,
        record_unsendable=record_unsendable,
        source_flow_version=source_flow_version,
        source_node=source_node,
        ad_id=ad_id,
    )


def log_event_batch(
    *,
    tenant: Tenant,
    page: ConnectedPage,
    batch: Sequence[PsidEvents],
    source: str,
    idempotency_key: str | None = None,
    api_key: ApiKey | None = None,
    source_ref: str = "",
    test: bool = False,
    record_unsendable: bool = False,
    source_flow_version: int | None = None,
    source_node: str = "",
    ad_id: str = "",
) -> list[LoggedEvent]:
    """Validate and write the events of several Messenger users of one Page, in order.

    Raises ``TooManyEvents`` (more than 1,000), ``NoEvents``, or ``InvalidEvents`` (indexed
    across the whole batch) and writes nothing. With ``record_unsendable`` (a flow's events,
    and the test chat's: a Messenger user cannot be told "400") an event that fails validation
    is written instead with status ``not_sent`` and the reasons, never dropped. The same
    ``idempotency_key`` for the same tenant returns the events it logged the first time and
    writes nothing, also when two requests race (the unique constraint decides).

    Every row gets a status that says what becomes of it, with the reason in ``last_error``:
    ``not_sent`` (see above), ``kept`` (a name the Conversions API refuses: kept in Pagepulse,
    never sent), ``test`` (a test event the workspace does not send: ``delivers_test_events``),
    ``blocked`` (the Page cannot deliver now: needs re-authorization, its region or Facebook
    has no transport for it, ...; sent once that is fixed) or ``pending``.

    A flow's events name the flow version (its id) and the ``log_event`` node that logged them
    (``source_flow_version``, ``source_node``: the funnel stats read them) and the
    click-to-Messenger ad the conversation started from (``ad_id``).
    """
    if page.tenant_id != tenant.pk:
        raise NotFound("No such Page in this workspace.")
    total = sum(len(item.events) for item in batch)
    if total > MAX_EVENTS_PER_REQUEST:
        raise TooManyEvents(
            f"{total} events is too many for one request: send at most "
            f"{MAX_EVENTS_PER_REQUEST:,}, and the rest in further requests.",
            details={"count": total, "max": MAX_EVENTS_PER_REQUEST},
        )
    if total == 0:
        raise NoEvents("There are no events to log: send at least one.")
    if idempotency_key:
        existing = _logged_with(tenant, idempotency_key)
        if existing:
            return existing
    else:
        idempotency_key = None

    now = timezone.now()
    problems = _problems(batch, transport=page.transport, now=now)
    if problems and not record_unsendable:
        raise InvalidEvents(problems)

    blocked = page_block_reason(page)
    sends_tests = delivers_test_events(tenant)
    pairs = [(item.psid, event) for item in batch for event in item.events]
    varying = []
    for index, (psid, event) in enumerate(pairs):
        status, reason = _outcome(
            event,
            problems=problems.get(index, []),
            transport=page.transport,
            test=test,
            sends_tests=sends_tests,
            blocked=blocked,
        )
        varying.append(
            (
                str(psid)[:MAX_PSID_LENGTH],
                _stored_name(event.event),
                _stored_params(event.params),
                _stored_value(event.value),
                event.currency if validation.is_valid_currency(event.currency) else "",
                event.logging_target
                if event.logging_target in validation.LOGGING_TARGETS
                else "page",
                _aware(event.event_time) if isinstance(event.event_time, datetime) else now,
                index,
                status,
                reason,
            )
        )
    rows = _new_rows(
        common={
            "tenant_id": tenant.pk,
            "page_id": page.pk,
            "source": source,
            "source_ref": source_ref,
            "source_flow_version": source_flow_version,
            "source_node": source_node[:100],
            "ad_id": ad_id[:64],
            "api_key_id": api_key.pk if api_key is not None else None,
            "idempotency_key": idempotency_key,
            "test": test,
            "next_attempt_at": now,
            "created_at": now,
        },
        varying=varying,
        related={"tenant": tenant, "page": page, "api_key": api_key},
    )
    try:
        with transaction.atomic():
            created = bulk.insert_rows(rows)  # one INSERT: every row or none
    except IntegrityError:
        # Another request with the same key committed first: answer with its events.
        if idempotency_key is not None and (existing := _logged_with(tenant, idempotency_key)):
            return existing
        raise
    if any(row.status == EventStatus.PENDING for row in created):
        enqueue_delivery(tenant_id=tenant.pk, page_id=page.pk)
    counts = Counter(row.status for row in created)
    logger.info(
        "events.logged",
        extra={
            "tenant_id": tenant.pk,
            "page_id": page.pk,
            "count": len(created),
            "source": source,
            "test": test,
            "blocked": counts[EventStatus.BLOCKED],
            "not_sent": counts[EventStatus.NOT_SENT],
            "kept": counts[EventStatus.KEPT],
        },
    )
    return created


_VARYING = (
    "psid",
    "event",
    "params",
    "value",
    "currency",
    "logging_target",
    "event_time",
    "idempotency_index",
    "status",
    "last_error",
)


def _new_rows(
    *,
    common: Mapping[str, object],
    varying: Sequence[tuple[object, ...]],
    related: Mapping[str, object],
) -> list[LoggedEvent]:
    """New LoggedEvent objects: ``common`` values (by attname) for all, one tuple of
    ``_VARYING`` values each, the other fields their defaults, and ``related`` objects cached
    (``row.page`` needs no query). Positional arguments: Model.__init__'s fast path, which
    sets attributes without the keyword path's descriptors (a third of the CPU of 500 rows)."""
    fields = LoggedEvent._meta.concrete_fields
    names = [field.attname for field in fields]
    given = {**dict.fromkeys(_VARYING), **common}
    template = [
        given[n] if n in given else field.get_default()
        for n, field in zip(names, fields, strict=True)
    ]
    slots = [names.index(name) for name in _VARYING]
    rows = []
    for values in varying:
        args = template.copy()
        for slot, value in zip(slots, values, strict=True):
            args[slot] = value
        row = LoggedEvent(*args)
        row._state.fields_cache.update(related)
        rows.append(row)
    return rows


def _outcome(
    event: EventInput,
    *,
    problems: Sequence[Mapping[str, Any]],
    transport: str,
    test: bool,
    sends_tests: bool,
    blocked: str,
) -> tuple[str, str]:
    """The status a new event starts in, and the reason when it is not ``pending``."""
    if problems:
        return EventStatus.NOT_SENT, " ".join(str(problem["message"]) for problem in problems)
    if kept := validation.kept_reason(event.event, transport):
        return EventStatus.KEPT, kept
    if test and not sends_tests:
        return EventStatus.TEST, validation.TEST_REASON
    if blocked:
        return EventStatus.BLOCKED, blocked
    return EventStatus.PENDING, ""


def _stored_name(event: object) -> str:
    """The event's name as the row keeps it (a not_sent row keeps even a bad name, cut to fit)."""
    name = event if isinstance(event, str) else repr(event)
    return catalog.canonical_event(name)[:EVENT_NAME_MAX_LENGTH]


MAX_STORED_VALUE = Decimal(10) ** 14


def _stored_value(value: object) -> Decimal | None:
    """The value as its column keeps it; a not_sent row's value that is no number is None."""
    if (
        value is None
        or isinstance(value, bool)
        or not isinstance(value, Decimal | int | float | str)
    ):
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    if not number.is_finite() or abs(number) >= MAX_STORED_VALUE:
        return None
    return number


def _stored_params(params: object) -> dict[str, Any]:
    """The parameters as JSON can keep them (a not_sent row's odd values as their text)."""
    if not isinstance(params, Mapping):
        return {}
    return {
        str(key): value if isinstance(value, str | int | float) else str(value)
        for key, value in params.items()
    }


def _logged_with(tenant: Tenant, idempotency_key: str) -> list[LoggedEvent]:
    return list(
        LoggedEvent.objects.for_tenant(tenant)
        .filter(idempotency_key=idempotency_key)
        .order_by("idempotency_index")
    )


def _aware(moment: datetime) -> datetime:
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _problems(
    batch: Sequence[PsidEvents], *, transport: str, now: datetime
) -> dict[int, list[dict[str, Any]]]:
    """Every problem of every event, keyed by the event's index across the batch."""
    found: dict[int, list[dict[str, Any]]] = {}
    index = 0
    for item in batch:
        psid_problem = _psid_problem(item.psid)
        for event in item.events:
            problems = [
                problem.as_dict()
                for problem in validation.validate_event(
                    event=event.event,
                    params=event.params,
                    value=event.value,
                    currency=event.currency or None,
                    transport=transport,
                    logging_target=event.logging_target,
                )
            ]
            if psid_problem:
                problems.insert(0, psid_problem)
            if time_problem := _time_problem(event.event_time, transport=transport, now=now):
                problems.append(time_problem)
            if problems:
                found[index] = problems
            index += 1
    return found


def _psid_problem(psid: object) -> dict[str, str] | None:
    if isinstance(psid, str) and psid.isascii() and psid.isdigit() and len(psid) <= MAX_PSID_LENGTH:
        return None
    return {
        "field": "psid",
        "message": (
            f"{psid!r} is not a page-scoped user id: use the PSID Messenger sent your webhook "
            f"(digits only, at most {MAX_PSID_LENGTH})."
        ),
        "code": "invalid_psid",
    }


def _time_problem(
    event_time: datetime | None, *, transport: str, now: datetime
) -> dict[str, str] | None:
    if event_time is None:
        return None
    moment = _aware(event_time)
    if moment > now + MAX_FUTURE_SKEW:
        return {
            "field": "event_time",
            "message": "The event_time is in the future: send when the event happened, in UTC "
            "or with its offset.",
            "code": "in_future",
        }
    if transport == Transport.CONVERSIONS_API and moment < now - MAX_EVENT_AGE:
        return {
            "field": "event_time",
            "message": "The event happened more than 7 days ago, and the Conversions API "
            "refuses such events. Log events within 7 days.",
            "code": "too_old",
        }
    return None


def events_replay(
    *,
    tenant: Tenant,
    actor: Actor,
    event_ids: Sequence[int] | None = None,
    queryset: QuerySet[LoggedEvent] | None = None,
) -> int:
    """Send ``dead``, ``failed`` and ``blocked`` events of ``tenant`` again; returns how many.

    By ids, or by a queryset (a delivery-log filter); other rows and other tenants' rows are
    left alone. Each goes back to ``pending`` with a fresh retry window in one conditional
    UPDATE, so replaying twice sends once. Delivery is enqueued on commit.
    """
    require_permission(tenant=tenant, actor=actor, permission="event.replay")
    if event_ids is None and queryset is None:
        raise ValueError("events_replay needs event_ids or a queryset")
    rows = LoggedEvent.objects.for_tenant(tenant).filter(status__in=REPLAYABLE_STATUSES)
    if event_ids is not None:
        rows = rows.filter(pk__in=list(event_ids))
    if queryset is not None:
        rows = rows.filter(pk__in=queryset.filter(tenant=tenant).values("pk"))
    now = timezone.now()
    with transaction.atomic():
        page_ids = set(rows.values_list("page_id", flat=True))
        count = rows.update(
            status=EventStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            first_failed_at=None,
            claim_token="",
            last_error="",
            updated_at=now,
        )
        for page_id in sorted(page_ids):
            enqueue_delivery(tenant_id=tenant.pk, page_id=page_id)
        if count:
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.EVENTS_REPLAYED,
                target=f"{count} event{'s' if count != 1 else ''}",
                details={"count": count},
            )
    logger.info(
        "events.replayed", extra={"tenant_id": tenant.pk, "count": count, "actor": actor.label}
    )
    return count


@dataclass(frozen=True)
class MovedEvents:
    """What a transport move did to a Page's waiting events."""

    mapped: int
    kept: int
    not_sent: int


def events_move_transport(
    *, tenant: Tenant, page: ConnectedPage, source: str, target: str
) -> MovedEvents:
    """Carry the Page's waiting events (pending, retrying, blocked) over to ``target``.

    Call it in the transaction that switches ``page`` from ``source`` to ``target``. Events are stored by
    their logical key, so one the new transport carries goes out there under its name there
    (``fb_mobile_purchase`` as ``Purchase``); one it has no name for is ``kept``, and one it
    refuses otherwise is ``not_sent``, each with the reason. Delivery is enqueued on commit.
    """
    waiting = LoggedEvent.objects.for_tenant(tenant).filter(
        page=page, status__in=(EventStatus.PENDING, EventStatus.RETRYING, EventStatus.BLOCKED)
    )
    outcomes: dict[tuple[str, tuple[str, ...], str], transport_status.EventMove] = {}
    ids: dict[tuple[str, str], list[int]] = {}
    rows = waiting.order_by().values_list("pk", "event", "params", "logging_target")
    for pk, event, params, logging_target in rows.iterator(chunk_size=2000):
        key = (event, tuple(sorted(params or {})), logging_target)
        if key not in outcomes:
            outcomes[key] = transport_status.event_move(
                event=event,
                target=target,
                source=source,
                params=dict.fromkeys(key[1], "{{value}}"),
                logging_target=logging_target,
                templated=True,
            )
        move = outcomes[key]
        ids.setdefault((move.outcome, move.message), []).append(pk)
    counts = Counter[str]()
    now = timezone.now()
    for (outcome, message), pks in ids.items():
        if outcome == transport_status.MAPS:
            counts[outcome] += len(pks)
            continue
        status, reason = (
            (EventStatus.KEPT, message)
            if outcome == transport_status.CANNOT_MAP
            else (EventStatus.NOT_SENT, message)
        )
        counts[outcome] += waiting.filter(pk__in=pks).update(
            status=status, last_error=reason, claim_token="", updated_at=now
        )
    if counts[transport_status.MAPS]:
        enqueue_delivery(tenant_id=tenant.pk, page_id=page.pk)
    return MovedEvents(
        mapped=counts[transport_status.MAPS],
        kept=counts[transport_status.CANNOT_MAP],
        not_sent=counts[transport_status.NEEDS_CHANGE],
    )


FORGOTTEN_PSID = ""
FORGOTTEN_REASON = (
    "Not sent: this Messenger user's data was deleted at the workspace's request, so Pagepulse "
    "no longer knows whom the event was about."
)


@transaction.atomic
def events_forget_person(*, tenant: Tenant, page_id: int, psid: str) -> dict[str, int]:
    """Remove a Messenger user's PSID from the workspace's events of that Page and from the
    requests recorded for them (messenger.people.person_delete). Events stay, so counts and
    revenue stay true; those not yet sent are kept unsent (status ``kept``, with the reason),
    since nobody could be named to Facebook any more. Returns what changed."""
    mine = LoggedEvent.objects.for_tenant(tenant).filter(page_id=page_id, psid=psid)
    unsent = mine.exclude(status__in=[EventStatus.DELIVERED, EventStatus.SENDING]).exclude(
        status__in=UNSENT_STATUSES
    )
    kept = unsent.update(
        status=EventStatus.KEPT,
        last_error=FORGOTTEN_REASON,
        updated_at=timezone.now(),
    )
    attempts = list(
        DeliveryAttempt.objects.for_tenant(tenant)
        .filter(events__in=mine)
        .distinct()
        .only("id", "request", "response")
    )
    for attempt in attempts:
        attempt.request = _without(attempt.request, psid)
        attempt.response = _without(attempt.response, psid)
    DeliveryAttempt.objects.bulk_update(attempts, ["request", "response"])
    forgotten = mine.update(psid=FORGOTTEN_PSID, updated_at=timezone.now())
    return {"events": forgotten, "kept_unsent": kept, "attempts_scrubbed": len(attempts)}


def _without(value: Any, psid: str) -> Any:
    """``value`` (a recorded request or response) with the PSID replaced wherever it appears."""
    if value is None or not psid:
        return value
    return json.loads(json.dumps(value).replace(psid, "[deleted]"))
