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

from tenants.models import ApiKey, ConnectedPage, TenantOwnedModel

# What a Messenger `ref` (m.me link, ad, QR code) may hold: "Only alphanumeric characters as
# well as -, _, and =" (reference §6.4). The length limit is ours.
REF_PATTERN = r"^[A-Za-z0-9_=-]{1,100}$"
MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 50


def empty_document() -> dict[str, Any]:
    return {"nodes": [], "edges": []}


def starter_document() -> dict[str, Any]:
    """A new blank flow: its Start block alone, so the editor has something to connect to."""
    return {
        "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}}],
        "edges": [],
    }


class TriggerKind(models.TextChoices):
    DEFAULT = "default", "Default reply"
    KEYWORDS = "keywords", "Keywords"
    GET_STARTED = "get_started", "Get Started button"
    REF = "ref", "Ref link parameter"


class FlowStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # not live (never published, or taken down)
    PUBLISHED = "published", "Published"  # its latest version answers Messenger users
    ARCHIVED = "archived", "Archived"  # put away; versions kept


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
    updated_by_api_key = models.ForeignKey(
        ApiKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The API key that saved the current revision, when a key did (no person).",
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
    def updated_by_label(self) -> str | None:
        """Who saved the current revision, as the editor names them: an email address, "an
        API key: <its name>", or None when nobody is known (never the key itself)."""
        if self.updated_by is not None:
            return str(self.updated_by.email or self.updated_by.get_username())
        if self.updated_by_api_key is not None:
            return f"an API key: {self.updated_by_api_key.name}"
        return None

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
    published_by_api_key = models.ForeignKey(
        ApiKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The API key that published this version, when a key did (no person).",
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

    @property
    def published_by_label(self) -> str | None:
        """Who published it: an email address, or the API key and the member it belongs to
        ("the API key Zapier of ada@example.com"); None when nobody is known."""
        if self.published_by is not None:
            return str(self.published_by.email or self.published_by.get_username())
        key = self.published_by_api_key
        if key is not None:
            owner = key.owner
            whose = f" of {owner.email or owner.get_username()}" if owner is not None else ""
            return f"the API key {key.name}{whose}"
        return None


# --- The runtime: conversations with Messenger users, webhook deliveries, outbound messages -----

GET_STARTED_PAYLOAD = "GET_STARTED"
"""The postback payload of the Page's Get Started button that starts `get_started` flows."""


class ConversationStatus(models.TextChoices):
    ACTIVE = "active", "Active"  # running blocks (only inside one step)
    # an ask (or a send_message whose reply handles are connected) waits for the person
    WAITING = "waiting", "Waiting for an answer"
    ENDED = "ended", "Ended"
    HANDED_OFF = "handed_off", "Handed off to a person"  # paused until an agent resolves it


OPEN_CONVERSATION_STATUSES = (
    ConversationStatus.ACTIVE,
    ConversationStatus.WAITING,
    ConversationStatus.HANDED_OFF,
)


class Conversation(TenantOwnedModel):
    """One Messenger user's run through one flow version of a Page (or a test chat).

    Pinned to the `FlowVersion` it started on: a later publish applies to new conversations
    only. `node_id`, `variables`, `step`, `status` and `retries` are the interpreter's State.
    At most one open (not ended) conversation per Page and PSID, test chats aside.
    """

    page = models.ForeignKey(ConnectedPage, on_delete=models.CASCADE, related_name="conversations")
    psid = models.CharField(max_length=64, help_text="The person's page-scoped id.")
    flow = models.ForeignKey(
        Flow, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    flow_version = models.ForeignKey(
        FlowVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        help_text="The version it runs on; empty for a test chat on the draft.",
    )
    node_id = models.CharField(max_length=100, blank=True, default="")
    variables = models.JSONField(default=dict, blank=True)
    step = models.PositiveIntegerField(default=0, help_text="Blocks run so far (idempotency).")
    retries = models.PositiveIntegerField(default=0, help_text="Failed answers to the current ask.")
    outbound_seq = models.PositiveIntegerField(
        default=0,
        help_text="The seq of its last message to send: the next one's is one more (kept here, "
        "written with the turn, rather than read as MAX(seq) on every turn).",
    )
    status = models.CharField(
        max_length=20, choices=ConversationStatus.choices, default=ConversationStatus.ACTIVE
    )
    last_user_message_at = models.DateTimeField(
        null=True, blank=True, help_text="Opens the Send API's 24-hour window."
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    handoff_note = models.TextField(blank=True, default="")
    handed_off_at = models.DateTimeField(null=True, blank=True)
    handoff_resolved_at = models.DateTimeField(null=True, blank=True)
    handoff_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    paused_status = models.CharField(
        max_length=20,
        blank=True,
        default="",
        help_text="The bot's status when a person of the team took the thread over from the "
        "inbox (handing it back restores it); empty when a handoff block handed it off.",
    )
    is_test = models.BooleanField(default=False, help_text="A test chat in the editor.")
    # Click-to-Messenger ads: the `referral` Facebook sent when the person started from an ad
    # (source "ADS"), on a messaging_referrals item, a postback or a message. Every event the
    # conversation logs carries `ad_id` (LoggedEvent.ad_id).
    ad_id = models.CharField(
        max_length=64, blank=True, default="", help_text="The ad it started from, if any."
    )
    referral_source = models.CharField(
        max_length=32, blank=True, default="", help_text='The referral\'s source, e.g. "ADS".'
    )
    referral_type = models.CharField(
        max_length=32, blank=True, default="", help_text='The referral\'s type: "OPEN_THREAD".'
    )
    referral_ref = models.CharField(max_length=255, blank=True, default="")
    ads_context = models.JSONField(
        default=dict,
        blank=True,
        help_text="ads_context_data: ad_title, photo_url, video_url, post_id, product_id.",
    )
    referred_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "page", "psid"],
                condition=~models.Q(status="ended") & models.Q(is_test=False),
                name="conversation_one_open_per_user",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "page", "psid"], name="conversation_tenant_user"),
            models.Index(
                fields=["tenant", "status", "-handed_off_at"], name="conversation_tenant_status"
            ),
            models.Index(fields=["tenant", "ad_id"], name="conversation_tenant_ad"),
            # Conversations started in a time range (the overview's today, insights.aggregates):
            # without it, counting today's reads every conversation the workspace ever had.
            models.Index(fields=["tenant", "created_at"], name="conversation_tenant_created"),
            # The inbox: a workspace's conversations by last activity, and its live check.
            models.Index(fields=["tenant", "-updated_at"], name="conversation_tenant_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.page_id}/{self.psid} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status != ConversationStatus.ENDED


class NodeDailyCount(TenantOwnedModel):
    """The funnel counters: per flow version, block, handle and day (UTC), how many times
    conversations arrived at a block (``entered``), left it along an edge by ``handle``
    (``exited``), ended at it (``ended``) or were handed off at it (``handed_off``).

    One row per (version, node, handle, day): the block's own row has ``handle`` "" and holds
    ``entered``, ``ended`` and ``handed_off``; each handle's row holds ``exited``. The runtime
    adds to them with one upsert per turn, in the turn's transaction (flows/counters.py,
    docs/adr/0011-funnel-counters.md), so they never disagree with the conversations.
    """

    flow_version = models.ForeignKey(
        FlowVersion, on_delete=models.CASCADE, related_name="node_counts"
    )
    node_id = models.CharField(max_length=100)
    handle = models.CharField(
        max_length=100, blank=True, default="", help_text='"" for the block itself.'
    )
    day = models.DateField(help_text="The UTC day of the turns counted.")
    entered = models.PositiveBigIntegerField(default=0)
    exited = models.PositiveBigIntegerField(default=0)
    ended = models.PositiveBigIntegerField(default=0)
    handed_off = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "flow_version", "node_id", "handle", "day"],
                name="nodedailycount_unique_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flow_version_id}:{self.node_id}:{self.handle} {self.day}"
