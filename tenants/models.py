"""Workspaces (tenants), who belongs to them, their API keys and their audit trail.

Every model a tenant owns subclasses `TenantOwnedModel`; its manager's `.for_tenant(tenant)`
is how code reads those rows (see tenants/README.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self, TypeVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField

from tenants.permissions import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


_M = TypeVar("_M", bound=models.Model)


class DepartingMemberKeys(models.TextChoices):
    """What happens to a member's API keys when they leave or lose the right to manage keys."""

    REVOKE = "revoke", "Revoke them"
    HAND_OVER = "hand_over", "Hand them to the admin who made the change"


TRANSCRIPT_RETENTION_DEFAULT_DAYS = 90
TRANSCRIPT_RETENTION_MIN_DAYS = 1
TRANSCRIPT_RETENTION_MAX_DAYS = 3650


class Tenant(models.Model):
    """A workspace: the unit of isolation. Everything a customer owns hangs off one."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    country = CountryField(help_text="Where the business is based (ISO 3166 alpha-2).")
    deliver_test_events = models.BooleanField(
        default=False,
        help_text="Send test events (the editor's test chat, or logged with test=true) to "
        "Facebook too, e.g. to check them in Events Manager.",
    )
    departing_member_keys = models.CharField(
        max_length=10,
        choices=DepartingMemberKeys.choices,
        default=DepartingMemberKeys.REVOKE,
        help_text="When a member is removed, or demoted below admin, their API keys are "
        "revoked, or handed to the admin who made the change (recorded in the audit log).",
    )
    transcript_retention_days = models.PositiveSmallIntegerField(
        default=TRANSCRIPT_RETENTION_DEFAULT_DAYS,
        validators=[
            MinValueValidator(TRANSCRIPT_RETENTION_MIN_DAYS),
            MaxValueValidator(TRANSCRIPT_RETENTION_MAX_DAYS),
        ],
        help_text="Conversation transcripts older than this many days are deleted every day.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delete_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when an owner deletes the workspace: until then it can be restored; "
        "after it, a task removes the workspace and everything in it.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def deletion_scheduled(self) -> bool:
        return self.delete_after is not None


class TenantQuerySet(models.QuerySet[_M]):
    def for_tenant(self, tenant: Tenant) -> Self:
        return self.filter(tenant=tenant)


class TenantOwnedModel(models.Model):
    """Base of every tenant-owned row: a non-null tenant, timestamps, and a scoped manager."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(TenantOwnedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    last_used_at = models.DateTimeField(
        null=True, blank=True, help_text="When the member last opened this workspace."
    )
    notify_handoffs = models.BooleanField(
        default=False, help_text="Email this member when a conversation needs a person."
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.tenant_id}"


class ApiKey(TenantOwnedModel):
    """An integration's credential. The secret is shown once; only its SHA-256 is stored.

    A key belongs to a member (`owner`, its creator until handed over) and acts with the role
    chosen when it was made, never above its owner's. It works only while it is not revoked,
    not expired, and its owner still holds a role in the workspace that may manage keys.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=8, unique=True, help_text="The visible part, to tell keys apart."
    )
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="api_keys",
        help_text="The member the key belongs to: its creator, or whoever it was handed to.",
    )
    role = models.CharField(
        max_length=10,
        choices=Role.choices,
        default=Role.EDITOR,
        help_text="What the key may do: viewer, editor or admin, never above its owner's role.",
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When the key stops working by itself (optional)."
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "revoked_at"], name="apikey_tenant_revoked"),
            models.Index(fields=["tenant", "owner"], name="apikey_tenant_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (pp_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def display(self) -> str:
        return f"pp_{self.prefix}_…"


class Transport(models.TextChoices):
    CONVERSIONS_API = "conversions_api", "Conversions API"
    PAGE_ACTIVITIES = "page_activities", "Events API (page_activities)"


class PageStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
    MISSING_PERMISSION = "missing_permission", "Missing permission"
    DISCONNECTED = "disconnected", "Disconnected"


class ConnectedPage(TenantOwnedModel):
    """A Facebook Page connected to a workspace, with its page token encrypted at rest.

    A Page is connected (any status but `disconnected`) in at most one workspace: the database
    holds that rule (`page_connected_in_one_workspace`), and moving a Page between workspaces
    is an explicit transfer (docs/adr/0009-one-workspace-per-page.md).
    """

    page_id = models.CharField(max_length=32, help_text="Facebook's id of the Page.")
    name = models.CharField(max_length=200)
    tasks = models.JSONField(default=list, blank=True, help_text="The connecting user's tasks.")
    granted_scopes = models.JSONField(default=list, blank=True)
    transport = models.CharField(max_length=20, choices=Transport.choices)
    dataset_id = models.CharField(max_length=32, blank=True, default="")
    status = models.CharField(max_length=20, choices=PageStatus.choices, default=PageStatus.ACTIVE)
    token_encrypted = models.TextField(blank=True, default="", editable=False)
    token_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    connected_at = models.DateTimeField(default=timezone.now)
    disconnected_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a person disconnected the Page; its token is kept for "
        "PAGE_DISCONNECT_UNDO_SECONDS so the disconnection can be undone, then forgotten.",
    )
    transferred_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the Page was transferred to another workspace (it is then disconnected "
        "here); the Pages screen tells this workspace's admins.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "page_id"], name="page_unique_per_tenant"),
            models.UniqueConstraint(
                fields=["page_id"],
                condition=~models.Q(status=PageStatus.DISCONNECTED),
                name="page_connected_in_one_workspace",
                violation_error_message="This Page is connected in another workspace.",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="page_tenant_status")]

    def __str__(self) -> str:
        return f"{self.name} ({self.page_id})"

    def __repr__(self) -> str:
        return f"<ConnectedPage {self.pk} {self.page_id} {self.status}>"


class PageGrant(models.Model):
    """A Page the person's last Facebook Login found, with its page token (encrypted).

    Not tenant-owned: it belongs to the person. The page picker offers these for connecting;
    each login replaces the person's grants with what Facebook returned then. The token is
    kept only for connecting soon after that login: it is forgotten at sign-out and after
    PAGE_GRANT_TOKEN_MINUTES (docs/adr/0010-page-tokens-from-a-login.md); the row stays, so
    the picker can still list the Page and ask for a new login.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="page_grants"
    )
    page_id = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    tasks = models.JSONField(default=list, blank=True)
    scopes = models.JSONField(default=list, blank=True, help_text="Scopes granted for this Page.")
    token_encrypted = models.TextField(
        editable=False, blank=True, default="", help_text="Empty once forgotten."
    )
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "page_id"], name="grant_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.page_id}) for user {self.user_id}"


class DataDeletionRequest(models.Model):
    """A data deletion request Facebook sent us for a person (its callback, tenants/callbacks.py).

    Holds no Facebook id: ``subject_hash`` is a keyed hash of the person's app-scoped id, and
    ``request_hash`` a hash of the signed_request itself, so the same request posted twice
    answers with the same confirmation code. ``code`` is random and is the only key of the
    public status page.
    """

    code = models.CharField(max_length=40, unique=True, editable=False)
    request_hash = models.CharField(max_length=64, unique=True, editable=False)
    subject_hash = models.CharField(max_length=64, db_index=True, editable=False)
    found = models.BooleanField(help_text="Whether we held anything about the person.")
    deleted = models.JSONField(default=dict, blank=True, help_text="What was deleted, counted.")
    received_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"Data deletion {self.code}"


class AuditAction(models.TextChoices):
    TENANT_CREATED = "tenant.created", "Workspace created"
    TENANT_UPDATED = "tenant.updated", "Workspace updated"
    TENANT_DELETION_SCHEDULED = "tenant.deletion_scheduled", "Workspace deletion scheduled"
    TENANT_RESTORED = "tenant.restored", "Workspace restored"
    MEMBER_ADDED = "member.added", "Member added"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Member role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    MEMBER_RESTORED = "member.restored", "Member restored (Undo)"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    API_KEY_HANDED_OVER = "api_key.handed_over", "API key handed over"
    PAGE_CONNECTED = "page.connected", "Page connected"
    PAGE_RECONNECTED = "page.reconnected", "Page reconnected"
    PAGE_DISCONNECTED = "page.disconnected", "Page disconnected"
    PAGE_TRANSFERRED_IN = "page.transferred_in", "Page transferred here"
    PAGE_TRANSFERRED_OUT = "page.transferred_out", "Page transferred to another workspace"
    PAGE_TRANSPORT_CHANGED = "page.transport_changed", "Page transport changed"
    PAGE_RENAMED = "page.renamed", "Page renamed"
    PAGE_NEEDS_ATTENTION = "page.needs_attention", "Page needs attention"
    TOKEN_KEYS_ROTATED = "token_keys.rotated", "Token encryption keys rotated"
    FACEBOOK_DATA_DELETED = "facebook.data_deleted", "Facebook data deleted at the person's request"
    FACEBOOK_APP_REMOVED = "facebook.app_removed", "Person removed the app on Facebook"
    # Written by the flows app.
    FLOW_CREATED = "flow.created", "Flow created"
    FLOW_PUBLISHED = "flow.published", "Flow published"
    FLOW_DELETED = "flow.deleted", "Flow deleted"
    FLOW_RESTORED = "flow.restored", "Flow version restored"
    FLOW_IMPORTED = "flow.imported", "Flow imported"
    HANDOFF_RESOLVED = "handoff.resolved", "Handoff resolved"
    CONVERSATION_TAKEN_OVER = "conversation.taken_over", "Conversation taken over from the bot"
    CONVERSATION_CLOSED = "conversation.closed", "Conversation closed"
    PERSON_DELETED = "person.deleted", "A Messenger user's data deleted"
    FLOW_UPDATED = "flow.updated", "Flow settings changed"
    FLOW_DUPLICATED = "flow.duplicated", "Flow duplicated"
    # Written by the events and insights apps, and by an API key's first request.
    EVENTS_REPLAYED = "events.replayed", "Events sent again"
    AD_ACCOUNTS_CONNECTED = "ad_accounts.connected", "Ad accounts connected"
    AD_ACCOUNTS_FOLLOWED = "ad_accounts.followed", "Ad accounts followed"
    API_KEY_FIRST_USED = "api_key.first_used", "API key used for the first time"


class AuditEvent(TenantOwnedModel):
    """Who did what to whom, when, from where. Written by services, never edited."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="The actor as they were then.")
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="audit_tenant_created")]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target}"

    @property
    def details_text(self) -> str:
        """The details as a person reads them: `role: editor → admin`."""
        return ", ".join(
            f"{key}: {' → '.join(map(str, value)) if isinstance(value, list) else value}"
            for key, value in self.details.items()
        )


def user_label(user: AbstractBaseUser | None) -> str:
    if user is None:
        return "system"
    email = getattr(user, "email", "")
    return email or user.get_username()
