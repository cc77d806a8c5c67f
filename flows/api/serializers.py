"""Flows API serializers: parse requests and render flows, versions, problems and diffs.

Rules live in flows.services and flows.validation; these only check types and sizes, so the
API and the services never disagree about what is valid.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from flows.flow_templates import TEMPLATES
from flows.models import (
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    REF_PATTERN,
    Flow,
    FlowStatus,
    FlowVersion,
    TriggerKind,
)
from flows.validation import DOCUMENT_SCHEMA

MAX_ID = 2**31 - 1  # ids are integers; anything larger names nothing


def _openapi_document_schema() -> dict[str, Any]:
    """flows.validation's document schema, in OpenAPI 3.0's dialect (no type lists)."""
    schema = copy.deepcopy(DOCUMENT_SCHEMA)
    edge = schema["properties"]["edges"]["items"]["properties"]
    edge["sourceHandle"] = {"type": "string", "nullable": True, "maxLength": 100, "example": "next"}
    schema["properties"]["nodes"]["items"]["properties"]["data"]["additionalProperties"] = True
    schema["description"] = (
        "The editor's document: nodes (id, type, position, data) and edges "
        "(id, source, sourceHandle, target). See docs/adr/0004-flow-document-format.md."
    )
    return schema


DOCUMENT_OPENAPI = _openapi_document_schema()


@extend_schema_field(DOCUMENT_OPENAPI)
class DocumentField(serializers.JSONField):
    """A flow document; its shape is checked by flows.validation.document_problems."""


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Send a JSON object.")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer[Any]):
    """A request body that refuses fields it does not know: a typo is a 400, not ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown field: remove it (see the API docs)."] for key in unknown}
                )
        return super().to_internal_value(data)


class TriggerSerializer(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=TriggerKind.choices,
        help_text="default: answers what no other flow does; keywords; get_started: the Get "
        "Started button; ref: an m.me link, ad or QR code with this `ref`.",
    )
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=MAX_KEYWORD_LENGTH),
        max_length=MAX_KEYWORDS,
        required=False,
        default=list,
    )
    ref = serializers.RegexField(
        REF_PATTERN,
        required=False,
        allow_blank=True,
        default="",
        help_text="Letters, digits, -, _, =",
    )


class FlowSummarySerializer(serializers.ModelSerializer[Flow]):
    page_name = serializers.CharField(source="page.name", read_only=True)
    trigger = TriggerSerializer(read_only=True)
    latest_version = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The last published version's number."
    )
    has_unpublished_changes = serializers.BooleanField(read_only=True)
    updated_by = serializers.EmailField(
        source="updated_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Flow
        fields = [
            "id",
            "name",
            "description",
            "page",
            "page_name",
            "trigger",
            "status",
            "revision",
            "latest_version",
            "has_unpublished_changes",
            "updated_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FlowSerializer(FlowSummarySerializer):
    document = DocumentField(read_only=True)

    class Meta(FlowSummarySerializer.Meta):
        fields = [*FlowSummarySerializer.Meta.fields, "document"]
        read_only_fields = fields


class FlowCreateSerializer(StrictSerializer):
    page = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The id of one of this workspace's Pages."
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    trigger = TriggerSerializer(required=False)
    document = DocumentField(required=False)
    template = serializers.ChoiceField(
        choices=sorted(TEMPLATES),
        required=False,
        help_text="Start from a template (GET /api/v1/flow-templates/).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("template") and not (attrs.get("name") or "").strip():
            raise serializers.ValidationError({"name": ["Give the flow a name."]})
        return attrs


class FlowUpdateSerializer(StrictSerializer):
    revision = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="The revision you loaded (or send it as If-Match). A stale one is a 409.",
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000, allow_blank=True, required=False)
    page = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    trigger = TriggerSerializer()
    document = DocumentField()
    status = serializers.ChoiceField(choices=FlowStatus.choices, required=False)


class ProblemSerializer(serializers.Serializer[Any]):
    node_id = serializers.CharField(allow_null=True, help_text="The block, or null for the flow.")
    field = serializers.CharField(allow_blank=True, help_text="e.g. data.text, handles.next")
    message = serializers.CharField()
    severity = serializers.ChoiceField(choices=["error", "warning"])
    code = serializers.CharField()


class ValidationResultSerializer(serializers.Serializer[Any]):
    valid = serializers.BooleanField(help_text="No errors: publishing would succeed.")
    errors = serializers.IntegerField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    warnings = serializers.IntegerField()
    problems = ProblemSerializer(many=True)


class FlowVersionSerializer(serializers.ModelSerializer[FlowVersion]):
    published_by = serializers.EmailField(source="published_by.email", read_only=True, default=None)

    class Meta:
        model = FlowVersion
        fields = ["number", "note", "published_by", "published_at"]
        read_only_fields = fields


class FlowVersionDetailSerializer(FlowVersionSerializer):
    document = DocumentField(read_only=True)

    class Meta(FlowVersionSerializer.Meta):
        fields = [*FlowVersionSerializer.Meta.fields, "document"]
        read_only_fields = fields


class PublishedSerializer(FlowVersionDetailSerializer):
    warnings = ProblemSerializer(many=True, read_only=True)

    class Meta(FlowVersionDetailSerializer.Meta):
        fields = [*FlowVersionDetailSerializer.Meta.fields, "warnings"]
        read_only_fields = fields


class PublishSerializer(StrictSerializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    revision = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="Publish only if the draft is still this revision.",
    )


class RevisionSerializer(StrictSerializer):
    revision = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class DuplicateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class NodeChangeSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField(), help_text="type and/or data")  # type: ignore[assignment]  # a field named like a Serializer attribute
    before = ObjectField()
    after = ObjectField()


class EdgeChangeSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    before = ObjectField()
    after = ObjectField()


class NodeDiffSerializer(serializers.Serializer[Any]):
    added = serializers.ListField(child=ObjectField())
    removed = serializers.ListField(child=ObjectField())
    changed = NodeChangeSerializer(many=True)
    moved = serializers.ListField(
        child=serializers.CharField(), help_text="Ids of nodes that only moved on the canvas."
    )


class EdgeDiffSerializer(serializers.Serializer[Any]):
    added = serializers.ListField(child=ObjectField())
    removed = serializers.ListField(child=ObjectField())
    changed = EdgeChangeSerializer(many=True)


class DiffSerializer(serializers.Serializer[Any]):
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    nodes = NodeDiffSerializer()
    edges = EdgeDiffSerializer()


class SourcePageSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    transport = serializers.CharField()


class FlowExportSerializer(serializers.Serializer[Any]):
    format = serializers.CharField()
    format_version = serializers.IntegerField()
    exported_at = serializers.DateTimeField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    trigger = TriggerSerializer()
    document = DocumentField()
    source_page = SourcePageSerializer(help_text="Where it came from (not used by import).")


class FlowImportSerializer(StrictSerializer):
    page = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The Page of this workspace to put it on."
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    flow = ObjectField(help_text="The body GET …/flows/<id>/export/ returned.")


class HandleSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    required = serializers.BooleanField()  # type: ignore[assignment]  # a field named like a Serializer attribute


class BlockTypeSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    description = serializers.CharField()
    schema = ObjectField(help_text="JSON Schema (2020-12) of the node's `data`.")
    defaults = ObjectField(help_text="`data` of a new block of this type.")
    handles = HandleSerializer(many=True)
    waits_for_input = serializers.BooleanField()
    terminal = serializers.BooleanField()


class FlowTemplateSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    trigger = TriggerSerializer()
    document = DocumentField()
