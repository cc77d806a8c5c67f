"""The inbox: a workspace's Messenger conversations with their transcripts, and a person of the
team who answers, takes a thread over from the bot, hands it back, or closes it (issue 15).

Reads:
- ``inbox_conversations``: conversations (never test chats) by last activity, filtered by state
  (needs a person, open, with the bot, closed), Page and tag; ``inbox_counts`` counts each state.
- ``inbox_cursor`` / ``transcript_cursor``: what changed since the page was drawn, so the
  inbox's poll (every 1.5 s, static/js/inbox.js) costs one indexed aggregate when nothing did.
- ``transcript``: a conversation's messages in order, each bot message with the block it came
  from (its OutboundMessage, by Facebook's message id).

Writes:
- ``inbox_reply``: the agent's message goes out through the Send API in the request, so what
  Facebook answers is what the agent sees; it is recorded only once Facebook accepted it.
  Inside 24 hours of the person's last message it is a ``RESPONSE``; after that, where the app
  has the Human Agent permission (``MESSENGER_HUMAN_AGENT_TAG``), a ``MESSAGE_TAG`` with
  ``HUMAN_AGENT`` up to 7 days (reference §6.5, §6.6, §11); otherwise the reply box says why
  it is closed. Answering a thread the bot runs takes it over: the bot stays quiet
  (``HANDED_OFF``) and remembers where it was (``paused_status``).
- ``inbox_hand_back``: the bot goes on (messenger.runtime.handoff_resolve: from the handoff
  block's "After the agent", or where it was when it was taken over).
- ``inbox_close``: the conversation ends without the flow going on.
- ``membership_notify_set`` and ``handoff_notify``: admins and owners who opt in get an email
  each time a conversation needs a person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from flows.blocks import REGISTRY
from flows.blocks.base import SYSTEM_VARIABLES
from flows.models import Conversation, ConversationStatus
from graph_api.client import GraphClient
from graph_api.errors import (
    GraphError,
    PermissionMissingError,
    RateLimitedError,
    TokenInvalidError,
)
from messenger import transcripts
from messenger.models import Message, MessageSender, OutboundMessage, Person
from messenger.runtime import ConversationBusy, conversation_lock, handoff_resolve
from messenger.sending import UNAVAILABLE_CODES, UNSENDABLE_PAGE_STATUSES, WINDOW, WINDOW_CODES
from tenants.crypto import decrypt_token
from tenants.exceptions import Conflict, DomainError, NotFound, PermissionDenied
from tenants.models import AuditAction, Membership, Tenant
from tenants.permissions import Role
from tenants.profiles import people_profile, profile_key
from tenants.services import Actor, page_mark_token_invalid
from tenants.services.workspaces import audit_record, require_permission

logger = logging.getLogger(__name__)

HUMAN_AGENT_WINDOW = timedelta(days=7)
"""How long after the person's last message a person may answer with the HUMAN_AGENT tag."""
MAX_REPLY_CHARS = 1999
"""The Send API's text "Must be UTF-8 and less than 2000 characters" (reference §6.5)."""
TRANSCRIPT_LIMIT = 300
"""The newest messages a conversation page shows (older ones stay kept, see the retention)."""
RESTRICTED_CODES = {(10, 1893063)}
"""The Page is temporarily restricted from sending (reference §11)."""
NOTIFIED_SECONDS = 7 * 24 * 3600


class SendRefused(DomainError):
    """Facebook did not take the agent's message; ``message`` says why in plain words."""

    code = "send_refused"
    status = 502


# --- Reading --------------------------------------------------------------------------------

NEEDS = "needs"
OPEN = "open"
BOT = "bot"
CLOSED = "closed"
ALL = "all"
STATES: dict[str, str] = {
    NEEDS: "Needs a person",
    OPEN: "Open",
    BOT: "With the bot",
    CLOSED: "Closed",
    ALL: "All",
}
_STATE_FILTERS: dict[str, Q] = {
    NEEDS: Q(status=ConversationStatus.HANDED_OFF),
    OPEN: ~Q(status=ConversationStatus.ENDED),
    BOT: Q(status__in=[ConversationStatus.ACTIVE, ConversationStatus.WAITING]),
    CLOSED: Q(status=ConversationStatus.ENDED),
    ALL: Q(),
}


def inbox_conversations(
    tenant: Tenant, *, state: str = ALL, page_pk: int | None = None, tag: str = ""
) -> QuerySet[Conversation]:
    """The workspace's conversations, most recently active first, with their last message."""
    rows = (
        Conversation.objects.for_tenant(tenant)
        .filter(is_test=False)
        .filter(_STATE_FILTERS.get(state, Q()))
        .select_related("page", "flow", "handoff_resolved_by")
    )
    if page_pk is not None:
        rows = rows.filter(page_id=page_pk)
    if tag:
        rows = rows.filter(
            Exists(
                Person.objects.filter(
                    tenant=tenant,
                    page_id=OuterRef("page_id"),
                    psid=OuterRef("psid"),
                    tags__name__iexact=tag,
                )
            )
        )
    last = Message.objects.filter(tenant=tenant, conversation=OuterRef("pk")).order_by(
        "-sent_at", "-id"
    )
    person = Person.objects.filter(
        tenant=tenant, page_id=OuterRef("page_id"), psid=OuterRef("psid")
    )
    return rows.annotate(
        person_name=Subquery(person.values("name")[:1]),
        last_text=Subquery(last.values("text")[:1]),
        last_kind=Subquery(last.values("kind")[:1]),
        last_sender=Subquery(last.values("sender")[:1]),
        last_at=Subquery(last.values("sent_at")[:1]),
    ).order_by("-updated_at", "-id")


def inbox_counts(tenant: Tenant) -> dict[str, int]:
    """How many conversations each state filter holds, in one query."""
    counts = (
        Conversation.objects.for_tenant(tenant)
        .filter(is_test=False)
        .aggregate(
            **{key: Count("id", filter=condition) for key, condition in _STATE_FILTERS.items()}
        )
    )
    return {key: int(counts[key] or 0) for key in STATES}


def inbox_cursor(tenant: Tenant) -> str:
    """Changes whenever any of the workspace's conversations does (a turn, a message recorded
    by the runtime touches it, a handoff, an agent's action): one indexed MAX."""
    latest = Conversation.objects.for_tenant(tenant).aggregate(at=Max("updated_at"))["at"]
    return latest.isoformat() if latest else "0"


def conversation_for_inbox(tenant: Tenant, conversation_id: int) -> Conversation:
    conversation = (
        Conversation.objects.for_tenant(tenant)
        .filter(pk=conversation_id, is_test=False)
        .select_related("page", "flow", "flow_version", "handoff_resolved_by")
        .first()
    )
    if conversation is None:
        raise NotFound("No such conversation in this workspace.")
    return conversation


def transcript_cursor(conversation: Conversation) -> str:
    newest = Message.objects.filter(
        tenant_id=conversation.tenant_id, conversation=conversation
    ).aggregate(id=Max("id"))["id"]
    return f"{newest or 0}:{conversation.updated_at.isoformat()}"


@dataclass(frozen=True)
class Line:
    """One message of a transcript, with the bot's block when the bot sent it, and its
    attachments as (type, link) with the link empty unless it is http(s)."""

    message: Message
    block: str
    attachments: tuple[tuple[str, str], ...] = ()


def _links(message: Message) -> tuple[tuple[str, str], ...]:
    links = []
    for attachment in message.attachments if isinstance(message.attachments, list) else []:
        if not isinstance(attachment, dict):
            continue
        url = str(attachment.get("url") or "")
        links.append(
            (
                str(attachment.get("type") or "file"),
                url if url.startswith(("https://", "http://")) else "",
            )
        )
    return tuple(links)


def transcript(conversation: Conversation, *, limit: int = TRANSCRIPT_LIMIT) -> list[Line]:
    """The conversation's newest ``limit`` messages, oldest first; bot messages name the block
    they came from ("Ask a question: What are you looking for?")."""
    newest = list(
        Message.objects.filter(
            tenant_id=conversation.tenant_id, conversation=conversation
        ).order_by("-sent_at", "-id")[:limit]
    )
    newest.reverse()
    mids = [m.mid for m in newest if m.sender == MessageSender.BOT and m.mid]
    nodes = dict(
        OutboundMessage.objects.filter(
            tenant_id=conversation.tenant_id, conversation=conversation, message_id__in=mids
        ).values_list("message_id", "node_id")
    )
    labels = _block_labels(conversation)
    return [Line(m, labels.get(nodes.get(m.mid, ""), ""), _links(m)) for m in newest]


def _block_labels(conversation: Conversation) -> dict[str, str]:
    """Each block of the conversation's flow version by id, by its kind ("Ask a question"): the
    message beside it already says what it asked."""
    document: Any = conversation.flow_version.document if conversation.flow_version else {}
    labels: dict[str, str] = {}
    for node in document.get("nodes", []) if isinstance(document, dict) else []:
        block = REGISTRY.get(node.get("type", ""))
        labels[str(node.get("id", ""))] = (
            block.label if block is not None else str(node.get("type", ""))
        )
    return labels


def where_the_flow_is(conversation: Conversation) -> str:
    """The block the conversation waits at, in words ("Ask a question: What are you looking
    for?"), or "" when none."""
    document: Any = conversation.flow_version.document if conversation.flow_version else {}
    for node in document.get("nodes", []) if isinstance(document, dict) else []:
        if node.get("id") == conversation.node_id and conversation.node_id:
            block = REGISTRY.get(node.get("type", ""))
            data = node.get("data") or {}
            said = next((str(data[k]) for k in ("question", "text", "note") if data.get(k)), "")
            label = block.label if block is not None else str(node.get("type", ""))
            return f"{label}: {said}" if said else label
    return ""


def gathered(conversation: Conversation) -> list[tuple[str, str]]:
    """The variables the flow gathered, answers first, then where the person came from."""
    variables = conversation.variables
    # A quick reply's payload beside its title says the same thing twice (need_payload).
    answers = sorted(
        name
        for name in variables
        if name not in SYSTEM_VARIABLES
        and not (name.endswith("_payload") and variables.get(name) == variables.get(name[:-8]))
    )
    return [
        (name, str(variables[name])) for name in [*answers, "ref", "ad_id"] if variables.get(name)
    ]


def cached_names(conversations: list[Conversation]) -> dict[tuple[str, str], dict[str, str]]:
    """Profiles already in the cache for these conversations' people (one round trip; never a
    Graph call: a list of fifty must not wait for fifty profiles). The conversation page asks
    Facebook (tenants.profiles.people_profile), which fills the cache for the list."""
    keys = {profile_key(c.page.page_id, c.psid): (c.page.page_id, c.psid) for c in conversations}
    try:
        found = cache.get_many(list(keys))
    except Exception:
        logger.warning("messenger.inbox.profile_cache_unavailable", exc_info=True)
        return {}
    return {keys[key]: value for key, value in found.items() if isinstance(value, dict)}


# --- The reply window -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyWindow:
    """Whether an agent may answer now, how, and until when."""

    open: bool
    messaging_type: str = "RESPONSE"
    tag: str | None = None
    closes_at: datetime | None = None
    reason: str = ""


def reply_window(conversation: Conversation, *, now: datetime | None = None) -> ReplyWindow:
    now = now or timezone.now()
    last = conversation.last_user_message_at
    if last is None:
        return ReplyWindow(
            open=False,
            reason="This person has not written to the Page yet: Messenger lets a Page answer "
            "only after the person wrote.",
        )
    if now - last <= WINDOW:
        return ReplyWindow(open=True, closes_at=last + WINDOW)
    if settings.MESSENGER_HUMAN_AGENT_TAG and now - last <= HUMAN_AGENT_WINDOW:
        return ReplyWindow(
            open=True,
            messaging_type="MESSAGE_TAG",
            tag="HUMAN_AGENT",
            closes_at=last + HUMAN_AGENT_WINDOW,
            reason="More than 24 hours since the person's last message: your answer goes "
            "with Messenger's human agent tag, allowed for 7 days.",
        )
    closed_at = last + (HUMAN_AGENT_WINDOW if settings.MESSENGER_HUMAN_AGENT_TAG else WINDOW)
    allowed = "7 days" if settings.MESSENGER_HUMAN_AGENT_TAG else "24 hours"
    return ReplyWindow(
        open=False,
        closes_at=closed_at,
        reason=f"Messenger lets a Page answer within {allowed} of the person's last message; "
        f"that time ended on {timezone.localtime(closed_at):%d %b %Y at %H:%M}. The thread "
        "opens again when the person writes.",
    )


# --- Writing --------------------------------------------------------------------------------


def _newer_conversation(conversation: Conversation) -> Conversation | None:
    return (
        Conversation.objects.for_tenant(conversation.tenant)
        .filter(
            page_id=conversation.page_id,
            psid=conversation.psid,
            is_test=False,
            pk__gt=conversation.pk,
        )
        .order_by("-pk")
        .first()
    )


def _refusal(conversation: Conversation, error: GraphError) -> SendRefused:
    """Facebook's refusal in words the agent can act on; the Page's state follows it."""
    codes = {(error.code, error.error_subcode), (error.code, None)}
    if isinstance(error, TokenInvalidError):
        page_mark_token_invalid(page=conversation.page, error=error)
        text = (
            "Facebook no longer accepts this Page's connection: an admin reconnects the Page "
            "on the Pages screen."
        )
    elif codes & WINDOW_CODES:
        text = "Facebook says the time to answer this person has ended (the 24-hour window)."
    elif codes & UNAVAILABLE_CODES:
        text = (
            "This person cannot be reached on Messenger any more (they may have blocked the "
            "Page or deleted their account)."
        )
    elif codes & RESTRICTED_CODES:
        text = "Facebook has temporarily restricted this Page from sending messages."
    elif isinstance(error, PermissionMissingError):
        text = (
            "The Page's connection lacks the permission to send messages (pages_messaging): "
            "an admin reconnects the Page and grants it."
        )
    elif isinstance(error, RateLimitedError):
        text = (
            f"Facebook is limiting this Page's messages right now: try again in "
            f"{max(int(error.retry_after), 1)} seconds."
        )
    else:
        text = f"Facebook refused the message: {error.message}"
    return SendRefused(
        f"{text} Nothing was sent.",
        details={"code": error.code, "error_subcode": error.error_subcode},
    )


def inbox_reply(
    *,
    tenant: Tenant,
    actor: Actor,
    conversation_id: int,
    text: str,
    now: datetime | None = None,
    graph: GraphClient | None = None,
) -> Message:
    """Send ``text`` to the person from a person of the team; see the module docstring."""
    require_permission(tenant=tenant, actor=actor, permission="conversation.answer")
    conversation = conversation_for_inbox(tenant, conversation_id)
    text = text.strip()
    if not text:
        raise DomainError("Write a message first: the reply is empty.")
    if len(text) > MAX_REPLY_CHARS:
        raise DomainError(
            f"Messenger takes up to {MAX_REPLY_CHARS:,} characters in a message; this one has "
            f"{len(text):,}. Shorten it, or send it in two parts."
        )
    page = conversation.page
    if page.status in UNSENDABLE_PAGE_STATUSES or not page.token_encrypted:
        raise Conflict(
            f"{page.name} is {page.get_status_display().lower()}: an admin reconnects it on the "
            "Pages screen before anyone can answer from it."
        )
    newer = _newer_conversation(conversation)
    if newer is not None:
        raise Conflict(
            "This person has a newer conversation: answer there.",
            details={"conversation_id": newer.pk},
        )
    window = reply_window(conversation, now=now)
    if not window.open:
        raise Conflict(window.reason)
    try:
        with conversation_lock(page, conversation.psid, wait=2):
            result = _send(conversation, text, window, graph)
            sent_at = timezone.now()
            with transaction.atomic():
                conversation = (
                    Conversation.objects.for_tenant(tenant)
                    .select_for_update(of=("self",))
                    .select_related("page", "tenant")
                    .get(pk=conversation.pk)
                )
                took_over = _take_over(conversation, actor, sent_at)
                message = transcripts.message_record_agent(
                    conversation=conversation, text=text, mid=result, sent_at=sent_at
                )
    except ConversationBusy:
        raise Conflict(
            "A message of this person is being processed right now; try again in a moment."
        ) from None
    if took_over:
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.CONVERSATION_TAKEN_OVER,
            target=f"{page.name} / {conversation.psid}",
            details={"conversation_id": conversation.pk, "paused": conversation.paused_status},
        )
    logger.info(
        "messenger.inbox.replied",
        extra={"conversation_id": conversation.pk, "messaging_type": window.messaging_type},
    )
    return message


def _send(
    conversation: Conversation, text: str, window: ReplyWindow, graph: GraphClient | None
) -> str:
    try:
        answer = (graph or GraphClient.from_settings()).send_message(
            page_token=decrypt_token(conversation.page.token_encrypted),
            psid=conversation.psid,
            message={"text": text},
            messaging_type=window.messaging_type,
            tag=window.tag,
        )
    except GraphError as error:
        logger.warning(
            "messenger.inbox.reply_refused",
            extra={
                "conversation_id": conversation.pk,
                "code": error.code,
                "error_subcode": error.error_subcode,
                "fbtrace_id": error.fbtrace_id,
            },
        )
        raise _refusal(conversation, error) from None
    return answer.message_id


def _take_over(conversation: Conversation, actor: Actor, now: datetime) -> bool:
    """The agent answers: the bot stays quiet. True when the bot (or a closed thread) was
    taken over rather than a handed-off thread answered."""
    if conversation.status == ConversationStatus.HANDED_OFF:
        conversation.save(update_fields=["updated_at"])  # up the inbox, and its live check
        return False
    conversation.paused_status = conversation.status
    conversation.status = ConversationStatus.HANDED_OFF
    conversation.handed_off_at = now
    conversation.handoff_note = f"Taken over by {actor.label}."
    conversation.handoff_resolved_at = None
    conversation.handoff_resolved_by = None
    conversation.ended_at = None
    conversation.save()
    return True


def inbox_hand_back(*, tenant: Tenant, actor: Actor, conversation_id: int) -> Conversation:
    """The bot answers again (messenger.runtime.handoff_resolve)."""
    require_permission(tenant=tenant, actor=actor, permission="conversation.answer")
    conversation_for_inbox(tenant, conversation_id)
    return handoff_resolve(tenant=tenant, actor=actor, conversation_id=conversation_id)


def inbox_close(*, tenant: Tenant, actor: Actor, conversation_id: int) -> Conversation:
    """End the conversation without the flow going on: the next message the person writes
    starts whatever flow it triggers."""
    require_permission(tenant=tenant, actor=actor, permission="conversation.answer")
    conversation = conversation_for_inbox(tenant, conversation_id)
    try:
        with conversation_lock(conversation.page, conversation.psid, wait=2), transaction.atomic():
            conversation = (
                Conversation.objects.for_tenant(tenant)
                .select_for_update(of=("self",))
                .select_related("page")
                .get(pk=conversation.pk)
            )
            if conversation.status == ConversationStatus.ENDED:
                raise Conflict("This conversation is closed already.")
            now = timezone.now()
            was = conversation.status
            conversation.status = ConversationStatus.ENDED
            conversation.ended_at = now
            conversation.paused_status = ""
            if was == ConversationStatus.HANDED_OFF:
                conversation.handoff_resolved_at = now
                conversation.handoff_resolved_by = actor.user
            conversation.save()
    except ConversationBusy:
        raise Conflict(
            "A message of this person is being processed right now; try again in a moment."
        ) from None
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.CONVERSATION_CLOSED,
        target=f"{conversation.page.name} / {conversation.psid}",
        details={"conversation_id": conversation.pk, "was": was},
    )
    return conversation


# --- Emails on new handoffs -----------------------------------------------------------------


NOTIFY_ROLES = (Role.ADMIN, Role.OWNER)


def membership_notify_set(*, tenant: Tenant, actor: Actor, notify: bool) -> Membership:
    """An admin or owner turns their own email on new handoffs on or off."""
    membership = (
        Membership.objects.for_tenant(tenant).filter(user=actor.user).first()
        if actor.user is not None and actor.api_key is None
        else None
    )
    if membership is None or membership.role not in NOTIFY_ROLES:
        raise PermissionDenied("Emails on new handoffs are for the workspace's admins and owners.")
    if membership.notify_handoffs != notify:
        membership.notify_handoffs = notify
        membership.save(update_fields=["notify_handoffs", "updated_at"])
    return membership


def handoff_notify(*, conversation_id: int) -> int:
    """Email the opted-in admins and owners that a conversation needs a person; returns how
    many were emailed. Once per handoff, however often the task runs."""
    conversation = (
        Conversation.objects.select_related("page", "tenant")
        .filter(pk=conversation_id, is_test=False, status=ConversationStatus.HANDED_OFF)
        .first()
    )
    if conversation is None or conversation.handed_off_at is None:
        return 0
    key = f"inbox:notified:{conversation.pk}:{conversation.handed_off_at.timestamp()}"
    if not cache.add(key, 1, timeout=NOTIFIED_SECONDS):
        return 0
    # The person's name for the email, and in the cache for the inbox's list (never raises).
    profile = people_profile(conversation.page, conversation.psid)
    person = Person.objects.filter(
        tenant_id=conversation.tenant_id, page_id=conversation.page_id, psid=conversation.psid
    ).first()
    if person is not None and profile is not None:
        name = f"{profile.first_name} {profile.last_name}".strip()[:200]
        if name and name != person.name:
            Person.objects.filter(pk=person.pk).update(name=name)
    who = (
        f"{profile.first_name} {profile.last_name}".strip() if profile is not None else ""
    ) or "A Messenger user"
    tenant = conversation.tenant
    recipients = sorted(
        Membership.objects.for_tenant(tenant)
        .filter(notify_handoffs=True, role__in=NOTIFY_ROLES, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return 0
    link = settings.SITE_URL.rstrip("/") + reverse(
        "inbox:conversation", kwargs={"slug": tenant.slug, "conversation_id": conversation.pk}
    )
    lines = [
        f"{who} on {conversation.page.name} needs a person.",
        "",
        conversation.handoff_note or "The flow handed it to your team.",
        "",
        *(f"{name}: {value}" for name, value in gathered(conversation)),
        "",
        f"Answer it in Pagepulse: {link}",
        "",
        f"You get this email because you asked for it in {tenant.name}'s inbox; turn it off there.",
    ]
    subject = f"{conversation.page.name}: a conversation needs a person"
    body = "\n".join(lines)
    # One email each: admins need not see each other's addresses.
    send_mass_mail([(subject, body, None, [email]) for email in recipients])
    logger.info(
        "messenger.inbox.handoff_notified",
        extra={"conversation_id": conversation.pk, "recipients": len(recipients)},
    )
    return len(recipients)
