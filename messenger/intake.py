"""The webhook's intake: a signed delivery stored and answered, and drained by the runtime in
batches (docs/adr/0014-webhook-intake.md).

Facebook wants a quick 200 and retries for 36 hours without one (reference §6.3); a 200 from us
means the delivery is committed to the database, so a crash after it loses nothing. What each
request pays is only what must be per request: the signature check, one INSERT (autocommit)
and one Redis ``SET NX`` (the nudge). A Celery task is published only when that ``SET`` finds
no drain already queued, so under load one publish serves many deliveries, where publishing a
task per delivery through kombu cost half of a request's CPU (benchmarks/README.md).

The drain (``deliveries_drain``, task ``flows.tasks.drain_deliveries`` on the runtime queue)
first deletes the nudge key, then claims up to ``DRAIN_BATCH`` new deliveries (each Page's
oldest in turn, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a lease in ``claimed_until``) and
processes them in order. Why nothing is stranded: a request commits its row before its ``SET NX``; if the key was
already there, the drain that key announces has not deleted it yet, and it deletes it before it
claims, so it sees the row. A full batch nudges again before it is processed, so other worker
processes join in while a backlog lasts. Every run of a delivery holds its lease (a retry's
until its countdown has passed, and the run after it), so a worker killed mid-batch leaves
leases that run out after ``WEBHOOK_DRAIN_LEASE_SECONDS``; the beat's sweep
(``runtime.runtime_sweep``) queues a drain while deliveries wait that nobody holds.

``WebhookIntake`` answers ``POST /webhooks/messenger`` without Django's request cycle (no
session, user, CSRF, CSP, messages or URL resolving: the delivery needs none of them, and they
cost more than the work); every other request goes to Django. Django's own view
(messenger/webhooks.py) answers the same way through ``intake_answer``, for the test client and
any server that does not wrap the WSGI app.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from events.ratelimit import redis_client, redis_key
from messenger.models import ProcessedMessage, WebhookDelivery

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/messenger"
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
NUDGE_KEY = "pagepulse:flows:intake:drain-queued"
NUDGE_SECONDS = 30
"""The nudge key outlives a lost drain task by at most this long (the sweep also nudges)."""
DRAIN_BATCH = 50
"""Deliveries one drain claims and processes; a full batch nudges another drain first."""
RECEIVED = b"EVENT_RECEIVED"
DEDUPE_WINDOW = timedelta(hours=72)
"""How long a processed message's key is kept: Facebook retries a delivery for 36 hours
(reference §6.3), so a retry later than that cannot come."""


# --- The answer, shared by the WSGI fast path and Django's view -------------------------------


def signature_valid(body: bytes, header: str | None, *, secret: str) -> bool:
    """Whether ``header`` is ``sha256=<hex HMAC-SHA256 of body keyed by secret>`` (reference
    §6.2), compared in constant time, before anything parses the body."""
    if not secret or not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len(SIGNATURE_PREFIX) :]
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", errors="replace"))


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


def _error(status: int, code: str, message: str) -> Answer:
    body = {"error": {"code": code, "message": message, "details": {}}}
    return Answer(status, json.dumps(body).encode())


BAD_SIGNATURE = _error(
    403,
    "bad_signature",
    f"{SIGNATURE_HEADER} is missing or is not the body's HMAC-SHA256 with the app secret.",
)
UNAVAILABLE = _error(
    503,
    "storage_unavailable",
    "The delivery could not be stored; nothing was kept. Facebook retries it.",
)


def intake_answer(body: bytes, signature: str | None) -> Answer:
    """Check the signature, store the delivery, nudge the drain: the webhook POST's answer.

    A wrong or missing signature is a 403 and writes nothing; a database that cannot store
    the delivery is a 503 (Facebook retries), never a 200 for something not kept.
    """
    if not signature_valid(body, signature, secret=settings.FACEBOOK_APP_SECRET):
        logger.warning(
            "flows.webhook.bad_signature",
            extra={"has_signature": signature is not None, "bytes": len(body)},
        )
        return BAD_SIGNATURE
    try:
        delivery_store(body)
    except DatabaseError:
        logger.exception("flows.webhook.store_failed", extra={"bytes": len(body)})
        return UNAVAILABLE
    drain_nudge()
    return Answer(200, RECEIVED, "text/plain")


def delivery_store(body: bytes) -> int:
    """Insert the delivery as received and return its id; committed when this returns outside
    a transaction (the webhook runs in autocommit).

    One statement written out, not ``objects.create``: the model instance, its signals and the
    compiler cost a tenth of a millisecond a request, a tenth of the whole budget at 1,000 a
    second (benchmarks/README.md). The columns are the model's, with its defaults.
    """
    table = connection.ops.quote_name(WebhookDelivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (body, page_id, received_at, attempts, error, unrouted) "  # noqa: S608
            "VALUES (%s, %s, %s, 0, '', '[]') RETURNING id",
            [body, first_page_id(body), timezone.now()],
        )
        row = cursor.fetchone()
    return int(row[0])


_FIRST_PAGE = re.compile(rb'"entry"\s*:\s*\[\s*\{[^{}\[]*?"id"\s*:\s*"(\d{1,32})"')
PAGE_ID_SCAN_BYTES = 512


def first_page_id(body: bytes) -> str:
    """The first entry's Page id, read from the start of the body without parsing it (reference
    §6.4: ``{"object": "page", "entry": [{"id": ..., "time": ..., "messaging": [...]}]}``); "" if
    it is not there. Only for sharing the drain between Pages: routing still parses the body."""
    found = _FIRST_PAGE.search(body, 0, PAGE_ID_SCAN_BYTES)
    return found.group(1).decode() if found else ""


# --- The nudge and the drain ----------------------------------------------------------------


def drain_nudge() -> None:
    """Queue a drain unless one is queued already. Never raises: a delivery whose nudge was
    lost is found by the beat's sweep."""
    from messenger import tasks  # the task module imports the runtime, which imports this one

    key = redis_key(NUDGE_KEY)
    try:
        if not redis_client().set(key, b"1", nx=True, ex=NUDGE_SECONDS):
            return
    except RedisError:
        logger.warning("flows.intake.nudge_failed", exc_info=True)
        return
    try:
        tasks.drain_deliveries.apply_async()
    except Exception:  # the broker: the key must not promise a drain that was never queued
        logger.warning("flows.intake.drain_not_queued", exc_info=True)
        try:
            redis_client().delete(key)
        except RedisError:
            logger.warning("flows.intake.nudge_not_cleared", exc_info=True)


def lease_until(*, after: float = 0) -> datetime:
    """When a lease taken now runs out: ``WEBHOOK_DRAIN_LEASE_SECONDS`` (after ``after``)."""
    return timezone.now() + timedelta(seconds=after + settings.WEBHOOK_DRAIN_LEASE_SECONDS)


def _claimable(now: datetime) -> QuerySet[WebhookDelivery]:
    """Deliveries not processed that nobody holds: new ones, and those whose lease ran out (a
    worker killed while it held them, a retry whose task was lost). ``_CLAIM_FAIRLY`` says the
    same in SQL, twice: a change here is a change there."""
    return WebhookDelivery.objects.filter(processed_at__isnull=True).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


_CLAIM_FAIRLY = """
WITH waiting AS (
    SELECT id, row_number() OVER (PARTITION BY page_id ORDER BY id) AS turn
    FROM {table}
    WHERE processed_at IS NULL AND (claimed_until IS NULL OR claimed_until < %(now)s)
), taken AS (
    SELECT d.id, w.turn FROM {table} d JOIN waiting w ON w.id = d.id
    WHERE d.processed_at IS NULL AND (d.claimed_until IS NULL OR d.claimed_until < %(now)s)
    ORDER BY w.turn, d.id
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE {table} d SET claimed_until = %(until)s FROM taken
WHERE d.id = taken.id
RETURNING d.id, taken.turn
"""


def deliveries_claim(*, limit: int = DRAIN_BATCH) -> list[int]:
    """Lease up to ``limit`` claimable deliveries, each Page's oldest first, in turn: the oldest
    of every Page, then the second oldest of every Page, ... So a Page (and so a workspace)
    whose people write a few messages is not queued behind another's flood; one Page's
    deliveries stay in order. One statement on PostgreSQL (``FOR UPDATE SKIP LOCKED``: drains
    never take the same row); SQLite takes the oldest."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(WebhookDelivery._meta.db_table)
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                _CLAIM_FAIRLY.format(table=table),
                {"now": now, "limit": limit, "until": lease_until()},
            )
            rows = cursor.fetchall()
        return [pk for pk, _turn in sorted(rows, key=lambda row: (row[1], row[0]))]
    with transaction.atomic():
        ids = list(
            _claimable(timezone.now())
            .select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(claimed_until=lease_until())
    return ids


def deliveries_drain(*, limit: int = DRAIN_BATCH) -> int:
    """Process a batch of new deliveries (the drain task's body); returns how many it took."""
    from messenger import runtime  # the runtime imports this module

    try:
        redis_client().delete(redis_key(NUDGE_KEY))
    except RedisError:  # the batch still runs; the next delivery's nudge queues the next drain
        logger.warning("flows.intake.nudge_not_cleared", exc_info=True)
    ids = deliveries_claim(limit=limit)
    if len(ids) == limit:
        drain_nudge()  # a backlog: let another worker process take the next batch meanwhile
    for delivery_id in ids:
        runtime.delivery_process(delivery_id=delivery_id, routes=runtime.ROUTES)
    return len(ids)


def deliveries_waiting(*, now: datetime | None = None) -> bool:
    """Whether deliveries wait that no worker holds: the sweep queues a drain for them."""
    return _claimable(now or timezone.now()).exists()


# --- How long a delivery is kept -------------------------------------------------------------
# A processed delivery is needed no more (its messages are in the transcript, each key in
# ProcessedMessage), but its body still holds what people wrote: it is kept for troubleshooting
# (admin, "Webhook deliveries") no longer than WEBHOOK_DELIVERY_RETENTION_HOURS, at most the
# shortest transcript retention a workspace can choose, and it goes with a person's data.

_BODY_HOLDS = {"postgresql": "position(%s IN body) > 0", "sqlite": "instr(body, %s) > 0"}


def _deliveries_delete(where: str, params: list[Any]) -> int:
    """Delete processed deliveries matching ``where`` (SQL on the delivery table's columns) and
    unlink the message keys that point at them, in one transaction; returns how many went.

    Written out: the ORM's delete would load every body to null the foreign key."""
    delivery = connection.ops.quote_name(WebhookDelivery._meta.db_table)
    processed = connection.ops.quote_name(ProcessedMessage._meta.db_table)
    doomed = f"SELECT id FROM {delivery} WHERE processed_at IS NOT NULL AND {where}"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {processed} SET delivery_id = NULL WHERE delivery_id IN ({doomed})",  # noqa: S608
            params,
        )
        cursor.execute(f"DELETE FROM {delivery} WHERE id IN ({doomed})", params)  # noqa: S608
        return int(cursor.rowcount)


def deliveries_prune(*, now: datetime | None = None) -> tuple[int, int]:
    """Delete processed deliveries received more than ``WEBHOOK_DELIVERY_RETENTION_HOURS`` ago
    and message keys older than ``DEDUPE_WINDOW`` (beat, hourly); returns how many of each.
    Deliveries not processed yet are never touched."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.WEBHOOK_DELIVERY_RETENTION_HOURS)
    deliveries = _deliveries_delete("received_at < %s", [cutoff])
    keys, _ = ProcessedMessage.objects.filter(processed_at__lt=now - DEDUPE_WINDOW).delete()
    return deliveries, keys


def deliveries_forget_person(*, page_id: str, psid: str) -> int:
    """Delete the processed deliveries that hold this person's messages (or the Page's messages
    to them, echoes included), and the message keys made of their PSID; returns how many
    deliveries went. A delivery not processed yet stays: its messages are still to be run, and
    what they bring is new data."""
    if not psid:
        return 0
    holds = _BODY_HOLDS.get(connection.vendor, _BODY_HOLDS["postgresql"])
    quoted = [json.dumps(page_id).encode(), json.dumps(psid).encode()]
    deleted = _deliveries_delete(f"{holds} AND {holds}", quoted)
    # A message without a mid is known by kind, PSID, time and ref (runtime.parse_item).
    ProcessedMessage.objects.filter(page_id=page_id, mid__contains=f":{psid}:").delete()
    return deleted


# --- The WSGI fast path ---------------------------------------------------------------------

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
HEADERS = [("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")]
REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    411: "Length Required",
    413: "Content Too Large",
    503: "Service Unavailable",
}


class WebhookIntake:
    """WSGI middleware: ``POST /webhooks/messenger`` answered by ``intake_answer`` directly;
    everything else (the subscription handshake included) by ``app``, Django."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != WEBHOOK_PATH:
            return self.app(environ, start_response)
        answer = self._answer(environ)
        start_response(
            f"{answer.status} {REASONS[answer.status]}",
            [
                ("Content-Type", answer.content_type),
                ("Content-Length", str(len(answer.body))),
                *HEADERS,
            ],
        )
        return [answer.body]

    def _answer(self, environ: dict[str, Any]) -> Answer:
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return _error(411, "length_required", "Send the delivery with a Content-Length.")
        if length < 0:
            return _error(400, "bad_length", "Content-Length must be a number of bytes.")
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return _error(
                413,
                "too_large",
                f"A delivery may be at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            )
        body = environ["wsgi.input"].read(length)
        if len(body) != length:
            return _error(400, "short_body", "The body ended before its Content-Length.")
        # Django's signals around a request: their receivers drop a database connection that
        # broke or outlived CONN_MAX_AGE, before and after, as for every other request.
        request_started.send(sender=self.__class__, environ=environ)
        try:
            return intake_answer(body, environ.get("HTTP_X_HUB_SIGNATURE_256"))
        finally:
            request_finished.send(sender=self.__class__)
