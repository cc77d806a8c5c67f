"""The flows API: the editor and integrators build, validate, publish and version flows here."""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django.db.models import Max, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from flows import services
from flows.api.serializers import (
    BlockTypeSerializer,
    DiffSerializer,
    DraftDiffSerializer,
    DuplicateSerializer,
    FlowCreateSerializer,
    FlowExportSerializer,
    FlowImportSerializer,
    FlowSerializer,
    FlowStatsSerializer,
    FlowSummarySerializer,
    FlowTemplateSerializer,
    FlowUpdateSerializer,
    FlowVersionDetailSerializer,
    FlowVersionSerializer,
    PublishedSerializer,
    PublishSerializer,
    RevisionSerializer,
    StatsQuerySerializer,
    ValidationResultSerializer,
)
from flows.blocks import REGISTRY
from flows.blocks.base import ERROR
from flows.flow_templates import TEMPLATES
from flows.models import Flow, FlowStatus, FlowVersion
from flows.selectors import flow_stats
from tenants.api.base import TenantScopedViewSet

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description='The ETag of the flow you loaded (e.g. "r3"); instead of `revision` in the body.',
)
NUMBER = OpenApiParameter("number", int, OpenApiParameter.PATH, description="Version number.")
OTHER = OpenApiParameter("other", int, OpenApiParameter.PATH, description="Version to compare.")
ETAG_RE = re.compile(r'^(?:W/)?"r(\d{1,10})"$')


def etag(flow: Flow) -> str:
    """The draft's entity tag: it changes exactly when the revision does."""
    return f'"r{flow.revision}"'


class FlowFilter(django_filters.FilterSet):
    # Not `page`: that is the pagination's page number.
    page_id = django_filters.NumberFilter(field_name="page_id", min_value=1, max_value=2**31 - 1)
    status = django_filters.ChoiceFilter(choices=FlowStatus.choices)
    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, label="Name contains"
    )

    class Meta:
        model = Flow
        fields = ["page_id", "status", "search"]


class FlowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Flows of the workspace: the draft, its validation, publishing and versions.

    Every write of the draft names the revision it was based on (`revision` in the body, or
    `If-Match` with the ETag a read returned). If someone saved in between, the answer is 409
    with `details.current_revision` and nothing is written.
    """

    queryset = Flow.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = FlowSerializer
    filterset_class = FlowFilter
    permissions = {
        "list": "flow.view",
        "retrieve": "flow.view",
        "create": "flow.edit",
        "update": "flow.edit",
        "partial_update": "flow.edit",
        "destroy": "flow.edit",
        "validate": "flow.view",
        "publish": "flow.publish",
        "versions": "flow.view",
        "version": "flow.view",
        "version_diff": "flow.view",
        "version_draft_diff": "flow.view",
        "restore": "flow.edit",
        "duplicate": "flow.edit",
        "export": "flow.view",
        "import_flow": "flow.edit",
        "stats": "flow.view",
    }
    bodyless_actions = frozenset({"validate"})

    def get_queryset(self) -> QuerySet[Flow]:
        return (
            Flow.objects.for_tenant(self.tenant)
            .select_related("page", "updated_by")
            .annotate(latest_version=Max("versions__number"))
            .order_by("name", "id")  # Meta.ordering does not apply to an aggregating query
        )

    def get_serializer_class(self) -> type[Any]:
        return FlowSummarySerializer if self.action == "list" else FlowSerializer

    def _render(self, flow: Flow, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=flow.pk)
        return Response(
            FlowSerializer(fresh).data, status=status_code, headers={"ETag": etag(fresh)}
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        flow = self.get_object()
        return Response(FlowSerializer(flow).data, headers={"ETag": etag(flow)})

    @extend_schema(request=FlowCreateSerializer, responses={201: FlowSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = FlowCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        flow = services.flow_create(
            tenant=self.tenant, actor=self.actor, page_id=data.pop("page"), **data
        )
        return self._render(flow, status.HTTP_201_CREATED)

    def _revision(self, request: Request, body: dict[str, Any]) -> int:
        if "revision" in body:
            return int(body.pop("revision"))
        header = request.headers.get("If-Match", "").strip()
        match = ETAG_RE.match(header)
        if match:
            return int(match.group(1))
        raise ValidationError(
            {
                "revision": [
                    "Send the revision you loaded: `revision` in the body, or the ETag you got "
                    'as If-Match (e.g. If-Match: "r3").'
                ]
            }
        )

    @extend_schema(
        request=FlowUpdateSerializer, responses={200: FlowSerializer}, parameters=[IF_MATCH]
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        flow = self.get_object()
        serializer = FlowUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        revision = self._revision(request, data)
        if "page" in data:
            data["page_id"] = data.pop("page")
        flow = services.flow_update_draft(
            tenant=self.tenant, actor=self.actor, flow_id=flow.pk, revision=revision, **data
        )
        return self._render(flow)

    @extend_schema(
        request=FlowUpdateSerializer, responses={200: FlowSerializer}, parameters=[IF_MATCH]
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.flow_delete(tenant=self.tenant, actor=self.actor, flow_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: ValidationResultSerializer})
    @action(detail=True, methods=["post"])
    def validate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Check the draft as publishing would; errors block publishing, warnings do not."""
        problems = services.flow_validate(flow=self.get_object())
        errors = sum(p.severity == ERROR for p in problems)
        body = {
            "valid": errors == 0,
            "errors": errors,
            "warnings": len(problems) - errors,
            "problems": [p.as_dict() for p in problems],
        }
        return Response(ValidationResultSerializer(body).data)

    @extend_schema(
        request=PublishSerializer,
        responses={
            201: PublishedSerializer,
            400: OpenApiResponse(description="Invalid: `error.details.problems` lists why."),
        },
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Validate the draft and freeze it as the next numbered version."""
        flow = self.get_object()
        serializer = PublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version, problems = services.flow_publish(
            tenant=self.tenant, actor=self.actor, flow_id=flow.pk, **serializer.validated_data
        )
        version.warnings = [p.as_dict() for p in problems]  # type: ignore[attr-defined]
        return Response(PublishedSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: FlowVersionSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def versions(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Published versions, newest first."""
        flow = self.get_object()
        rows = (
            FlowVersion.objects.for_tenant(self.tenant)
            .filter(flow=flow)
            .select_related("published_by", "published_by_api_key__owner")
            .order_by("-number")
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(FlowVersionSerializer(page, many=True).data)

    @extend_schema(
        responses={200: FlowStatsSerializer},
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                description="First day, UTC (default: 29 days before `to`).",
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, description="Last day, UTC (default: today)."
            ),
            OpenApiParameter(
                "version",
                str,
                pattern=r"^(all|[1-9][0-9]{0,9})$",
                description="A version number, or `all` (default: the latest version).",
            ),
        ],
        filters=False,
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def stats(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The funnel: per block, how many times conversations arrived, left by each handle,
        ended or were handed off, and a log_event block's events by status with the last
        error; days `from` to `to` (UTC, at most 366), one version or all."""
        flow = self.get_object()
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        asked = query.validated_data.get("version")
        versions = list(
            FlowVersion.objects.for_tenant(self.tenant)
            .filter(flow=flow)
            .order_by("-number")
            .only("pk", "number", "document")
        )
        numbers = [version.number for version in versions]
        if asked == "all":
            chosen = versions
        elif asked is None:
            chosen = versions[:1]
        else:
            chosen = [version for version in versions if version.number == int(asked)]
            if not chosen:
                have = (
                    f"its versions are {numbers[-1]} to {numbers[0]}"
                    if numbers
                    else "it has none: publish it first"
                )
                raise ValidationError({"version": [f"This flow has no version {asked}: {have}."]})
        stats = flow_stats(
            tenant=self.tenant,
            flow=flow,
            since=query.validated_data["from"],
            until=query.validated_data["to"],
            versions=chosen,
        )
        stats.versions = numbers
        if asked == "all":
            stats.version = None
        return Response(FlowStatsSerializer(stats).data)

    @extend_schema(responses={200: FlowVersionDetailSerializer}, parameters=[NUMBER])
    @action(detail=True, methods=["get"], url_path="versions/<int:number>")
    def version(self, request: Request, *args: Any, number: int, **kwargs: Any) -> Response:
        version = services.flow_version_get(
            tenant=self.tenant, flow_id=self.get_object().pk, number=number
        )
        return Response(FlowVersionDetailSerializer(version).data)

    @extend_schema(responses={200: DiffSerializer}, parameters=[NUMBER, OTHER])
    @action(detail=True, methods=["get"], url_path="versions/<int:number>/diff/<int:other>")
    def version_diff(
        self, request: Request, *args: Any, number: int, other: int, **kwargs: Any
    ) -> Response:
        """Nodes and edges added, removed and changed from version `number` to `other`."""
        diff = services.flow_versions_diff(
            tenant=self.tenant, flow_id=self.get_object().pk, a=number, b=other
        )
        return Response(DiffSerializer(diff).data)

    @extend_schema(responses={200: DraftDiffSerializer}, parameters=[NUMBER])
    @action(detail=True, methods=["get"], url_path="versions/<int:number>/diff/draft")
    def version_draft_diff(
        self, request: Request, *args: Any, number: int, **kwargs: Any
    ) -> Response:
        """Nodes and edges added, removed and changed from version `number` to the draft."""
        diff = services.flow_version_draft_diff(
            tenant=self.tenant, flow_id=self.get_object().pk, number=number
        )
        return Response(DraftDiffSerializer(diff).data)

    @extend_schema(request=RevisionSerializer, responses={200: FlowSerializer}, parameters=[NUMBER])
    @action(detail=True, methods=["post"], url_path="versions/<int:number>/restore")
    def restore(self, request: Request, *args: Any, number: int, **kwargs: Any) -> Response:
        """Copy a version into the draft (a new revision; the versions stay as they are)."""
        flow = self.get_object()
        serializer = RevisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        flow = services.flow_restore(
            tenant=self.tenant,
            actor=self.actor,
            flow_id=flow.pk,
            number=number,
            **serializer.validated_data,
        )
        return self._render(flow)

    @extend_schema(request=DuplicateSerializer, responses={201: FlowSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        flow = self.get_object()
        serializer = DuplicateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        copy = services.flow_duplicate(
            tenant=self.tenant, actor=self.actor, flow_id=flow.pk, **serializer.validated_data
        )
        return self._render(copy, status.HTTP_201_CREATED)

    @extend_schema(responses={200: FlowExportSerializer})
    @action(detail=True, methods=["get"])
    def export(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The flow as JSON for POST …/flows/import/ (in this or another workspace)."""
        return Response(FlowExportSerializer(services.flow_export(flow=self.get_object())).data)

    @extend_schema(request=FlowImportSerializer, responses={201: FlowSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_flow(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create a draft from an export, on a Page of this workspace; ids are renewed."""
        serializer = FlowImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        flow = services.flow_import(
            tenant=self.tenant,
            actor=self.actor,
            page_id=data["page"],
            data=data["flow"],
            name=data["name"],
        )
        return self._render(flow, status.HTTP_201_CREATED)


class BlockTypesView(APIView):
    """The block types a flow may use, with the JSON Schema of each one's settings."""

    @extend_schema(responses={200: BlockTypeSerializer(many=True)}, operation_id="blocks_list")
    def get(self, request: Request) -> Response:
        blocks = [block.palette() for block in REGISTRY.values()]
        return Response(BlockTypeSerializer(blocks, many=True).data)


class FlowTemplatesView(APIView):
    """Ready-made flows; create one with POST …/flows/ {"template": key, "page": id}."""

    @extend_schema(
        responses={200: FlowTemplateSerializer(many=True)}, operation_id="flow_templates_list"
    )
    def get(self, request: Request) -> Response:
        templates = [template.summary() for template in TEMPLATES.values()]
        return Response(FlowTemplateSerializer(templates, many=True).data)
