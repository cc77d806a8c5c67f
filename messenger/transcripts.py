"""Transcripts: every message of a conversation, both ways, kept for the workspace's retention.

- Inbound (``message_record_inbound``): written by the turn loop (messenger.runtime._handle) in
  the turn's transaction, for every parsed item (also those that start no flow or reach a
  handed-off conversation), in the order the turns run: one person's items run one at a time
  under the conversation lock, in timestamp order, so the transcript is in order even when
  deliveries of one person arrive at once.
- Outbound: ``message_record_bot`` when the Send API accepted an ``OutboundMessage``
  (messenger.sending), ``message_record_agent`` when a person of the team answered (the inbox).
- ``mid`` (Facebook's message id) is unique per Page when present: a redelivered webhook adds
  no second row (the turn's ``ProcessedMessage`` skips it first anyway).
- ``transcripts_prune`` (the daily beat task ``messenger.tasks.transcripts_prune``, queue
  ``maintenance``) deletes each workspace's messages older than ``transcript_retention_days``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from flows.blocks.steps import POSTBACK, QUICK_REPLY, REFERRAL
from flows.models import Conversation
from messenger import people
from messenger.models import (
    Message,
    MessageDirection,
    MessageKind,
    MessageSender,
    OutboundMessage,
)
from tenants.models import ConnectedPage, Tenant

MAX_TEXT_CHARS = 20_000
MAX_PAYLOAD_CHARS = 1000
MAX_URL_CHARS = 2000
MAX_ATTACHMENTS = 20


def attachments_of(raw: object) -> list[dict[str, str]]:
    """``[{type, url}]`` of a webhook message's (or a Send API message's) ``attachments``."""
    if isinstance(raw, Mapping):  # the Send API's message has one `attachment`
        raw = [raw]
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        return []
    found: list[dict[str, str]] = []
    for attachment in list(raw)[:MAX_ATTACHMENTS]:
        if not isinstance(attachment, Mapping):
            continue
        payload = attachment.get("payload")
        url = payload.get("url") if isinstance(payload, Mapping) else None
        found.append(
            {
                "type": str(attachment.get("type") or "")[:32],
                "url": url[:MAX_URL_CHARS] if isinstance(url, str) else "",
            }
        )
    return found


def inbound_kind(kind: str, *, text: str, attachments: Sequence[object]) -> str:
    """The transcript's kind of an incoming item (the interpreter's ``Incoming.kind``)."""
    if kind == QUICK_REPLY:
        return MessageKind.QUICK_REPLY
    if kind == POSTBACK:
        return MessageKind.POSTBACK
    if kind == REFERRAL:
        return MessageKind.REFERRAL
    if attachments and not text:
        return MessageKind.ATTACHMENT
    return MessageKind.TEXT


def message_record_inbound(
    *,
    page: ConnectedPage,
    psid: str,
    conversation: Conversation | None,
    kind: str,
    text: str,
    payload: str,
    attachments: Sequence[Mapping[str, str]],
    referral: Mapping[str, Any] | None,
    mid: str,
    sent_at: datetime,
) -> None:
    """Record what a person sent (in the turn's transaction); a ``mid`` already recorded for
    the Page is not recorded again."""
    fields: dict[str, Any] = {
        "tenant": page.tenant,
        "psid": psid,
        "conversation": conversation,
        "direction": MessageDirection.IN,
        "sender": MessageSender.PERSON,
        "kind": inbound_kind(kind, text=text, attachments=attachments),
        "text": text[:MAX_TEXT_CHARS],
        "payload": payload[:MAX_PAYLOAD_CHARS],
        "attachments": [dict(a) for a in attachments],
        "referral": dict(referral or {}),
        "sent_at": sent_at,
    }
    people.person_seen(page=page, psid=psid, at=sent_at)
    _insert(Message(page=page, mid=mid, **fields))


_COLUMNS = [field for field in Message._meta.concrete_fields if not field.primary_key]
_INSERT = "INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING".format(  # noqa: S608 (the model's own names)
    table=Message._meta.db_table,
    columns=", ".join(field.column for field in _COLUMNS),
    values=", ".join(["%s"] * len(_COLUMNS)),
)


def _insert(message: Message) -> None:
    """One INSERT; with a ``mid`` already recorded for the Page (``message_unique_mid``, the
    table's one unique constraint besides its key), none. Written out from the model's fields:
    ``bulk_create(ignore_conflicts=True)`` compiled the statement on every call and wrapped it
    in a transaction of its own (BEGIN and COMMIT around each message the bot sent), a twelfth
    of a turn's CPU (benchmarks/README.md)."""
    values = [
        field.get_db_prep_save(field.pre_save(message, True), connection) for field in _COLUMNS
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, values)


def _outbound_kind(message: Mapping[str, Any]) -> str:
    """A file the bot sent is an attachment; text, quick replies and a button template (its
    text with buttons) are text."""
    attachment = message.get("attachment")
    if isinstance(attachment, Mapping) and attachment.get("type") != "template":
        return MessageKind.ATTACHMENT
    return MessageKind.TEXT


def message_record_bot(
    outbound: OutboundMessage, *, conversation: Conversation, mid: str, sent_at: datetime
) -> None:
    """Record a message the bot sent (the Send API accepted it, with ``mid``)."""
    body: Mapping[str, Any] = outbound.message if isinstance(outbound.message, Mapping) else {}
    attachment = body.get("attachment")
    text = body.get("text")
    if not isinstance(text, str) and isinstance(attachment, Mapping):
        payload = attachment.get("payload")  # a button template carries its text here
        text = payload.get("text") if isinstance(payload, Mapping) else ""
    kind = _outbound_kind(body)
    fields: dict[str, Any] = {
        "tenant_id": conversation.tenant_id,
        "psid": conversation.psid,
        "conversation": conversation,
        "direction": MessageDirection.OUT,
        "sender": MessageSender.BOT,
        "kind": kind,
        "text": (text if isinstance(text, str) else "")[:MAX_TEXT_CHARS],
        "attachments": attachments_of(attachment) if kind == MessageKind.ATTACHMENT else [],
        "sent_at": sent_at,
    }
    _insert(Message(page=conversation.page, mid=mid, **fields))


def message_record_agent(
    *,
    conversation: Conversation,
    text: str,
    mid: str = "",
    sent_at: datetime | None = None,
    attachments: Sequence[Mapping[str, str]] = (),
) -> Message:
    """Record what a person of the team sent from the inbox (the Send API's answer's mid)."""
    return Message.objects.create(
        tenant_id=conversation.tenant_id,
        page=conversation.page,
        psid=conversation.psid,
        conversation=conversation,
        direction=MessageDirection.OUT,
        sender=MessageSender.AGENT,
        kind=MessageKind.ATTACHMENT if attachments and not text else MessageKind.TEXT,
        text=text[:MAX_TEXT_CHARS],
        attachments=[dict(a) for a in attachments],
        mid=mid,
        sent_at=sent_at or timezone.now(),
    )


def transcripts_prune(*, now: datetime | None = None) -> int:
    """Delete every workspace's messages older than its ``transcript_retention_days``; returns
    how many. One DELETE per retention value in use (a handful), not per workspace."""
    now = now or timezone.now()
    deleted = 0
    periods = Tenant.objects.values_list("transcript_retention_days", flat=True).distinct()
    for days in sorted(periods):
        count, _ = Message.objects.filter(
            tenant__transcript_retention_days=days, sent_at__lt=now - timedelta(days=days)
        ).delete()
        deleted += count
    return deleted
