"""The editor's test chat: the bot's own interpreter on a draft or a published version, with
no Facebook in the loop.

A test chat is a `Conversation` with `is_test=True`, one open per flow and person (or API key):
`chat_start` ends any earlier one and starts the flow, `chat_message` answers it,
`chat_reset` ends it. The bot's replies are returned instead of sent (no `OutboundMessage`
rows). `log_event` effects are logged through `events.services.log_events(test=True,
source="test_chat")` in the same transaction as the conversation's new state, with an
idempotency key from the conversation, node and step like the real runtime's, so they show in
the delivery log under "Test events" and are sent only when the workspace delivers test events (its Settings switch, or
`EVENTS_DELIVER_TEST_EVENTS`; see `events.delivery.delivers_test_events`).

A draft runs as it is now on every turn (an editor may save between two messages), and only if
it has no errors: one with errors is refused with `FlowInvalid` (400, `details.problems`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from events.models import EventSource, LoggedEvent
from events.services import log_events
from flows import interpreter
from flows.blocks import REGISTRY
from flows.conversations import conversation_state, event_input, system_variables
from flows.exceptions import FlowInvalid
from flows.models import (
    Conversation,
    ConversationStatus,
    Flow,
    FlowVersion,
)
from flows.validation import graph_problems, has_errors
from tenants.exceptions import DomainError, NotFound
from tenants.models import Tenant
from tenants.services import Actor
from tenants.services.workspaces import require_permission

logger = logging.getLogger(__name__)

DRAFT = "draft"
# A test chat's person has a made-up page-scoped id: 16 digits, as events validate a PSID,
# "901…" for a person and "902…" for an API key, then the user's or key's id.
_PSID_USER, _PSID_API_KEY = "901", "902"
_PSID_DIGITS = 16


class ChatEnded(DomainError):
    """No open test chat for this flow: start one."""

    code = "test_chat_ended"


@dataclass(frozen=True)
class ChatTurn:
    """What one turn of a test chat did, for the API to render."""

    conversation: Conversation
    document: Mapping[str, Any]
    replies: tuple[interpreter.SendMessage, ...]
    path: tuple[str, ...]
    handoff_note: str | None
    events: list[LoggedEvent]  # every event the session logged, oldest first
    new_event_ids: frozenset[int]  # of those, the ones this turn logged

    @property
    def version(self) -> str | int:
        version = self.conversation.flow_version
        return DRAFT if version is None else version.number


def chat_psid(actor: Actor) -> str:
    """The made-up PSID of `actor`'s test chats (the same on every flow)."""
    if actor.api_key is not None:
        prefix, number = _PSID_API_KEY, actor.api_key.pk
    elif actor.user is not None:
        prefix, number = _PSID_USER, actor.user.pk
    else:  # pragma: no cover  # the API admits only people and API keys
        raise NotFound("Sign in to use the test chat.")
    return prefix + str(number).zfill(_PSID_DIGITS - len(prefix))


def _flow(tenant: Tenant, flow_id: int) -> Flow:
    flow = Flow.objects.for_tenant(tenant).select_related("page").filter(pk=flow_id).first()
    if flow is None:
        raise NotFound("No such flow in this workspace.")
    return flow


def _runnable_draft(flow: Flow) -> Mapping[str, Any]:
    problems = graph_problems(flow.document, transport=flow.page.transport)
    if has_errors(problems):
        raise FlowInvalid(
            "The draft has errors, so it cannot run: fix them (or test a published version).",
            details={"problems": [problem.as_dict() for problem in problems]},
        )
    document: Mapping[str, Any] = flow.document
    return document


def _document(conversation: Conversation, flow: Flow) -> Mapping[str, Any]:
    if conversation.flow_version is None:
        return _runnable_draft(flow)
    document: Mapping[str, Any] = conversation.flow_version.document
    return document


def _open_chats(tenant: Tenant, flow: Flow, actor: Actor) -> Any:
    return (
        Conversation.objects.for_tenant(tenant)
        .filter(flow=flow, is_test=True, psid=chat_psid(actor))
        .exclude(status=ConversationStatus.ENDED)
    )


def _session_events(conversation: Conversation) -> list[LoggedEvent]:
    return list(
        LoggedEvent.objects.for_tenant(conversation.tenant)
        .filter(idempotency_key__startswith=key_prefix(conversation), test=True)
        .order_by("id")
    )


def key_prefix(conversation: Conversation) -> str:
    return f"test-chat:{conversation.pk}:"


def _apply(
    conversation: Conversation,
    result: interpreter.Result,
    *,
    flow: Flow,
    document: Mapping[str, Any],
) -> ChatTurn:
    """Store the turn's new state and its events, in one transaction (the caller's)."""
    now = timezone.now()
    state = result.state
    version = conversation.flow_version
    logged: list[LoggedEvent] = []
    handoff_note: str | None = None
    replies: list[interpreter.SendMessage] = []
    for effect in result.effects:
        if isinstance(effect, interpreter.SendMessage):
            replies.append(effect)
        elif isinstance(effect, interpreter.LogEvent):
            logged += log_events(
                tenant=conversation.tenant,
                page=conversation.page,
                psid=conversation.psid,
                events=[event_input(effect)],
                source=EventSource.TEST_CHAT,
                idempotency_key=f"{key_prefix(conversation)}{effect.node_id}:{effect.step}",
                source_ref=(
                    f"test chat {conversation.pk}, flow {flow.pk} "
                    f"{'draft' if version is None else f'v{version.number}'}, "
                    f"node {effect.node_id}"
                ),
                test=True,
                record_unsendable=True,
            )
        elif isinstance(effect, interpreter.Handoff):
            handoff_note = effect.note
            conversation.handoff_note = effect.note
            conversation.handed_off_at = now
    conversation.node_id = state.node_id or ""
    conversation.variables = dict(state.variables)
    conversation.step = state.step
    conversation.status = state.status
    conversation.retries = state.retries
    conversation.last_user_message_at = now
    if state.status == ConversationStatus.ENDED and conversation.ended_at is None:
        conversation.ended_at = now
    conversation.save()
    return ChatTurn(
        conversation=conversation,
        document=document,
        replies=tuple(replies),
        path=result.path,
        handoff_note=handoff_note,
        events=_session_events(conversation),
        new_event_ids=frozenset(event.pk for event in logged),
    )


def chat_start(
    *, tenant: Tenant, actor: Actor, flow_id: int, version: int | None, ref: str = ""
) -> ChatTurn:
    """Start a test chat on the draft (`version` None) or a published version number.

    Ends the actor's earlier test chat of this flow. Raises `NotFound` (no such flow or
    version in this workspace) or `FlowInvalid` (the draft has errors).
    """

    require_permission(tenant=tenant, actor=actor, permission="flow.edit")
    flow = _flow(tenant, flow_id)
    flow_version: FlowVersion | None = None
    if version is None:
        document = _runnable_draft(flow)
    else:
        flow_version = (
            FlowVersion.objects.for_tenant(tenant).filter(flow=flow, number=version).first()
        )
        if flow_version is None:
            raise NotFound(f"This flow has no version {version}: pick a published version.")
        document = flow_version.document
    with transaction.atomic():
        _open_chats(tenant, flow, actor).update(
            status=ConversationStatus.ENDED, ended_at=timezone.now()
        )
        conversation = Conversation.objects.create(
            tenant=tenant,
            page=flow.page,
            psid=chat_psid(actor),
            flow=flow,
            flow_version=flow_version,
            is_test=True,
        )
        result = interpreter.run(
            document,
            None,
            interpreter.Incoming(kind="start", ref=ref),
            system=system_variables(conversation, ref=ref),
        )
        turn = _apply(conversation, result, flow=flow, document=document)
    logger.info(
        "flows.test_chat.started",
        extra={"tenant_id": tenant.pk, "flow_id": flow.pk, "conversation_id": conversation.pk},
    )
    return turn


def _open_chat(
    tenant: Tenant, flow: Flow, actor: Actor, session: int | None, *, lock: bool
) -> Conversation:
    chats = _open_chats(tenant, flow, actor).select_related("page", "flow_version", "tenant")
    if lock:
        chats = chats.select_for_update(of=("self",))
    if session is not None:
        chats = chats.filter(pk=session)
    conversation: Conversation | None = chats.order_by("-id").first()
    if conversation is None:
        raise ChatEnded("This test chat has ended (or was never started): start a new one.")
    return conversation


def chat_message(
    *,
    tenant: Tenant,
    actor: Actor,
    flow_id: int,
    session: int | None,
    kind: str,
    text: str = "",
    payload: str = "",
) -> ChatTurn:
    """Answer the actor's open test chat of this flow (`session`: its id, when known).

    `kind` is "text", "quick_reply" or "postback" (a quick reply or button's title goes in
    `text`, its payload in `payload`). Raises `ChatEnded` when no test chat is open.
    """

    require_permission(tenant=tenant, actor=actor, permission="flow.edit")
    flow = _flow(tenant, flow_id)
    with transaction.atomic():
        conversation = _open_chat(tenant, flow, actor, session, lock=True)
        document = _document(conversation, flow)
        result = interpreter.run(
            document,
            conversation_state(conversation),
            interpreter.Incoming(kind=kind, text=text, payload=payload),
            system=system_variables(conversation),
        )
        return _apply(conversation, result, flow=flow, document=document)


def chat_reset(*, tenant: Tenant, actor: Actor, flow_id: int) -> int:
    """End the actor's open test chats of this flow; how many there were (0 is fine)."""
    require_permission(tenant=tenant, actor=actor, permission="flow.edit")
    flow = _flow(tenant, flow_id)
    return int(
        _open_chats(tenant, flow, actor).update(
            status=ConversationStatus.ENDED, ended_at=timezone.now()
        )
    )


def path_steps(document: Mapping[str, Any], path: Sequence[str]) -> list[dict[str, str]]:
    """The path's node ids with each block's type and the type's label."""
    types = {
        node.get("id"): node.get("type")
        for node in document.get("nodes", [])
        if isinstance(node, Mapping)
    }
    steps = []
    for node_id in path:
        kind = str(types.get(node_id) or "")
        block = REGISTRY.get(kind)
        steps.append({"node_id": node_id, "type": kind, "label": block.label if block else kind})
    return steps
