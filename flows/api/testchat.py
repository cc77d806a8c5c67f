"""The editor's test chat over the API: `POST flows/<id>/test-chat/` (flows.testchat does it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from events.models import EventStatus, LoggedEvent
from flows import testchat
from flows.models import REF_PATTERN, ConversationStatus
from graph_api.redaction import redact
from tenants.api.base import TenantScopedAPIView

ACTIONS = ("start", "message", "reset")
KINDS = ("text", "quick_reply", "postback")
MAX_ID = 2**31 - 1
VERSION_SCHEMA = {
    "oneOf": [
        {"type": "string", "enum": [testchat.DRAFT]},
        {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    ],
    "description": 'The draft ("draft") or a published version\'s number.',
}


@extend_schema_field(VERSION_SCHEMA)
class VersionField(serializers.Field):  # type: ignore[type-arg]
    """ "draft", or a published version's number; internally None for the draft."""

    default_error_messages = {
        "invalid": 'Send "draft" or the number of a published version (1, 2, …).',
    }

    def to_internal_value(self, data: object) -> int | None:
        if data == testchat.DRAFT:
            return None
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= MAX_ID:
            return data
        self.fail("invalid")
        return None  # pragma: no cover  # fail() raises

    def to_representation(self, value: object) -> object:
        return value


class TestChatRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    __test__ = False

    action = serializers.ChoiceField(
        choices=ACTIONS,
        help_text="`start` a new chat (ending yours), send a `message`, or `reset` (end it).",
    )
    version = VersionField(required=False, help_text='With `start`: what to run (default "draft").')
    session = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="The `session` a start answered (optional: you have one chat per flow).",
    )
    kind = serializers.ChoiceField(
        choices=KINDS,
        required=False,
        help_text="With `message`: typed `text` (the default), or a `quick_reply` or "
        "`postback` button pressed (its title in `text`, its payload in `payload`).",
    )
    text = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="What the person types."
    )
    payload = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="The payload of the quick reply or button pressed.",
    )
    ref = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        validators=[RegexValidator(REF_PATTERN)],
        help_text="With `start`: an m.me `ref` parameter, as if the person came by that link.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] != "message":
            return attrs
        text, payload = attrs.get("text", ""), attrs.get("payload", "")
        kind = attrs.setdefault("kind", "quick_reply" if payload else "text")
        if kind == "text" and not text:
            raise serializers.ValidationError({"text": ["Send the text the person types."]})
        if kind != "text" and not payload:
            raise serializers.ValidationError(
                {"payload": [f"A {kind.replace('_', ' ')} needs the payload of what was pressed."]}
            )
        return attrs


class QuickReplySerializer(serializers.Serializer):  # type: ignore[type-arg]
    title = serializers.CharField()
    payload = serializers.CharField()


class ButtonSerializer(serializers.Serializer):  # type: ignore[type-arg]
    type = serializers.CharField(
        help_text="`postback` (press it: send its payload as a `postback`) or `web_url` (a "
        "link: its URL is in `payload`)."
    )
    title = serializers.CharField()
    payload = serializers.CharField(allow_blank=True)


class ReplySerializer(serializers.Serializer):  # type: ignore[type-arg]
    node_id = serializers.CharField(help_text="The block that sent it.")
    text = serializers.CharField(allow_blank=True)
    quick_replies = QuickReplySerializer(many=True)
    buttons = ButtonSerializer(many=True)
    message = serializers.DictField(help_text="The Send API `message` object, exactly.")


class PathStepSerializer(serializers.Serializer):  # type: ignore[type-arg]
    node_id = serializers.CharField()
    type = serializers.CharField(help_text="The block type.")
    label = serializers.CharField(  # type: ignore[assignment]  # a field, not Field.label
        help_text="The block type's name, e.g. “Ask a question”."
    )


class TestEventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    __test__ = False

    id = serializers.IntegerField()
    event = serializers.CharField()
    params = serializers.DictField()
    value = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    currency = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=EventStatus.choices)
    status_label = serializers.CharField(help_text="The status in words, e.g. “Test, not sent”.")
    reason = serializers.CharField(
        allow_blank=True, help_text="Why it is not (or not yet) sent; empty when nothing to say."
    )
    test = serializers.BooleanField()
    node_id = serializers.CharField(help_text="The log_event block that logged it.")
    new = serializers.BooleanField(help_text="Logged by this turn.")
    created_at = serializers.DateTimeField()


class StateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    node_id = serializers.CharField(allow_null=True, help_text="The block waiting for input.")
    status = serializers.ChoiceField(choices=ConversationStatus.choices)
    step = serializers.IntegerField()
    retries = serializers.IntegerField(help_text="Failed answers to the current question.")


class HandoffNoteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    note = serializers.CharField(allow_blank=True)


class TestChatSerializer(serializers.Serializer):  # type: ignore[type-arg]
    __test__ = False

    session = serializers.IntegerField(help_text="This test chat's id.")
    version = VersionField()
    replies = ReplySerializer(many=True, help_text="What the bot answered this turn, in order.")
    path = PathStepSerializer(many=True, help_text="The blocks this turn ran, in order.")
    variables = serializers.DictField(child=serializers.CharField(allow_blank=True))
    events = TestEventSerializer(
        many=True, help_text="Every event this test chat logged (test events), oldest first."
    )
    handoff = HandoffNoteSerializer(
        allow_null=True, help_text="Set when this turn handed the conversation to a person."
    )
    state = StateSerializer()


def reply_body(message: Mapping[str, Any], node_id: str) -> dict[str, Any]:
    """A Send API message as the chat window draws it: text, quick replies, buttons."""
    attachment = message.get("attachment")
    template = attachment.get("payload", {}) if isinstance(attachment, Mapping) else {}
    text = template.get("text", "") if template else message.get("text", "")
    return {
        "node_id": node_id,
        "text": str(text),
        "quick_replies": [
            {"title": str(reply.get("title", "")), "payload": str(reply.get("payload", ""))}
            for reply in message.get("quick_replies", [])
            if reply.get("content_type") == "text"
        ],
        "buttons": [
            {
                "type": str(button.get("type", "")),
                "title": str(button.get("title", "")),
                "payload": str(button.get("payload", button.get("url", ""))),
            }
            for button in template.get("buttons", [])
        ],
        "message": dict(message),
    }


def _event_body(event: LoggedEvent, *, prefix: str, new: bool) -> dict[str, Any]:
    key = (event.idempotency_key or "").removeprefix(prefix)
    return {
        "id": event.pk,
        "event": event.event,
        "params": event.params,
        "value": event.value,
        "currency": event.currency,
        "status": event.status,
        "status_label": event.get_status_display(),
        "reason": redact(event.last_error),
        "test": event.test,
        "node_id": key.rsplit(":", 1)[0],
        "new": new,
        "created_at": event.created_at,
    }


def turn_body(turn: testchat.ChatTurn) -> dict[str, Any]:
    conversation = turn.conversation
    prefix = testchat.key_prefix(conversation)
    return {
        "session": conversation.pk,
        "version": turn.version,
        "replies": [reply_body(reply.message, reply.node_id) for reply in turn.replies],
        "path": testchat.path_steps(turn.document, turn.path),
        "variables": conversation.variables,
        "events": [
            _event_body(event, prefix=prefix, new=event.pk in turn.new_event_ids)
            for event in turn.events
        ],
        "handoff": None if turn.handoff_note is None else {"note": turn.handoff_note},
        "state": {
            "node_id": conversation.node_id or None,
            "status": conversation.status,
            "step": conversation.step,
            "retries": conversation.retries,
        },
    }


class TestChatView(TenantScopedAPIView):
    """Talk to a flow as a Messenger user would, without Facebook (the editor's test chat).

    `start` runs the draft (refused with 400 and `details.problems` if it has errors) or a
    published version from its Start block; `message` answers it (typed text, or a quick reply
    or postback button pressed); `reset` ends it (204). Each answer has the bot's replies, the
    blocks run, the variables, and the events the chat logged: test events, in the delivery log
    under "Test events", sent to Facebook only when test delivery is on.
    """

    __test__ = False
    permissions = {"post": "flow.edit"}

    @extend_schema(
        operation_id="flows_test_chat",
        request=TestChatRequestSerializer,
        responses={
            200: TestChatSerializer,
            204: OpenApiResponse(description="`reset`: the test chat ended."),
            400: OpenApiResponse(
                description="Invalid input; `flow_invalid` (the draft has errors: "
                "`error.details.problems`), or `test_chat_ended` (start a new one)."
            ),
            404: OpenApiResponse(description="No such flow or version in this workspace."),
        },
    )
    def post(self, request: Request, *args: Any, flow_id: int, **kwargs: Any) -> Response:
        serializer = TestChatRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tenant, actor = self.tenant, self.actor
        if data["action"] == "reset":
            testchat.chat_reset(tenant=tenant, actor=actor, flow_id=flow_id)
            return Response(status=status.HTTP_204_NO_CONTENT)
        if data["action"] == "start":
            turn = testchat.chat_start(
                tenant=tenant,
                actor=actor,
                flow_id=flow_id,
                version=data.get("version"),
                ref=data.get("ref", ""),
            )
        else:
            turn = testchat.chat_message(
                tenant=tenant,
                actor=actor,
                flow_id=flow_id,
                session=data.get("session"),
                kind=data["kind"],
                text=data.get("text", ""),
                payload=data.get("payload", ""),
            )
        return Response(TestChatSerializer(turn_body(turn)).data)
