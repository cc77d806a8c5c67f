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
    published_by_label = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="Who published it: an email, or the API key and the member it belongs to.",
    )

    class Meta:
        model = FlowVersion
        fields = ["number", "note", "published_by", "published_by_label", "published_at"]
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


class DraftDiffSerializer(serializers.Serializer[Any]):
    """What changed from a published version to the draft (nodes and edges by id)."""

    from_version = serializers.IntegerField()
    to_version = serializers.ChoiceField(choices=["draft"], help_text="Always `draft`.")
    draft_revision = serializers.IntegerField(
        help_text='The draft\'s revision this compares (its ETag is `"r<revision>"`).'
    )
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
    id = serializers.CharField(help_text="The edge's `sourceHandle`, e.g. `next`, `true`.")
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    required = serializers.BooleanField(  # type: ignore[assignment]  # a field named like a Serializer attribute
        help_text="Publishing needs it connected."
    )
    label_when_branching = serializers.CharField(
        allow_null=True,
        help_text="The label to show instead of `label` while the block is branching (at "
        "least one of its dynamic handles is connected), e.g. “Any other answer” for the "
        "`next` of a block whose quick replies lead elsewhere; null: always `label`.",
    )


class DynamicHandlesSerializer(serializers.Serializer[Any]):
    """Handles computed from a block's data: one per item of a list that carries an `id`.

    For each spec, in order, and each item of `data[items]` (in order) that is an object whose
    `id` is a string matching `^[A-Za-z0-9_-]{1,40}$` and whose properties equal every value of
    `when`, the block has the handle `{"id": prefix + item.id, "label": item[label],
    "required": false, "label_when_branching": null}`, after its static `handles`; an id
    repeated in the list gives one handle (the first item's; validation reports the repeat as
    `duplicate_id`). Items without an id have no handle (flows written before ids keep
    working); an editor gives every new item a fresh id, unique in the block. A node's
    handles are therefore computable from its `data` alone, without knowing the block type.
    """

    items = serializers.CharField(help_text="The property of `data` holding the list.")
    prefix = serializers.CharField(help_text="The handle id is this followed by the item's id.")
    label = serializers.CharField(  # type: ignore[assignment]  # a field named like a Serializer attribute
        help_text="The item property whose value labels the handle."
    )
    when = serializers.DictField(
        help_text="Only items whose properties equal these values have a handle (e.g. "
        '`{"type": "postback"}`: a link button has none); `{}`: every item with an id.'
    )
    noun = serializers.CharField(help_text="What one item is called, e.g. “quick reply”.")
    required = serializers.BooleanField(  # type: ignore[assignment]  # a field named like a Serializer attribute
        help_text="Whether publishing needs these handles connected (false: optional)."
    )


class BlockTypeSerializer(serializers.Serializer[Any]):
    """One block type of the registry: what an editor needs to show, configure and wire it.

    - `schema` is the JSON Schema (draft 2020-12) of a node's `data`. Every property a form
      shows has a `title` (and usually a `description` and a `default`); `properties` are in
      the order a form should show them; an enum a person picks from carries
      `x-enumLabels`, an object from each enum value to its label in plain words (validation
      ignores it; the values are what `data` holds).
    - A node's handles are its type's `handles` followed by the ones `dynamic_handles`
      computes from its `data` (see DynamicHandles). While any dynamic handle of a node is
      connected the node is *branching*: a handle's `label_when_branching` replaces its
      `label`, and a block with `waits_when_branching` waits for the person's answer (and
      leaves by the handle of the reply or button it matches, else by `next`).
    """

    type = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like a Serializer attribute
    description = serializers.CharField()
    schema = ObjectField(help_text="JSON Schema (2020-12) of the node's `data`.")
    defaults = ObjectField(help_text="`data` of a new block of this type.")
    handles = HandleSerializer(many=True, help_text="The handles every block of the type has.")
    dynamic_handles = DynamicHandlesSerializer(
        many=True, help_text="How to compute a node's further handles from its `data`."
    )
    sets_from = serializers.ListField(
        child=serializers.CharField(),
        help_text="Fields of `data` naming a variable the block sets (an Ask's `variable`).",
    )
    waits_for_input = serializers.BooleanField(
        help_text="It always waits for the person's answer (a loop through it is fine)."
    )
    waits_when_branching = serializers.BooleanField(
        help_text="It waits for the person's answer while branching (a dynamic handle connected)."
    )
    terminal = serializers.BooleanField(help_text="The conversation ends here (no handles).")


class FlowTemplateSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    trigger = TriggerSerializer()
    document = DocumentField()


# --- Funnel stats (GET …/flows/<id>/stats/) -----------------------------------------------------

MAX_STATS_DAYS = 366
DEFAULT_STATS_DAYS = 30


class StatsQuerySerializer(serializers.Serializer[Any]):
    """`from`, `to` (ISO dates, UTC days, inclusive) and `version` (a number, or `all`)."""

    from_ = serializers.DateField(required=False)
    to = serializers.DateField(required=False)
    version = serializers.RegexField(
        r"^(all|[1-9][0-9]{0,9})$",
        required=False,
        error_messages={
            "invalid": "Give a version number of this flow (1, 2, …) or `all`; leave it out "
            "for the latest version."
        },
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # a Python keyword, the query's own name
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from datetime import UTC, datetime, timedelta

        until = attrs.get("to") or datetime.now(UTC).date()
        since = attrs.get("from") or until - timedelta(days=DEFAULT_STATS_DAYS - 1)
        if since > until:
            raise serializers.ValidationError(
                {"from": [f"`from` ({since}) is after `to` ({until}): swap them."]}
            )
        if (until - since).days + 1 > MAX_STATS_DAYS:
            raise serializers.ValidationError(
                {
                    "from": [
                        f"At most {MAX_STATS_DAYS} days at a time: narrow `from` and `to` "
                        f"({(until - since).days + 1} days asked)."
                    ]
                }
            )
        attrs["from"], attrs["to"] = since, until
        return attrs


class NodeEventsSerializer(serializers.Serializer[Any]):
    delivered = serializers.IntegerField(help_text="Events Facebook accepted.")
    failed = serializers.IntegerField(help_text="Rejected by Facebook, or given up on (dead).")
    not_sent = serializers.IntegerField(
        help_text="Never sent, each with a reason: not sendable on the Page's transport, kept "
        "in Pagepulse, or a test event."
    )
    pending = serializers.IntegerField(help_text="Still on their way: pending, retrying, blocked.")
    last_error = serializers.CharField(help_text="The newest failing event's error, or empty.")
    last_error_at = serializers.DateTimeField(allow_null=True)


class NodeExitSerializer(serializers.Serializer[Any]):
    handle = serializers.CharField(help_text="The block's handle (an edge's sourceHandle).")
    count = serializers.IntegerField(help_text="Times conversations left the block by it.")


class NodeStatsSerializer(serializers.Serializer[Any]):
    node_id = serializers.CharField()
    entered = serializers.IntegerField(help_text="Times conversations arrived at the block.")
    exited = serializers.IntegerField(help_text="Times they left it along an edge (all handles).")
    ended = serializers.IntegerField(help_text="Conversations that ended at the block.")
    handed_off = serializers.IntegerField(help_text="Conversations handed off at the block.")
    exits = serializers.SerializerMethodField()
    events = NodeEventsSerializer(
        allow_null=True, help_text="A log_event block's events in the period; else null."
    )

    @extend_schema_field(NodeExitSerializer(many=True))
    def get_exits(self, stats: Any) -> list[dict[str, Any]]:
        return [{"handle": h, "count": n} for h, n in sorted(stats.exits.items())]


class FlowStatsSerializer(serializers.Serializer[Any]):
    flow = serializers.IntegerField(source="flow_id")
    version = serializers.IntegerField(
        allow_null=True, help_text="The version counted; null when `version=all`."
    )
    versions = serializers.ListField(
        child=serializers.IntegerField(), help_text="The flow's version numbers, newest first."
    )
    started = serializers.IntegerField(help_text="Conversations that started (at Start).")
    nodes = NodeStatsSerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(source="since", help_text="First day (UTC).")
        fields["to"] = serializers.DateField(source="until", help_text="Last day (UTC).")
        return fields
