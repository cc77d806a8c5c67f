"""The Messenger runtime's own rows: webhook deliveries, processed mids and outbound messages.

They moved here from flows/ (docs/adr/0013-messenger-app.md) with their tables unchanged
(``db_table``). Conversations stay in flows (flows.models.Conversation): the editor's test chat,
which stays in flows, is a conversation too, and flows may not import messenger.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from flows.models import Conversation
from tenants.models import ConnectedPage, TenantOwnedModel


class WebhookDelivery(models.Model):
    """One POST to /webhooks/messenger whose signature checked out, stored as received.

    Not tenant-owned: it arrives before routing, and may hold entries of several Pages.
    `unrouted` records entries of Pages no workspace has connected (or that are disconnected).
    """

    body = models.BinaryField(help_text="The raw request body, the signed bytes.")
    page_id = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text="Facebook's id of the first entry's Page, read at intake: the drain takes "
        "each Page's oldest delivery in turn (messenger/intake.py). Empty if not found.",
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker's lease on this delivery (messenger/intake.py)."
    )
    error = models.TextField(blank=True, default="")
    unrouted = models.JSONField(
        default=list, blank=True, help_text="[{page_id, reason}] of entries that were ignored."
    )

    class Meta:
        db_table = "flows_webhookdelivery"  # kept from flows (docs/adr/0013-messenger-app.md)
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The drain's claim and the sweep read only the few rows not yet processed.
            models.Index(
                fields=["id"],
                condition=models.Q(processed_at__isnull=True),
                name="webhookdelivery_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class ProcessedMessage(models.Model):
    """A message (by `mid`) of a Facebook Page that ran once: a repeated delivery skips it.

    Written in the same transaction as the conversation's step, so a step that rolled back
    runs again when the delivery is retried.
    """

    page_id = models.CharField(max_length=32, help_text="Facebook's id of the Page.")
    mid = models.CharField(
        max_length=255, help_text="message.mid, postback.mid, or a referral's key."
    )
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "flows_processedmessage"  # kept from flows (docs/adr/0013-messenger-app.md)
        constraints = [
            models.UniqueConstraint(fields=["page_id", "mid"], name="processedmessage_unique_mid"),
        ]

    def __str__(self) -> str:
        return f"{self.page_id}:{self.mid}"


class OutboundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"  # never sent: outside the 24-hour window, and the like


class OutboundMessage(TenantOwnedModel):
    """A Send API message a flow step wrote, sent after commit in `seq` order per conversation."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="outbound_messages"
    )
    seq = models.PositiveIntegerField(help_text="Order within the conversation.")
    node_id = models.CharField(max_length=100, blank=True, default="")
    message = models.JSONField(help_text="The Send API `message` object exactly.")
    status = models.CharField(
        max_length=20, choices=OutboundStatus.choices, default=OutboundStatus.PENDING
    )
    reason = models.TextField(blank=True, default="", help_text="Why it failed or was skipped.")
    attempts = models.PositiveIntegerField(default=0)
    message_id = models.CharField(max_length=255, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "flows_outboundmessage"  # kept from flows (docs/adr/0013-messenger-app.md)
        ordering = ["conversation_id", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "conversation", "seq"], name="outbound_unique_seq"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "conversation", "status", "seq"], name="outbound_conv_status"
            ),
            models.Index(fields=["status", "created_at"], name="outbound_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq} ({self.status})"


# --- Transcripts: what people, the bot and agents wrote, both ways -------------------------


class MessageDirection(models.TextChoices):
    IN = "in", "From the person"
    OUT = "out", "To the person"


class MessageSender(models.TextChoices):
    PERSON = "person", "Person"
    BOT = "bot", "Bot"
    AGENT = "agent", "Agent"


class MessageKind(models.TextChoices):
    TEXT = "text", "Text"
    QUICK_REPLY = "quick_reply", "Quick reply"
    POSTBACK = "postback", "Button (postback)"
    ATTACHMENT = "attachment", "Attachment"
    REFERRAL = "referral", "Referral (link or ad)"


class Message(TenantOwnedModel):
    """One message of a conversation's transcript, kept ``Tenant.transcript_retention_days``.

    Inbound rows are written in the turn's transaction (every parsed item, including those
    that start no flow: then ``conversation`` is empty), outbound ones when the Send API
    accepted the message (bot) or an agent answered (``message_record_agent``). ``mid`` is
    Facebook's message id, unique per Page when present, so a redelivered webhook adds nothing.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    page = models.ForeignKey(ConnectedPage, on_delete=models.CASCADE, related_name="messages")
    psid = models.CharField(max_length=64)
    direction = models.CharField(max_length=3, choices=MessageDirection.choices)
    sender = models.CharField(max_length=10, choices=MessageSender.choices)
    kind = models.CharField(max_length=20, choices=MessageKind.choices, default=MessageKind.TEXT)
    text = models.TextField(blank=True, default="")
    payload = models.CharField(
        max_length=1000, blank=True, default="", help_text="A quick reply's or button's payload."
    )
    attachments = models.JSONField(default=list, blank=True, help_text="[{type, url}]")
    referral = models.JSONField(default=dict, blank=True)
    mid = models.CharField(max_length=255, blank=True, default="")
    sent_at = models.DateTimeField(
        help_text="Facebook's timestamp for inbound; the Send API call's time for outbound."
    )

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "mid"], condition=~models.Q(mid=""), name="message_unique_mid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "conversation", "sent_at", "id"], name="message_transcript"
            ),
            models.Index(fields=["tenant", "sent_at"], name="message_tenant_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.page_id}/{self.psid} {self.direction} {self.kind}"


# --- People: the Messenger users who wrote to a workspace's Pages ------------------------------


class Tag(TenantOwnedModel):
    """A label the team puts on people ("vip", "wholesale"); names are unique per workspace,
    whatever their case."""

    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "tenant", models.functions.Lower("name"), name="tag_unique_name_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Person(TenantOwnedModel):
    """Someone who wrote to a Page (one per Page and PSID): when they were first and last seen,
    and the tags the team gave them. Their name comes from the User Profile API
    (tenants.profiles.people_profile, cached) and is kept here for search; their messages,
    conversations and events are found by Page and PSID (messenger/people.py)."""

    page = models.ForeignKey(ConnectedPage, on_delete=models.CASCADE, related_name="people")
    psid = models.CharField(max_length=64, help_text="The person's page-scoped id.")
    name = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="The name Facebook's User Profile API last gave, kept for search.",
    )
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    tags = models.ManyToManyField(Tag, blank=True, related_name="people")

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        verbose_name_plural = "people"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "page", "psid"], name="person_unique_psid"),
        ]
        indexes = [
            models.Index(fields=["tenant", "-last_seen_at"], name="person_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.page_id}/{self.psid}"
