"""Threads a handoff block flagged for a person: `GET handoffs/`, `POST handoffs/<id>/resolve/`.

The list and the resolving are messenger.runtime's (`conversation_handoffs`, `handoff_resolve`);
test chats are left out: they are the editor's, not a person waiting.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from flows.models import Conversation
from messenger.runtime import conversation_handoffs, handoff_resolve
from tenants.api.base import TenantScopedViewSet

OPEN, RESOLVED = "open", "resolved"
STATES = (OPEN, RESOLVED)


class HandoffPageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    page_id = serializers.CharField(help_text="Facebook's id of the Page.")
    name = serializers.CharField()


class HandoffFlowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    name = serializers.CharField()


class HandoffSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    page = HandoffPageSerializer(read_only=True)
    flow = HandoffFlowSerializer(read_only=True, allow_null=True)
    version = serializers.IntegerField(
        source="flow_version.number",
        read_only=True,
        allow_null=True,
        help_text="The flow version the conversation runs on.",
    )
    note = serializers.CharField(source="handoff_note", read_only=True)
    state = serializers.SerializerMethodField(help_text="`open` until someone resolves it.")
    resolved_at = serializers.DateTimeField(
        source="handoff_resolved_at", read_only=True, allow_null=True
    )
    resolved_by = serializers.SerializerMethodField(help_text="Who resolved it (a person).")
    variables = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        read_only=True,
        help_text="What the flow gathered (answers, and psid, page_id, ref).",
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "page",
            "psid",
            "flow",
            "version",
            "handed_off_at",
            "note",
            "variables",
            "state",
            "status",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=STATES))
    def get_state(self, conversation: Conversation) -> str:
        return RESOLVED if conversation.handoff_resolved_at else OPEN

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_resolved_by(self, conversation: Conversation) -> str | None:
        user = conversation.handoff_resolved_by
        return None if user is None else (user.email or user.get_username())


class HandoffQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    state = serializers.ChoiceField(choices=STATES, default=OPEN, required=False)


STATE = OpenApiParameter(
    "state",
    str,
    OpenApiParameter.QUERY,
    enum=list(STATES),
    description="`open` (the default): waiting for a person; `resolved`: done, newest first.",
)


class HandoffViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Messenger threads a handoff block handed to a person, with what the flow gathered.

    The flow pauses for such a thread (the person's messages run nothing) until someone
    resolves it here; then the flow goes on from the handoff block.
    """

    queryset = Conversation.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = HandoffSerializer
    filter_backends: list[Any] = []
    permissions = {"list": "handoff.view", "resolve": "handoff.resolve"}
    bodyless_actions = frozenset({"resolve"})

    def get_queryset(self) -> QuerySet[Conversation]:
        if self.action == "resolve":
            return Conversation.objects.for_tenant(self.tenant).filter(is_test=False)
        query = HandoffQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        resolved = query.validated_data["state"] == RESOLVED
        return conversation_handoffs(self.tenant, resolved=resolved).filter(is_test=False)

    @extend_schema(parameters=[STATE])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={
            200: HandoffSerializer,
            409: OpenApiResponse(
                description="Not handed off (any more), or the person's message is being "
                "processed right now (try again)."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Done with this thread: the flow goes on from the handoff block."""
        conversation = handoff_resolve(
            tenant=self.tenant, actor=self.actor, conversation_id=self.get_object().pk
        )
        fresh = conversation_handoffs(self.tenant, resolved=True).get(pk=conversation.pk)
        return Response(HandoffSerializer(fresh).data)
