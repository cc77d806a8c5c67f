"""Flows and their published versions.

A `Flow` has one mutable draft document and a `revision` counter that every save bumps, so
two editors cannot overwrite each other silently. Publishing freezes the draft into a numbered,
immutable `FlowVersion`; conversations run on the version they started on. The document's
shape is the editor's own (docs/adr/0004-flow-document-format.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import ConnectedPage, TenantOwnedModel

# What a Messenger `ref` (m.me link, ad, QR code) may hold: "Only alphanumeric characters as
# well as -, _, and =" (reference §6.4). The length limit is ours.
REF_PATTERN = r"^[A-Za-z0-9_=-]{1,100}$"
MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 50


def empty_document() -> dict[str, Any]:
    return {"nodes": [], "edges": []}


class TriggerKind(models.TextChoices):
    DEFAULT = "default", "Default reply"
    KEYWORDS = "keywords", "Keywords"
    GET_STARTED = "get_started", "Get Started button"
    REF = "ref", "Ref link parameter"


class FlowStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # not live (never published, or taken down)
    PUBLISHED = "published", "Published"  # its latest version answers Messenger users
    ARCHIVED = "archived", "Archived"  # put away; versions kept


class FlowAuditAction(models.TextChoices):
    """Audit actions of flows (recorded through tenants.services.audit_record)."""

    PUBLISHED = "flow.published", "Flow published"
    DELETED = "flow.deleted", "Flow deleted"
    RESTORED = "flow.restored", "Flow version restored"
    IMPORTED = "flow.imported", "Flow imported"


class Flow(TenantOwnedModel):
    """A bot conversation for one connected Page: its trigger, its draft, its versions."""

    page = models.ForeignKey(ConnectedPage, on_delete=models.PROTECT, related_name="flows")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    trigger_kind = models.CharField(
        max_length=20, choices=TriggerKind.choices, default=TriggerKind.KEYWORDS
    )
    trigger_keywords = models.JSONField(
        default=list, blank=True, help_text="For keyword triggers: words that start the flow."
    )
    trigger_ref = models.CharField(
        max_length=100, blank=True, default="", help_text="For ref-link triggers: the `ref`."
    )
    status = models.CharField(max_length=20, choices=FlowStatus.choices, default=FlowStatus.DRAFT)
    document = models.JSONField(
        default=empty_document, help_text="The draft, as the editor has it."
    )
    revision = models.PositiveIntegerField(
        default=1, help_text="Bumped by every save of the draft (optimistic concurrency)."
    )
    published_revision = models.PositiveIntegerField(
        null=True, blank=True, help_text="The draft's revision when it was last published."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["tenant", "page", "status"], name="flow_tenant_page_status"),
            models.Index(fields=["tenant", "status"], name="flow_tenant_status"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_unpublished_changes(self) -> bool:
        return self.published_revision != self.revision

    @property
    def trigger(self) -> dict[str, Any]:
        return {
            "kind": self.trigger_kind,
            "keywords": self.trigger_keywords,
            "ref": self.trigger_ref,
        }


class FlowVersion(TenantOwnedModel):
    """A published, frozen copy of a flow's document. Never edited after it is written."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(help_text="1, 2, 3… per flow.")
    document = models.JSONField()
    note = models.CharField(max_length=500, blank=True, default="")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["flow_id", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "flow", "number"], name="flowversion_unique_number_per_flow"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flow_id} v{self.number}"
