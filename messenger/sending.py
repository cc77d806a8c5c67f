"""Sending a conversation's messages through the Send API, in order (reference §6.5, §4.8).

``conversation_send`` (called by the worker that ran a turn as soon as it committed,
``runtime.send_now``, and the body of ``flows.tasks.send_conversation``, queue ``runtime``, for
what could not go then and for an agent's hand-back) holds a Redis lock per conversation and sends its ``pending`` OutboundMessages by ``seq``, one at a
time, with the Page's decrypted token through ``graph_api``. It stops at the first message that
cannot go now and asks to be run again, so a later message never overtakes an earlier one.

==============================================  ================================================
situation                                       message(s)
==============================================  ================================================
sent                                            ``sent`` with Facebook's ``message_id``
more than 24 h since the person's last message  ``skipped`` (this and the rest), reason recorded
  (``last_user_message_at``), or Facebook's
  10/2018278 "outside of allowed window"
Page needs re-authorization or disconnected  ``failed`` (this and the rest), reason recorded
TokenInvalidError (190, 102)                    the Page is marked ``needs_reauth``
                                                (tenants.services.page_mark_token_invalid),
                                                ``failed`` (this and the rest)
551, 1545041, 100/2018001: person unavailable   ``failed`` (this and the rest): do not retry
PermissionMissingError (230 pages_messaging…)   ``failed`` (this and the rest), reason recorded
other InvalidRequestError (100, ...)            ``failed`` (this one; the next ones go on)
RateLimitedError                                stays ``pending``; again after ``retry_after``
                                                (capped at CELERY_MAX_COUNTDOWN_SECONDS)
TransientError (and anything unforeseen)        stays ``pending``; again after 2^n s (at most
                                                60 s), ``failed`` after MAX_SEND_ATTEMPTS
==============================================  ================================================

Rate: at most ``SEND_CALLS_PER_SECOND`` (Facebook's 300 calls a second per Page for text
messages, §4.6) per Page, counted in Redis per second across every worker. It is its own
counter, apart from events' Pages API bucket (events/ratelimit.py): the Send API has its own
quota.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from redis.exceptions import LockError

from events.ratelimit import redis_client, redis_key
from flows.models import Conversation
from graph_api.client import GraphClient
from graph_api.errors import (
    GraphError,
    InvalidRequestError,
    PermissionMissingError,
    RateLimitedError,
    TokenInvalidError,
)
from messenger import transcripts
from messenger.models import OutboundMessage, OutboundStatus
from tenants.crypto import decrypt_token
from tenants.models import PageStatus
from tenants.services import page_mark_token_invalid

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
"""The standard messaging window after the person's last message (reference §6.6)."""
SEND_CALLS_PER_SECOND = 300
MAX_SEND_ATTEMPTS = 5
MAX_BACKOFF_SECONDS = 60
LOCK_PREFIX = "pagepulse:flows:send"
LOCK_TIMEOUT_SECONDS = 120
RATE_PREFIX = "pagepulse:flows:send-rate"

OUTSIDE_WINDOW = (
    "Not sent: the person's last message is more than 24 hours old, so Messenger's standard "
    "messaging window is closed."
)
WINDOW_CODES = {(10, 2018278)}
"""Facebook's own "This message is sent outside of allowed window." (reference §4.8)."""
UNSENDABLE_PAGE_STATUSES = {PageStatus.NEEDS_REAUTH, PageStatus.DISCONNECTED}
"""A Page missing page_events can still message; one with a dead token or none cannot."""
UNAVAILABLE_CODES = {(551, None), (1545041, None), (100, 2018001)}
"""The person cannot be reached (blocked the Page, no such user): nothing after it can go."""


@dataclass
class SendReport:
    """What one run did; ``retry_in`` > 0 asks for another run after that many seconds."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retry_in: float = 0.0


def _pending(conversation: Conversation) -> QuerySet[OutboundMessage]:
    """What ``_settle_rest`` settles; ``_PENDING_IN_ORDER`` says the same in SQL for the read
    of every send: a change here is a change there."""
    return (
        OutboundMessage.objects.for_tenant(conversation.tenant)
        .filter(conversation=conversation, status=OutboundStatus.PENDING)
        .order_by("seq")
    )


_PENDING_IN_ORDER = (
    f"SELECT * FROM {OutboundMessage._meta.db_table} "  # noqa: S608 (the model's own names)
    "WHERE tenant_id = %s AND conversation_id = %s AND status = %s ORDER BY seq"
)
_MARK_SENT = (
    f"UPDATE {OutboundMessage._meta.db_table} "  # noqa: S608 (the model's own names)
    "SET status = %s, message_id = %s, sent_at = %s, attempts = %s, reason = '', updated_at = %s "
    "WHERE id = %s AND status = %s"
)
"""The two statements of every send, written out once: as querysets they were compiled afresh
for each message, a quarter of a send's CPU (benchmarks/README.md)."""


def _pending_in_order(conversation: Conversation) -> list[OutboundMessage]:
    return list(
        OutboundMessage.objects.raw(
            _PENDING_IN_ORDER, [conversation.tenant_id, conversation.pk, OutboundStatus.PENDING]
        )
    )


def _mark_sent(message: OutboundMessage, *, message_id: str, sent_at: datetime) -> bool:
    """The message went (Facebook's ``message_id``); False if it was no longer pending."""
    with connection.cursor() as cursor:
        cursor.execute(
            _MARK_SENT,
            [
                OutboundStatus.SENT,
                message_id,
                sent_at,
                message.attempts + 1,
                sent_at,
                message.pk,
                OutboundStatus.PENDING,
            ],
        )
        return bool(cursor.rowcount > 0)


def _settle_rest(conversation: Conversation, status: str, reason: str, report: SendReport) -> None:
    """Settle this and every later pending message of the conversation."""
    moved = _pending(conversation).update(status=status, reason=reason, updated_at=timezone.now())
    if status == OutboundStatus.SKIPPED:
        report.skipped += moved
    else:
        report.failed += moved


def _send_slot(page_pk: int) -> float:
    """Take one Send API call of the Page's second: 0 when granted, else seconds to wait."""
    now = time.time()
    second = int(now)
    key = redis_key(f"{RATE_PREFIX}:{page_pk}:{second}")
    pipe = redis_client().pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, 2)
    count = int(pipe.execute()[0])
    if count <= SEND_CALLS_PER_SECOND:
        return 0.0
    return max(second + 1 - now, 0.01)


def _codes(error: GraphError) -> set[tuple[int | None, int | None]]:
    return {(error.code, error.error_subcode), (error.code, None)}


def conversation_send(
    *,
    conversation_id: int,
    graph: GraphClient | None = None,
    conversation: Conversation | None = None,
) -> SendReport:
    """Send the conversation's pending messages in order (see the module docstring).

    ``conversation``: the one a turn just committed, with its Page and workspace, read in that
    turn (the worker that ran it sends at once: no second read); else it is read here."""
    report = SendReport()
    if conversation is None:
        conversation = (
            Conversation.objects.select_related("page", "tenant").filter(pk=conversation_id).first()
        )
    if conversation is None or conversation.is_test:
        return report
    lock = redis_client().lock(
        redis_key(f"{LOCK_PREFIX}:{conversation.pk}"),
        timeout=LOCK_TIMEOUT_SECONDS,
        blocking=False,
    )
    if not lock.acquire():
        report.retry_in = 1.0  # another worker sends; what it did not see goes next run
        return report
    try:
        _send_pending(conversation, report, graph)
    finally:
        try:
            lock.release()
        except LockError:
            logger.warning("flows.send.lock_expired", extra={"conversation_id": conversation.pk})
    logger.info(
        "flows.send.done",
        extra={
            "conversation_id": conversation.pk,
            "sent": report.sent,
            "failed": report.failed,
            "skipped": report.skipped,
            "retry_in": report.retry_in,
        },
    )
    return report


def _send_pending(
    conversation: Conversation, report: SendReport, graph: GraphClient | None
) -> None:
    page = conversation.page
    for number, message in enumerate(_pending_in_order(conversation)):
        if number:  # the Page read again before each later message (it may have been
            # disconnected meanwhile); the person's last message can only have moved later,
            # which keeps the window open: the one read is enough for it.
            page.refresh_from_db(fields=["status", "token_encrypted", "last_error"])
        if page.status in UNSENDABLE_PAGE_STATUSES or not page.token_encrypted:
            reason = page.last_error or f"Not sent: the Page is {page.get_status_display()}."
            _settle_rest(conversation, OutboundStatus.FAILED, reason, report)
            return
        last = conversation.last_user_message_at
        if last is None or timezone.now() - last > WINDOW:
            _settle_rest(conversation, OutboundStatus.SKIPPED, OUTSIDE_WINDOW, report)
            return
        if (wait := _send_slot(page.pk)) > 0:
            report.retry_in = wait
            return
        graph = graph or GraphClient.from_settings()
        try:
            result = graph.send_message(
                page_token=decrypt_token(page.token_encrypted),
                psid=conversation.psid,
                message=message.message,
            )
        except GraphError as error:
            if not _failed(conversation, message, error, report):
                return
            continue
        sent_at = timezone.now()
        # The transcript gets the bot's message once, with Facebook's mid.
        if _mark_sent(message, message_id=result.message_id, sent_at=sent_at):
            transcripts.message_record_bot(
                message, conversation=conversation, mid=result.message_id, sent_at=sent_at
            )
        report.sent += 1


def _failed(
    conversation: Conversation, message: OutboundMessage, error: GraphError, report: SendReport
) -> bool:
    """Settle after a Graph error; True when the next message may go on now."""
    reason = str(error)
    extra = {
        "conversation_id": conversation.pk,
        "outbound_id": message.pk,
        "code": error.code,
        "error_subcode": error.error_subcode,
        "fbtrace_id": error.fbtrace_id,
        "error_class": type(error).__name__,
    }
    logger.warning("flows.send.failed", extra=extra)
    if isinstance(error, TokenInvalidError):
        page_mark_token_invalid(page=conversation.page, error=error)
        _settle_rest(conversation, OutboundStatus.FAILED, reason, report)
        return False
    if _codes(error) & WINDOW_CODES:
        _settle_rest(conversation, OutboundStatus.SKIPPED, f"{OUTSIDE_WINDOW} {reason}", report)
        return False
    if _codes(error) & UNAVAILABLE_CODES or isinstance(error, PermissionMissingError):
        _settle_rest(conversation, OutboundStatus.FAILED, reason, report)
        return False
    if isinstance(error, InvalidRequestError):
        _settle_one(message, OutboundStatus.FAILED, reason, report)
        return True
    if isinstance(error, RateLimitedError):
        report.retry_in = float(min(error.retry_after, settings.CELERY_MAX_COUNTDOWN_SECONDS))
        return False
    attempts = message.attempts + 1
    if attempts >= MAX_SEND_ATTEMPTS:
        _settle_one(message, OutboundStatus.FAILED, f"{reason} (after {attempts} tries)", report)
        return True
    OutboundMessage.objects.filter(pk=message.pk).update(
        attempts=attempts, reason=reason, updated_at=timezone.now()
    )
    report.retry_in = float(min(2**attempts, MAX_BACKOFF_SECONDS))
    return False


def _settle_one(message: OutboundMessage, status: str, reason: str, report: SendReport) -> None:
    OutboundMessage.objects.filter(pk=message.pk, status=OutboundStatus.PENDING).update(
        status=status, reason=reason, attempts=message.attempts + 1, updated_at=timezone.now()
    )
    report.failed += 1
