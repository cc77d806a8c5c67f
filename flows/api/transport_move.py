"""POST /api/v1/tenants/<slug>/pages/<id>/move-transport/: move a Page to the Conversions API.

Lives with the flows app because the move checks the Page's flows (tenants, below, cannot
read them); flows.transport_move does the work.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from events import transport_status
from flows import transport_move
from tenants.api.base import TenantScopedAPIView


class MoveTransportRequestSerializer(serializers.Serializer[Any]):
    transport = serializers.ChoiceField(
        choices=list(transport_move.MOVE_TARGETS),
        help_text="Where to move: conversions_api (the only target offered).",
    )
    dry_run = serializers.BooleanField(
        default=True,
        help_text="true (the default): say what would happen and change nothing but fetching "
        "or creating the Page's dataset. false: move.",
    )
    keep_unsendable = serializers.BooleanField(
        default=False,
        help_text="“Keep those events in Pagepulse only”: move even though published flows "
        "log events the Conversions API has no name for; they are kept (status kept), never "
        "sent.",
    )


class EventMoveSerializer(serializers.Serializer[Any]):
    event = serializers.CharField(help_text="The event as the block or the row names it.")
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    from_name = serializers.CharField(allow_null=True, help_text="Its name on the old transport.")
    to_name = serializers.CharField(allow_null=True, help_text="Its name on the new one.")
    outcome = serializers.ChoiceField(
        choices=list(transport_status.MOVE_OUTCOMES),
        help_text="maps: sent under to_name; cannot_map: no name there, kept in Pagepulse "
        "when the person agrees; needs_change: fix the block first.",
    )
    message = serializers.CharField()
    fix = serializers.CharField(allow_blank=True, help_text="What to do about it.")


class BlockMoveSerializer(EventMoveSerializer):
    flow_id = serializers.IntegerField()
    flow_name = serializers.CharField()
    published = serializers.BooleanField(help_text="The flow's live version (else its draft).")
    version = serializers.IntegerField(allow_null=True)
    where = serializers.CharField(help_text="“published version 3” or “draft”.")
    node_id = serializers.CharField()


class WaitingMoveSerializer(EventMoveSerializer):
    count = serializers.IntegerField(help_text="Waiting events (pending, retrying, blocked).")


class MoveSummarySerializer(serializers.Serializer[Any]):
    blocks = serializers.IntegerField()
    maps = serializers.IntegerField()
    cannot_map = serializers.IntegerField()
    needs_change = serializers.IntegerField()
    published_at_risk = serializers.IntegerField(
        help_text="Published blocks that stop the move (without keeping)."
    )
    waiting_events = serializers.IntegerField()


class MovedEventsSerializer(serializers.Serializer[Any]):
    mapped = serializers.IntegerField()
    kept = serializers.IntegerField()
    not_sent = serializers.IntegerField()


class MoveReportSerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField()
    from_ = serializers.CharField()
    to = serializers.CharField()
    dataset_id = serializers.CharField(help_text="The Page's Conversions API dataset.")
    dry_run = serializers.BooleanField()
    moved = serializers.BooleanField()
    keep_unsendable = serializers.BooleanField()
    can_move = serializers.BooleanField(help_text="Whether the move goes through as it is.")
    can_move_keeping = serializers.BooleanField(
        help_text="Whether it goes through with keep_unsendable."
    )
    summary = MoveSummarySerializer()
    blocks = BlockMoveSerializer(many=True)
    waiting_events = WaitingMoveSerializer(many=True)
    events_moved = MovedEventsSerializer(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # `from` is a Python keyword
        return fields


class MoveTransportView(TenantScopedAPIView):
    """Move a page_activities Page to the Conversions API, dry run first.

    Creates or fetches the Page's dataset, then checks every draft and published flow of the
    Page and every waiting event: what maps (fb_mobile_purchase → Purchase), what cannot
    (custom names, events without a Conversions API name) and what needs a change, with a fix
    for each. The real move (`dry_run: false`) is refused (409
    `transport_move_blocked`, `details.blocks`) while a published flow holds a block that
    cannot move, unless `keep_unsendable`; it rewrites no flow, carries waiting events over
    (mapped), and the audit log records it.
    """

    permissions = {"post": "page.manage"}

    @extend_schema(
        operation_id="pages_move_transport",
        tags=["pages"],
        request=MoveTransportRequestSerializer,
        responses={
            200: MoveReportSerializer,
            400: OpenApiResponse(description="Invalid input, or a Page that cannot move."),
            404: OpenApiResponse(description="No such Page in this workspace."),
            409: OpenApiResponse(
                description="`transport_move_blocked`: published blocks cannot move as they "
                "are (`error.details.blocks`)."
            ),
        },
        examples=[
            OpenApiExample("Dry run", request_only=True, value={"transport": "conversions_api"}),
            OpenApiExample(
                "Move, keeping custom events in Pagepulse",
                request_only=True,
                value={"transport": "conversions_api", "dry_run": False, "keep_unsendable": True},
            ),
        ],
    )
    def post(self, request: Request, *args: Any, page_id: int, **kwargs: Any) -> Response:
        serializer = MoveTransportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        report = transport_move.page_move_transport(
            tenant=self.tenant,
            actor=self.actor,
            page_pk=page_id,
            transport=data["transport"],
            dry_run=data["dry_run"],
            keep_unsendable=data["keep_unsendable"],
        )
        return Response(report.as_dict())
