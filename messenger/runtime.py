"""The bot runtime: webhook deliveries routed to conversations, one turn at a time, and handoffs.

- flows/intake.py stores a signed delivery and has ``flows.tasks.drain_deliveries`` (queue
  ``runtime``) process new ones in batches; ``delivery_process`` routes one delivery (retries
  and the sweep run it alone, as ``flows.tasks.process_delivery``).
- Routing: an entry's Page id finds the one workspace where the Page is connected (a database
  constraint allows no second one, docs/adr/0009-one-workspace-per-page.md), read at most
  once a second by each worker process (``ROUTES``: a disconnect is seen within it); entries of
  unknown or disconnected Pages are recorded on the delivery and ignored. Echoes (``message.is_echo``, or a sender that is the Page), ``standby`` and other
  fields (reads, deliveries, reactions) are ignored. A delivery's items are grouped by Page and
  PSID, each group handled in timestamp order under a Redis lock for that person, so one
  conversation runs one turn at a time, in order. A person whose lock stays busy makes the
  delivery retry later; what already ran is skipped then.
- Dedupe: each item's ``mid`` (a postback's ``mid``; a referral has none, so its sender,
  timestamp and ref) is written as a ``ProcessedMessage`` in the same transaction as the turn,
  so a repeated delivery runs the flow once and a turn that rolled back runs again.
- Which flow (README "Runtime"): a postback or referral whose ``ref`` is a published ref flow's
  starts it; else the Get Started postback (payload ``GET_STARTED``) starts the get-started
  flow; these restart an open conversation. Otherwise an open conversation continues (a text,
  a quick reply or a postback is the answer to the block it waits at: an ``ask``, or a
  ``send_message`` whose quick reply or button handles are connected; a postback button's
  payload is matched first). With no open conversation, a text
  or quick reply containing a keyword (case-insensitive, as whole words: "Pricing?" and "what
  is your pricing" match ``pricing``, "pricingplan" does not; the longest keyword wins) starts
  its flow, and else the default-reply flow answers. A handed-off conversation runs nothing
  until an agent resolves it (``handoff_resolve``).
- A turn (``conversation_apply``): the interpreter's new state, its ``OutboundMessage`` rows in
  order, its events through ``events.services.log_events`` (idempotency key
  ``conv:<conversation>:<node>:<step>``; each carries the version, node and the conversation's
  ``ad_id``), its handoff flag and its funnel counts (flows/counters.py, one upsert) are
  written in one transaction. The flow's published version is read once per process
  (``published_version``: a version is never edited). The worker that ran the turn sends its messages as soon as it
  commits and the person's lock is let go (messenger/sending.py): no task hop between a
  person's message and the answer. What cannot go at once (the Page's send rate, another
  worker sending to the same person, an error) goes by ``flows.tasks.send_conversation``,
  which also sends what an agent's hand-back starts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from redis.exceptions import LockError

from events.models import EventSource
from events.ratelimit import redis_client, redis_key
from events.services import log_events
from flows import counters, interpreter
from flows.blocks.steps import POSTBACK, QUICK_REPLY, REFERRAL, START, TEXT
from flows.conversations import conversation_state, event_input, system_variables
from flows.models import (
    GET_STARTED_PAYLOAD,
    Conversation,
    ConversationStatus,
    Flow,
    FlowStatus,
    FlowVersion,
    TriggerKind,
)
from graph_api.redaction import redact
from messenger import intake, sending, transcripts
from messenger.models import OutboundMessage, OutboundStatus, ProcessedMessage, WebhookDelivery
from tenants.api.parsers import json_depth_exceeds, too_deep_message
from tenants.exceptions import Conflict, NotFound
from tenants.models import AuditAction, ConnectedPage, PageStatus, Tenant
from tenants.services import Actor
from tenants.services.workspaces import audit_record, require_permission

logger = logging.getLogger(__name__)

LOCK_PREFIX = "pagepulse:flows:conversation"
LOCK_TIMEOUT_SECONDS = 60
"""A conversation's lock expires by itself this long after a worker died holding it."""
LOCK_WAIT_SECONDS = 5.0
"""How long a worker waits for a busy conversation before retrying the delivery later."""
BUSY_RETRY_SECONDS = 2
MAX_DELIVERY_ATTEMPTS = 20
"""A delivery still not processed after this many runs is given up, with the error kept."""
MAX_ERROR_LENGTH = 1000
STALE_SECONDS = 120
"""The sweep re-enqueues pending messages older than this (a lost task)."""
MAX_KEY_LENGTH = 255
TEST_CHAT_REASON = "A test chat: shown in the editor, not sent to Messenger."


# --- Enqueueing after commit ----------------------------------------------------------------


def enqueue(task_name: str, *args: int, countdown: float = 0) -> None:
    """Send ``flows.tasks.<task_name>(*args)`` once the current transaction commits.

    The one helper that wraps ``transaction.on_commit`` for the runtime: nothing is enqueued
    for a transaction that rolled back, and a broker failure is logged, not raised (the sweep
    finds the rows). ``countdown`` is capped at ``CELERY_MAX_COUNTDOWN_SECONDS``.
    """
    transaction.on_commit(
        functools.partial(_apply_async, task_name, args, countdown=countdown), robust=True
    )


def _apply_async(task_name: str, args: tuple[int, ...], *, countdown: float) -> None:
    from messenger import tasks  # the task module imports this one

    countdown = min(max(countdown, 0.0), float(settings.CELERY_MAX_COUNTDOWN_SECONDS))
    task = getattr(tasks, task_name)
    if countdown > 0:
        task.apply_async(args=args, countdown=countdown)
    else:
        task.apply_async(args=args)


# --- One person at a time -------------------------------------------------------------------


class ConversationBusy(Exception):
    """Another worker holds this person's conversation; try again shortly."""


@contextmanager
def conversation_lock(page: ConnectedPage, psid: str, *, wait: float = 0) -> Iterator[None]:
    """Hold the Redis lock of one Page's conversation with ``psid`` (raises ConversationBusy).

    ``wait`` 0 does not wait at all (request code); a worker may wait a few seconds.
    """
    lock = redis_client().lock(
        redis_key(f"{LOCK_PREFIX}:{page.pk}:{psid}"),
        timeout=LOCK_TIMEOUT_SECONDS,
        blocking=wait > 0,
        blocking_timeout=wait if wait > 0 else None,
    )
    if not lock.acquire():
        raise ConversationBusy(f"conversation {page.pk}/{psid} is busy")
    try:
        yield
    finally:
        with suppress(LockError):  # it expired while we worked: nothing to release
            lock.release()


# --- Receiving and parsing deliveries -------------------------------------------------------


AD_SOURCE = "ADS"
ADS_CONTEXT_FIELDS = ("ad_title", "photo_url", "video_url", "post_id", "product_id", "flow_id")
MAX_CONTEXT_CHARS = 2000
PENDING_AD_PREFIX = "pagepulse:flows:pending-ad"
PENDING_AD_SECONDS = 24 * 3600
"""An ad referral that started no conversation (no flow answers a bare referral) waits this
long for the person's next message, whose conversation it is then attributed to."""


@dataclass(frozen=True)
class Referral:
    """A ``referral`` object of the webhook (reference §6.4): an m.me link, a QR code, or a
    click-to-Messenger ad (``source`` "ADS", with ``ad_id`` and ``ads_context_data``)."""

    source: str
    type: str
    ref: str
    ad_id: str = ""
    ads_context: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_ad(self) -> bool:
        return self.source == AD_SOURCE and bool(self.ad_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "type": self.type,
            "ref": self.ref,
            "ad_id": self.ad_id,
            "ads_context": dict(self.ads_context),
        }


def parse_referral(raw: object) -> Referral | None:
    """The referral of a ``messaging_referrals`` item, a postback or a message, or None."""
    if not isinstance(raw, Mapping):
        return None
    context = raw.get("ads_context_data")
    ads_context = (
        {
            name: _text(context.get(name))[:MAX_CONTEXT_CHARS]
            for name in ADS_CONTEXT_FIELDS
            if context.get(name) not in (None, "")
        }
        if isinstance(context, Mapping)
        else {}
    )
    return Referral(
        source=_text(raw.get("source"))[:32],
        type=_text(raw.get("type"))[:32],
        ref=_text(raw.get("ref"))[:255],
        ad_id=_text(raw.get("ad_id"))[:64],
        ads_context=ads_context,
    )


@dataclass(frozen=True)
class Item:
    """One messaging item of a delivery the runtime acts on."""

    page_id: str  # Facebook's id of the Page
    psid: str
    key: str  # what dedupes it: the mid, or a referral's sender, time and ref
    timestamp_ms: int
    incoming: interpreter.Incoming
    referral: Referral | None = None  # where the person came from, when Facebook says
    mid: str = ""  # Facebook's message id ("" for a referral)
    attachments: tuple[dict[str, str], ...] = ()  # [{type, url}] of a message


@dataclass
class DeliveryReport:
    """What one run of ``delivery_process`` did."""

    ran: int = 0
    duplicates: int = 0
    paused: int = 0  # handed-off conversations
    unanswered: int = 0  # no open conversation and no trigger matched
    ignored: int = 0  # echoes, standby, reads, deliveries, reactions, unrouted entries
    busy: int = 0  # people whose conversation was locked: the delivery retries
    failed: int = 0  # people whose turn raised (or the whole run): retried with back-off
    unrouted: list[dict[str, str]] = field(default_factory=list)
    error: str = ""

    @property
    def retry(self) -> bool:
        return self.busy > 0


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _dedupe_key(value: str) -> str:
    if len(value) <= MAX_KEY_LENGTH:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def parse_item(page_id: str, raw: object) -> Item | None:
    """The item for one element of an entry's ``messaging`` array, or None to ignore it."""
    if not isinstance(raw, Mapping):
        return None
    sender = raw.get("sender")
    psid = _text(sender.get("id")) if isinstance(sender, Mapping) else ""
    if not psid or psid == page_id:  # the Page itself: an echo
        return None
    timestamp = raw.get("timestamp")
    timestamp_ms = (
        timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else 0
    )
    message, postback, referral = raw.get("message"), raw.get("postback"), raw.get("referral")
    mid = ""
    came_from: Referral | None = None
    attachments: tuple[dict[str, str], ...] = ()
    if isinstance(message, Mapping):
        if message.get("is_echo"):
            return None
        mid = _text(message.get("mid"))
        came_from = parse_referral(message.get("referral"))  # a new thread's first message
        attachments = tuple(transcripts.attachments_of(message.get("attachments")))
        quick_reply = message.get("quick_reply")
        if isinstance(quick_reply, Mapping) and quick_reply.get("payload") is not None:
            incoming = interpreter.Incoming(
                kind=QUICK_REPLY,
                text=_text(message.get("text")),
                payload=_text(quick_reply.get("payload")),
            )
        else:  # text, or only attachments (an empty answer)
            incoming = interpreter.Incoming(kind=TEXT, text=_text(message.get("text")))
    elif isinstance(postback, Mapping):
        mid = _text(postback.get("mid"))
        ref = postback.get("referral")
        came_from = parse_referral(ref)
        incoming = interpreter.Incoming(
            kind=POSTBACK,
            text=_text(postback.get("title")),
            payload=_text(postback.get("payload")),
            ref=_text(ref.get("ref")) if isinstance(ref, Mapping) else "",
        )
    elif isinstance(referral, Mapping):
        came_from = parse_referral(referral)
        incoming = interpreter.Incoming(kind=REFERRAL, ref=_text(referral.get("ref")))
    else:  # message_deliveries, message_reads, reactions, optins, ...
        return None
    key = mid or f"{incoming.kind}:{psid}:{timestamp_ms}:{incoming.ref}"
    return Item(
        page_id=page_id,
        psid=psid,
        key=_dedupe_key(key),
        timestamp_ms=timestamp_ms,
        incoming=incoming,
        referral=came_from,
        mid=mid[:MAX_KEY_LENGTH],
        attachments=attachments,
    )


_ROUTE_RANK: dict[str, int] = {PageStatus.ACTIVE: 0, PageStatus.DISCONNECTED: 2}  # others: 1


def _route_page(page_id: str) -> tuple[ConnectedPage | None, str]:
    """The connected Page for Facebook's Page id, or None and why not: an active connection
    first, then the newest. One row for each workspace that ever connected the Page (active in
    one at most), so a handful, ranked here: a CASE to sort by cost more to build than this."""
    pages = sorted(
        ConnectedPage.objects.select_related("tenant").filter(page_id=page_id),
        key=lambda page: (
            _ROUTE_RANK.get(page.status, 1),
            -page.connected_at.timestamp(),
            -page.pk,
        ),
    )
    if not pages:
        return None, "unknown_page"
    if pages[0].status == PageStatus.DISCONNECTED:
        return None, "disconnected_page"
    return pages[0], ""


ROUTE_SECONDS = 1.0
"""How long a worker process reuses a Page it routed: its deliveries mostly come from a few
Pages, and each lookup (a join with the workspace) was a tenth of a turn's CPU."""
MAX_ROUTED_PAGES = 1000


class PageRoutes:
    """The connected Page of each Facebook Page id, read at most once a second (``ROUTES``,
    one per worker process); a Page disconnected meanwhile is seen within that second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[str, tuple[float, tuple[ConnectedPage | None, str]]] = {}

    def route(self, page_id: str) -> tuple[ConnectedPage | None, str]:
        now = self._clock()
        seen = self._seen.get(page_id)
        if seen is None or now - seen[0] > ROUTE_SECONDS:
            if seen is None and len(self._seen) >= MAX_ROUTED_PAGES:
                self._seen.clear()  # any id a signed delivery names is looked up: bounded
            seen = self._seen[page_id] = (now, _route_page(page_id))
        return seen[1]


ROUTES = PageRoutes()
"""The process's routes, shared by its drains (``intake.deliveries_drain``)."""


def _list(value: object) -> list[Any]:
    """A JSON array of the delivery, or nothing for anything else (a signed body may still hold
    a shape the reference never shows; it is ignored, not a crash that stops the rest)."""
    return value if isinstance(value, list) else []


def delivery_process(*, delivery_id: int, routes: PageRoutes | None = None) -> DeliveryReport:
    """Route every item of a stored delivery; idempotent (processed items are skipped).
    ``routes``: the process's Pages (``ROUTES``), which a drain shares; a retry reads its own.

    Whatever goes wrong, the delivery ends: a body that is not a Messenger delivery (not JSON,
    nested too deep, another object) at once, with the reason; a person whose turn raised is
    retried with back-off while the others' turns go on, and after ``MAX_DELIVERY_ATTEMPTS``
    runs the delivery is given up with the error kept (flows admin, "Webhook deliveries").
    """
    report = DeliveryReport()
    delivery = _delivery_take(delivery_id)
    if delivery is None:
        delivery = WebhookDelivery.objects.filter(pk=delivery_id, processed_at__isnull=True).first()
        if delivery is None:
            return report
        # Every run so far died before it ended.
        report.error = (
            f"Gave up after {delivery.attempts} runs that never finished (the worker stopped "
            f"during each). Last error: {delivery.error or 'none recorded'}"
        )
        _finish(delivery, report)
        return report
    attempt = delivery.attempts
    try:
        _route_delivery(delivery, report, routes or PageRoutes())
    except Exception as error:  # a failure before any turn ran: retried, bounded, recorded
        logger.exception("messenger.runtime.delivery_failed", extra={"delivery_id": delivery.pk})
        report.failed += 1
        report.error = describe_failure(error)
    for unrouted in report.unrouted:
        logger.info("messenger.runtime.unrouted", extra={"delivery_id": delivery.pk, **unrouted})
    if (report.retry or report.failed) and attempt < MAX_DELIVERY_ATTEMPTS:
        countdown = (
            min(BUSY_RETRY_SECONDS * 2 ** (attempt - 1), settings.CELERY_MAX_COUNTDOWN_SECONDS)
            if report.failed
            else BUSY_RETRY_SECONDS
        )
        # Held until the retry has had its chance; a lost retry task is drained after that.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            error=report.error, claimed_until=intake.lease_until(after=countdown)
        )
        enqueue("process_delivery", delivery.pk, countdown=countdown)
        return report
    if report.failed:
        report.error = f"Gave up after {attempt} attempts. Last error: {report.error}"
    elif report.retry:
        report.error = (
            f"{report.busy} conversation(s) stayed busy for {MAX_DELIVERY_ATTEMPTS} runs."
        )
    _finish(delivery, report)
    return report


def _delivery_take(delivery_id: int) -> WebhookDelivery | None:
    """Count this run and hold the delivery (a drain's claim may have been taken by a retry's
    task) in one ``UPDATE ... RETURNING``; None when it is processed or has had its runs.
    The returned delivery's ``attempts`` counts this run."""
    table = connection.ops.quote_name(WebhookDelivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET attempts = attempts + 1, claimed_until = %s "  # noqa: S608
            "WHERE id = %s AND processed_at IS NULL AND attempts < %s RETURNING body, attempts",
            [intake.lease_until(), delivery_id, MAX_DELIVERY_ATTEMPTS],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return WebhookDelivery(pk=delivery_id, body=row[0], attempts=row[1])


NOT_A_DELIVERY = "Not a Messenger delivery: the body is not JSON with object=page."


def delivery_payload(body: bytes) -> tuple[Mapping[str, Any] | None, str]:
    """The parsed delivery, or None and why it is not one (never raises)."""
    if json_depth_exceeds(body):
        return None, f"Not a Messenger delivery: {too_deep_message()}"
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None, NOT_A_DELIVERY
    if not isinstance(payload, Mapping) or payload.get("object") != "page":
        return None, NOT_A_DELIVERY
    return payload, ""


def describe_failure(error: BaseException) -> str:
    """What a failed run records on the delivery: the exception, secrets removed, bounded."""
    return redact(f"{type(error).__name__}: {error}")[:MAX_ERROR_LENGTH]


def _route_delivery(delivery: WebhookDelivery, report: DeliveryReport, routes: PageRoutes) -> None:
    payload, problem = delivery_payload(bytes(delivery.body))
    if payload is None:
        report.error = problem
        return

    groups: dict[tuple[int, str], list[Item]] = {}
    pages: dict[str, tuple[ConnectedPage | None, str]] = {}
    entries = payload.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            report.ignored += 1
            continue
        page_id = _text(entry.get("id"))
        messaging = _list(entry.get("messaging"))
        report.ignored += len(_list(entry.get("standby")))  # threads another app owns
        if page_id not in pages:
            pages[page_id] = routes.route(page_id)
        page, reason = pages[page_id]
        if page is None:
            report.unrouted.append({"page_id": page_id, "reason": reason})
            report.ignored += len(messaging)
            continue
        for raw in messaging:
            item = parse_item(page_id, raw)
            if item is None:
                report.ignored += 1
            else:
                groups.setdefault((page.pk, item.psid), []).append(item)

    routed = {page.pk: page for page, _ in pages.values() if page is not None}
    for (page_pk, psid), items in groups.items():
        page = routed[page_pk]
        answered: list[Conversation] = []  # committed turns' conversations with messages to send
        try:
            with conversation_lock(page, psid, wait=LOCK_WAIT_SECONDS):
                for item in sorted(items, key=lambda i: i.timestamp_ms):
                    _count(report, _handle(page, item, delivery_id=delivery.pk, sends=answered))
        except ConversationBusy:
            report.busy += 1
        except Exception as error:  # one person's failing turn must not stop the others'
            logger.exception(
                "messenger.runtime.turn_failed", extra={"delivery_id": delivery.pk, "page": page.pk}
            )
            report.failed += 1
            report.error = describe_failure(error)
        for conversation in {c.pk: c for c in answered}.values():  # once each, in order
            send_now(conversation)


def _count(report: DeliveryReport, outcome: str) -> None:
    setattr(report, outcome, getattr(report, outcome) + 1)


def _finish(delivery: WebhookDelivery, report: DeliveryReport) -> None:
    """The delivery is done: one UPDATE, written out as ``_delivery_take`` is (the queryset's
    was compiled for every delivery)."""
    table = connection.ops.quote_name(WebhookDelivery._meta.db_table)
    unrouted = WebhookDelivery._meta.get_field("unrouted").get_db_prep_save(
        report.unrouted, connection
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET processed_at = %s, error = %s, unrouted = %s "  # noqa: S608
            "WHERE id = %s",
            [timezone.now(), report.error, unrouted, delivery.pk],
        )
    logger.info(
        "messenger.runtime.delivery_processed",
        extra={
            "delivery_id": delivery.pk,
            "ran": report.ran,
            "duplicates": report.duplicates,
            "ignored": report.ignored,
            "unrouted": len(report.unrouted),
        },
    )


# --- Which flow answers ---------------------------------------------------------------------


def keyword_match(text: str, keywords: Sequence[str]) -> str | None:
    """The longest keyword found in ``text`` as whole words, case-insensitively, or None."""
    folded = text.casefold()
    for keyword in sorted(keywords, key=len, reverse=True):
        word = keyword.casefold().strip()
        if word and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", folded):
            return keyword
    return None


def triggered_flow(
    page: ConnectedPage, incoming: interpreter.Incoming, *, conversation_open: bool
) -> Flow | None:
    """The published flow of the Page this message starts, or None (see the module docstring)."""
    interrupts = (incoming.kind in (POSTBACK, REFERRAL) and incoming.ref) or (
        incoming.kind == POSTBACK and incoming.payload == GET_STARTED_PAYLOAD
    )
    if conversation_open and not interrupts:
        return None  # an answer in an open conversation: no flow to read
    flows = list(
        Flow.objects.for_tenant(page.tenant)
        .filter(page=page, status=FlowStatus.PUBLISHED)
        .order_by("pk")
        .only("pk", "trigger_kind", "trigger_keywords", "trigger_ref", "tenant_id", "page_id")
    )

    def first(kind: str) -> Flow | None:
        return next((flow for flow in flows if flow.trigger_kind == kind), None)

    if incoming.kind in (POSTBACK, REFERRAL) and incoming.ref:
        for flow in flows:
            if flow.trigger_kind == TriggerKind.REF and flow.trigger_ref == incoming.ref:
                return flow
    get_started = first(TriggerKind.GET_STARTED)
    if incoming.kind == POSTBACK and incoming.payload == GET_STARTED_PAYLOAD and get_started:
        return get_started
    if conversation_open:
        return None
    if incoming.kind in (TEXT, QUICK_REPLY):
        best: tuple[int, Flow] | None = None
        for flow in flows:
            if flow.trigger_kind != TriggerKind.KEYWORDS:
                continue
            found = keyword_match(incoming.text, flow.trigger_keywords)
            if found is not None and (best is None or len(found) > best[0]):
                best = (len(found), flow)
        if best is not None:
            return best[1]
    if incoming.kind in (TEXT, QUICK_REPLY, POSTBACK):
        return first(TriggerKind.DEFAULT)
    return None


def _latest_version(flow: Flow) -> FlowVersion | None:
    latest = (
        FlowVersion.objects.filter(tenant_id=flow.tenant_id, flow=flow)
        .order_by("-number")
        .values_list("pk", flat=True)
        .first()
    )
    return published_version(latest) if latest is not None else None


MAX_CACHED_VERSIONS = 1000
_versions: dict[int, FlowVersion] = {}


def published_version(version_id: int) -> FlowVersion | None:
    """A published version, read from the database once per process: a version is never
    edited once written (flows.models.FlowVersion), and every turn needs its document. None
    when it is gone (its flow was deleted). Keeps the last ``MAX_CACHED_VERSIONS`` read."""
    version = _versions.get(version_id)
    if version is None:
        version = FlowVersion.objects.filter(pk=version_id).first()
        if version is None:
            return None
        if len(_versions) >= MAX_CACHED_VERSIONS:
            del _versions[next(iter(_versions))]  # the oldest read
        _versions[version_id] = version
    return version


# --- A turn -----------------------------------------------------------------------------------


def referral_record(conversation: Conversation, referral: Referral, *, at: datetime) -> None:
    """Keep where the person came from on the conversation (saved with the turn): any
    referral's source, type and ref; an ad's id and ``ads_context_data`` (an ad referral
    replaces an earlier one: the last ad clicked gets the events that follow)."""
    conversation.referral_source = referral.source
    conversation.referral_type = referral.type
    conversation.referral_ref = referral.ref
    conversation.referred_at = at
    if referral.is_ad:
        conversation.ad_id = referral.ad_id
        conversation.ads_context = dict(referral.ads_context)


def _pending_ad_key(page: ConnectedPage, psid: str) -> str:
    return f"{PENDING_AD_PREFIX}:{page.pk}:{psid}"


def _pending_ad_keep(page: ConnectedPage, psid: str, referral: Referral) -> None:
    """An ad referral no conversation took: the person's next conversation gets it."""
    redis_client().set(
        _pending_ad_key(page, psid), json.dumps(referral.as_json()), ex=PENDING_AD_SECONDS
    )


def pending_ad_forget(page: ConnectedPage, psid: str) -> None:
    """Forget the person's waiting ad referral (their data is being deleted). Redis errors
    propagate: the caller says what was not done."""
    redis_client().delete(_pending_ad_key(page, psid))


def _pending_ad_take(page: ConnectedPage, psid: str) -> Referral | None:
    """The person's waiting ad referral; it is forgotten once the turn that took it commits."""
    key = _pending_ad_key(page, psid)
    raw = redis_client().get(key)
    if not raw:
        return None
    transaction.on_commit(lambda: redis_client().delete(key), robust=True)
    with suppress(ValueError, TypeError, AttributeError):
        data = json.loads(raw)
        return Referral(
            source=str(data["source"]),
            type=str(data["type"]),
            ref=str(data["ref"]),
            ad_id=str(data["ad_id"]),
            ads_context={str(k): str(v) for k, v in dict(data["ads_context"]).items()},
        )
    return None


def _plain(value: Any) -> Any:
    """JSON-ready copies of the interpreter's read-only mappings and tuples."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _log_event(conversation: Conversation, effect: interpreter.LogEvent) -> None:
    """Log the block's event in the turn's transaction. Nothing is dropped: an event the Page
    cannot send (a name its transport refuses, a variable that filled in as no number, ...)
    is written ``not_sent`` with the reason, a custom one on the Conversions API ``kept``."""
    version_pk = conversation.flow_version_id or "draft"
    log_events(
        tenant=conversation.tenant,
        page=conversation.page,
        psid=conversation.psid,
        events=[event_input(effect)],
        source=EventSource.FLOW,
        source_ref=f"{version_pk}:{effect.node_id}",
        source_flow_version=conversation.flow_version_id,
        source_node=effect.node_id,
        ad_id=conversation.ad_id,
        idempotency_key=f"conv:{conversation.pk}:{effect.node_id}:{effect.step}",
        test=conversation.is_test,
        record_unsendable=True,
    )


def conversation_apply(
    conversation: Conversation,
    result: interpreter.Result,
    *,
    now: datetime | None = None,
    send_after_commit: bool = True,
) -> list[OutboundMessage]:
    """Write one turn: new state, messages to send (in order), events, handoff; the caller's
    transaction holds it all. The messages are sent by a task queued after commit, or, with
    ``send_after_commit=False``, by the caller once it committed (``send_now``)."""
    now = now or timezone.now()
    next_seq = conversation.outbound_seq + 1
    outbound: list[OutboundMessage] = []
    for effect in result.effects:
        if isinstance(effect, interpreter.SendMessage):
            outbound.append(
                OutboundMessage(
                    tenant_id=conversation.tenant_id,
                    conversation=conversation,
                    seq=next_seq + len(outbound),
                    node_id=effect.node_id,
                    message=_plain(effect.message),
                    # A test chat's replies are shown in the editor, never sent to Facebook.
                    status=OutboundStatus.SKIPPED
                    if conversation.is_test
                    else OutboundStatus.PENDING,
                    reason=TEST_CHAT_REASON if conversation.is_test else "",
                )
            )
        elif isinstance(effect, interpreter.LogEvent):
            _log_event(conversation, effect)
        elif isinstance(effect, interpreter.Handoff):
            conversation.handoff_note = effect.note
            conversation.handed_off_at = now
            conversation.handoff_resolved_at = None
            conversation.handoff_resolved_by = None
            conversation.paused_status = ""
            if not conversation.is_test:
                enqueue("handoff_notify", conversation.pk)
    state = result.state
    conversation.node_id = state.node_id or ""
    conversation.variables = dict(state.variables)
    conversation.step = state.step
    conversation.status = state.status
    conversation.retries = state.retries
    conversation.outbound_seq += len(outbound)
    if state.status == ConversationStatus.ENDED and conversation.ended_at is None:
        conversation.ended_at = now
    conversation.save()
    if not conversation.is_test:
        counters.turn_record(
            tenant_id=conversation.tenant_id,
            flow_version_id=conversation.flow_version_id,
            turn=counters.TurnPath(
                entered=result.entered,
                exits=result.exits,
                status=state.status,
                node_id=state.node_id,
            ),
            now=now,
        )
    if outbound:
        OutboundMessage.objects.bulk_create(outbound)
        if not conversation.is_test and send_after_commit:
            enqueue("send_conversation", conversation.pk)
    return outbound


def send_now(conversation: Conversation) -> None:
    """Send a conversation's pending messages from this worker, right after the turn committed
    (``conversation`` as the turn left it, with its Page and workspace); what cannot go now
    (the Page's send rate, another worker sending to the person) and any failure are left to
    ``flows.tasks.send_conversation``. Never raises."""
    conversation_id = conversation.pk
    try:
        report = sending.conversation_send(
            conversation_id=conversation_id, conversation=conversation
        )
    except Exception:  # the task tries again; the sweep finds pending messages in any case
        logger.exception(
            "messenger.runtime.send_failed", extra={"conversation_id": conversation_id}
        )
        report = sending.SendReport(retry_in=BUSY_RETRY_SECONDS)
    if report.retry_in > 0:
        try:
            _apply_async("send_conversation", (conversation_id,), countdown=report.retry_in)
        except Exception:  # the broker: the sweep re-enqueues messages left pending
            logger.warning("messenger.runtime.send_not_queued", exc_info=True)


WEBHOOK_MAX_AGE = timedelta(hours=36)
"""Facebook drops a delivery it could not hand over within 36 hours (reference §6.3)."""


def _moment(timestamp_ms: int, now: datetime) -> datetime:
    """The item's time, which opens the 24-hour window: never in the future, and ``now`` for
    a time no delivery from Facebook can carry (missing, in seconds rather than milliseconds,
    or older than Facebook keeps retrying), so a bad clock cannot silence the bot."""
    if timestamp_ms <= 0:
        return now
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    if moment < now - WEBHOOK_MAX_AGE:
        return now
    return min(moment, now)


def _transcribe(
    page: ConnectedPage, item: Item, conversation: Conversation | None, at: datetime
) -> None:
    """The item in the person's transcript, in the turn's transaction (messenger/transcripts.py)."""
    transcripts.message_record_inbound(
        page=page,
        psid=item.psid,
        conversation=conversation,
        kind=item.incoming.kind,
        text=item.incoming.text,
        payload=item.incoming.payload,
        attachments=item.attachments,
        referral=item.referral.as_json() if item.referral is not None else None,
        mid=item.mid,
        sent_at=at,
    )


def _end(conversation: Conversation, now: datetime) -> None:
    conversation.status = ConversationStatus.ENDED
    conversation.ended_at = now
    conversation.save(update_fields=["status", "ended_at", "updated_at"])


_MARK_PROCESSED = (
    f"INSERT INTO {ProcessedMessage._meta.db_table} (page_id, mid, delivery_id, processed_at) "  # noqa: S608
    "VALUES (%s, %s, %s, %s) ON CONFLICT (page_id, mid) DO NOTHING RETURNING id"
)


def _mark_processed(item: Item, *, delivery_id: int | None, at: datetime) -> bool:
    """Record the item's key in the turn's transaction; False when it ran before (a repeated
    delivery). One statement: a savepoint around a plain INSERT would cost three."""
    with connection.cursor() as cursor:
        cursor.execute(_MARK_PROCESSED, [item.page_id, item.key, delivery_id, at])
        return cursor.fetchone() is not None


_OPEN_CONVERSATION = (
    f"SELECT * FROM {Conversation._meta.db_table} "  # noqa: S608 (the model's own names)
    "WHERE tenant_id = %s AND page_id = %s AND psid = %s AND NOT is_test AND status <> %s"
)


def _open_conversation(page: ConnectedPage, psid: str) -> Conversation | None:
    """The person's open conversation on the Page, locked for the turn (at most one:
    ``conversation_one_open_per_user``; SQLite, which has no row locks, holds the whole
    database). Written out: the queryset's compiler was a fourteenth of a turn's CPU for this
    one fixed statement."""
    sql = _OPEN_CONVERSATION
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    found = Conversation.objects.raw(sql, [page.tenant_id, page.pk, psid, ConversationStatus.ENDED])
    return next(iter(found), None)


def _handle(
    page: ConnectedPage, item: Item, *, delivery_id: int | None, sends: list[Conversation]
) -> str:
    """Run one item in one transaction; returns the DeliveryReport counter it adds to, and adds
    the conversation to ``sends`` when the turn has messages for the caller to send once the
    transaction committed (the drain runs outside any transaction, so it has when this returns)."""
    now = timezone.now()
    with transaction.atomic():
        if not _mark_processed(item, delivery_id=delivery_id, at=now):
            return "duplicates"
        conversation = _open_conversation(page, item.psid)
        if conversation is not None:  # the routed Page, with its workspace: no second read
            conversation.page, conversation.tenant = page, page.tenant
            if conversation.flow_version_id is not None:  # None: the version is gone too
                conversation.flow_version = published_version(conversation.flow_version_id)
        at = _moment(item.timestamp_ms, now)
        if conversation is not None and conversation.flow_version_id is None:
            _end(conversation, now)  # its flow was deleted
            conversation = None
        if conversation is not None and conversation.status == ConversationStatus.HANDED_OFF:
            conversation.last_user_message_at = at
            if item.referral is not None:
                referral_record(conversation, item.referral, at=at)
            conversation.save()
            _transcribe(page, item, conversation, at)
            return "paused"
        flow = triggered_flow(page, item.incoming, conversation_open=conversation is not None)
        version = _latest_version(flow) if flow is not None else None
        incoming = item.incoming
        if version is not None:
            if conversation is not None:
                _end(conversation, now)
            conversation = Conversation.objects.create(
                tenant=page.tenant,
                page=page,
                psid=item.psid,
                flow_id=version.flow_id,
                flow_version=version,
                status=ConversationStatus.ACTIVE,
            )
            incoming = replace(incoming, kind=START)
            pending = _pending_ad_take(page, item.psid) if item.referral is None else None
            if pending is not None:
                referral_record(conversation, pending, at=at)
        elif conversation is None:
            if item.referral is not None and item.referral.is_ad:
                _pending_ad_keep(page, item.psid, item.referral)
            # No flow answers: the message joins the person's last conversation, which rises
            # in the inbox with it, so a person of the team sees it (and may answer).
            latest = _latest_conversation(page, item.psid)
            if latest is not None:
                latest.last_user_message_at = at
                latest.save(update_fields=["last_user_message_at", "updated_at"])
            _transcribe(page, item, latest, at)
            return "unanswered"
        assert conversation.flow_version is not None  # noqa: S101 (checked above)
        if item.referral is not None:
            referral_record(conversation, item.referral, at=at)
        conversation.last_user_message_at = at
        _transcribe(page, item, conversation, at)
        result = interpreter.run(
            conversation.flow_version.document,
            conversation_state(conversation),
            incoming,
            system=system_variables(conversation, ref=item.incoming.ref),
        )
        if conversation_apply(conversation, result, now=now, send_after_commit=False):
            sends.append(conversation)
        logger.info(
            "messenger.runtime.turn",
            extra={
                "conversation_id": conversation.pk,
                "flow_version_id": conversation.flow_version_id,
                "path": list(result.path),
                "status": result.state.status,
            },
        )
    return "ran"


def _latest_conversation(page: ConnectedPage, psid: str) -> Conversation | None:
    return (
        Conversation.objects.for_tenant(page.tenant)
        .filter(page=page, psid=psid, is_test=False)
        .order_by("-pk")
        .first()
    )


# --- Handoffs ---------------------------------------------------------------------------------


def conversation_handoffs(tenant: Tenant, *, resolved: bool = False) -> QuerySet[Conversation]:
    """The tenant's conversations a handoff block flagged, newest first: those waiting for a
    person (default), or with ``resolved=True`` those an agent resolved."""
    rows = Conversation.objects.for_tenant(tenant).select_related(
        "page", "flow", "flow_version", "handoff_resolved_by"
    )
    if resolved:
        rows = rows.filter(handoff_resolved_at__isnull=False).order_by(
            "-handoff_resolved_at", "-pk"
        )
    else:
        rows = rows.filter(status=ConversationStatus.HANDED_OFF).order_by("-handed_off_at", "-pk")
    return rows


def handoff_resolve(*, tenant: Tenant, actor: Actor, conversation_id: int) -> Conversation:
    """An agent is done with a handed-off thread: the flow goes on from the handoff block's
    "After the agent" handle (left open, the conversation ends) and what it says is sent.

    NotFound for another tenant's conversation; Conflict if it is not handed off (any more) or
    a message of the person is being processed right now (try again).
    """
    require_permission(tenant=tenant, actor=actor, permission="handoff.resolve")
    conversation = (
        Conversation.objects.for_tenant(tenant)
        .select_related("page", "tenant")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise NotFound("No such conversation in this workspace.")
    try:
        with conversation_lock(conversation.page, conversation.psid), transaction.atomic():
            conversation = (
                Conversation.objects.for_tenant(tenant)
                .select_for_update(of=("self",))
                .select_related("page", "tenant", "flow", "flow_version")
                .get(pk=conversation.pk)
            )
            if conversation.status != ConversationStatus.HANDED_OFF:
                raise Conflict(
                    "This conversation is not handed off (any more): nothing to resolve.",
                    details={"status": conversation.status},
                )
            if conversation.paused_status:
                _give_back(conversation, actor)
                return _resolved(tenant, actor, conversation)
            if conversation.flow_version is not None:
                document: Mapping[str, Any] = conversation.flow_version.document
            elif conversation.flow is not None:
                document = conversation.flow.document  # a test chat on the draft
            else:
                document = {"nodes": [], "edges": []}
            result = interpreter.resume_after_handoff(
                document, conversation_state(conversation), system=system_variables(conversation)
            )
            now = timezone.now()
            conversation.handoff_resolved_at = now
            conversation.handoff_resolved_by = actor.user
            if result.state.status == ConversationStatus.HANDED_OFF:  # nothing to resume
                result = replace(result, state=replace(result.state, status=interpreter.ENDED))
            conversation_apply(conversation, result, now=now)
    except ConversationBusy:
        raise Conflict(
            "A message of this person is being processed right now; try again in a moment."
        ) from None
    return _resolved(tenant, actor, conversation)


def _give_back(conversation: Conversation, actor: Actor) -> None:
    """A thread an agent took over from the bot (messenger.inbox): the bot is where it was,
    waiting for the answer it asked for (or the thread is closed again, as it was)."""
    now = timezone.now()
    conversation.status = conversation.paused_status
    conversation.paused_status = ""
    conversation.handoff_resolved_at = now
    conversation.handoff_resolved_by = actor.user
    if conversation.status == ConversationStatus.ENDED:
        conversation.ended_at = now
    conversation.save()


def _resolved(tenant: Tenant, actor: Actor, conversation: Conversation) -> Conversation:
    if not conversation.is_test:
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.HANDOFF_RESOLVED,
            target=f"{conversation.page.name} / {conversation.psid}",
            details={"conversation_id": conversation.pk, "status": conversation.status},
        )
    logger.info(
        "messenger.runtime.handoff_resolved",
        extra={"conversation_id": conversation.pk, "status": conversation.status},
    )
    return conversation


# --- The sweep (beat) -------------------------------------------------------------------------


def runtime_sweep(*, now: datetime | None = None) -> int:
    """Queue a drain while webhook deliveries wait that no worker holds (a nudge lost with
    Redis, a worker killed mid-batch, a retry whose task was lost), and re-enqueue pending
    messages a lost task left behind; returns how many of those, plus one for a drain."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=STALE_SECONDS)
    waiting = intake.deliveries_waiting(now=now)
    if waiting:
        intake.drain_nudge()
    conversations = list(
        OutboundMessage.objects.filter(status=OutboundStatus.PENDING, created_at__lt=stale)
        .values_list("conversation_id", flat=True)
        .distinct()[:1000]
    )
    for pk in conversations:
        enqueue("send_conversation", pk)
    return int(waiting) + len(conversations)
