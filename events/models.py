"""The events outbox: every event a bot or an integration logs, and every try to deliver it.

`LoggedEvent` is written in the same transaction as whatever caused it (a flow step, an API
request) and is the source of truth for delivery: a worker claims due rows, sends them through
the page's transport, and records one `DeliveryAttempt` per Graph call (or per operation of a
Graph batch). See docs/adr/0003-delivery-state-machine.md for the states and who moves them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from events.lookups import AnyOf
from tenants.models import ApiKey, ConnectedPage, Tenant, TenantOwnedModel


class EventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Retrying"
    DEAD = "dead", "Dead"
    FAILED = "failed", "Failed"
    BLOCKED = "blocked", "Blocked"
    # Never sent, each with its reason in last_error (nothing is dropped without a status):
    NOT_SENT = "not_sent", "Not sent"  # the Page's transport cannot carry it as logged
    KEPT = "kept", "Kept in Pagepulse"  # a name the Conversions API refuses: kept, by design
    TEST = "test", "Test, not sent"  # a test event the workspace does not send


# States a person can replay (DESIGN.md §7): each ended without reaching Facebook, for a cause
# that may have been fixed since (a not_sent event goes out once its Page's transport takes it).
REPLAYABLE_STATUSES = (
    EventStatus.DEAD,
    EventStatus.FAILED,
    EventStatus.BLOCKED,
    EventStatus.NOT_SENT,
)
# States that are never sent and say why in last_error.
UNSENT_STATUSES = (EventStatus.NOT_SENT, EventStatus.KEPT, EventStatus.TEST)
# States a worker claims once `next_attempt_at` has passed.
DUE_STATUSES = (EventStatus.PENDING, EventStatus.RETRYING)
# States the beat sweep looks for across tenants: due, leased, or held by their Page.
SWEPT_STATUSES = (*DUE_STATUSES, EventStatus.SENDING, EventStatus.BLOCKED)


class LoggingTarget(models.TextChoices):
    """page_activities' `logging_target` (the guide: platform providers log to the page)."""

    PAGE = "page", "Page"
    APP_AND_PAGE = "app_and_page", "App and Page"
    APP = "app", "App"


class EventSource(models.TextChoices):
    FLOW = "flow", "Flow"
    API = "api", "API"
    TEST_CHAT = "test_chat", "Test chat"


class LoggedEvent(TenantOwnedModel):
    """One logical event for one Messenger user of a Page: the outbox row.

    ``event`` is the catalog's logical key for a standard event, or the custom name as given;
    the transport turns it into Facebook's name when it sends. ``next_attempt_at`` is when a
    ``pending``/``retrying`` row is due, and for a ``sending`` row the end of its worker's lease
    (after which the sweep takes it back).
    """

    # Every row is written once and settled at least once, and a write costs one entry in each
    # index: so no index a composite one below already starts with (tenant, page), and the
    # indexes for rows of one kind only (from a flow, from an ad, due) leave the others out.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, db_index=False)
    page = models.ForeignKey(
        ConnectedPage, on_delete=models.PROTECT, related_name="logged_events", db_index=False
    )
    psid = models.CharField(max_length=64, help_text="The Messenger user's page-scoped id.")
    event = models.CharField(max_length=64, help_text="Catalog key, or the custom event name.")
    params = models.JSONField(default=dict, blank=True)
    value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    logging_target = models.CharField(
        max_length=12, choices=LoggingTarget.choices, default=LoggingTarget.PAGE
    )
    event_time = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=EventSource.choices)
    source_ref = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Where it came from, e.g. a flow version and node id.",
    )
    # A flow's event: the FlowVersion's id and the log_event block's node id (events does not
    # import flows, so a plain number), for the funnel stats; the ad the conversation started
    # from (click-to-Messenger), for the per-ad overview.
    source_flow_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The id of the flow version that logged it."
    )
    source_node = models.CharField(
        max_length=100, blank=True, default="", help_text="The log_event block's node id."
    )
    ad_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="The click-to-Messenger ad the conversation started from, if any.",
    )
    api_key = models.ForeignKey(
        ApiKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="logged_events",
        db_index=False,
    )
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    idempotency_index = models.PositiveIntegerField(
        default=0, help_text="The event's position among those logged with its idempotency key."
    )
    test = models.BooleanField(default=False, help_text="Logged from the editor's test chat.")
    status = models.CharField(
        max_length=10, choices=EventStatus.choices, default=EventStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    first_failed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The first temporary failure since it was logged or replayed: the retry "
        "window (EVENTS_RETRY_WINDOW_SECONDS) runs from here.",
    )
    claim_token = models.CharField(
        max_length=32,
        blank=True,
        default="",
        editable=False,
        help_text="The claim of the worker sending it; settling checks it, so a worker whose "
        "lease ran out cannot overwrite what another one did.",
    )
    last_error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key", "idempotency_index"],
                condition=Q(idempotency_key__isnull=False),
                name="loggedevent_idempotency_unique",
            ),
        ]
        indexes = [
            # The delivery log and the events API page by id, newest first (rows logged in one
            # request share created_at, so only the id gives stable cursors), narrowed by
            # status or event; time ranges use created_at.
            models.Index(fields=["tenant", "-id"], name="loggedevent_tenant_id"),
            models.Index(fields=["tenant", "status", "-id"], name="loggedevent_tenant_status"),
            models.Index(fields=["tenant", "event", "-id"], name="loggedevent_tenant_event"),
            models.Index(fields=["tenant", "-created_at"], name="loggedevent_tenant_created"),
            models.Index(fields=["tenant", "psid"], name="loggedevent_tenant_psid"),
            # The funnel stats of a flow's log_event blocks, and the overview per ad: rows from a
            # flow, and from an ad, only (the events API's rows are neither).
            models.Index(
                fields=["tenant", "source_flow_version", "source_node", "status"],
                condition=Q(source_flow_version__isnull=False),
                name="loggedevent_tenant_node",
            ),
            models.Index(
                fields=["tenant", "ad_id", "-created_at"],
                condition=~Q(ad_id=""),
                name="loggedevent_tenant_ad",
            ),
            # A worker's claim for one Page: due rows of that Page, oldest first. Also the
            # index of the page foreign key (a Page's deletion checks it has no events).
            models.Index(
                fields=["page", "status", "next_attempt_at"], name="loggedevent_page_claim"
            ),
            # The beat sweep is the one reader across tenants (ADR 0001 allows it): "which rows
            # are due, or held?" must not scan every tenant's history, and needs no entry for
            # a row that has ended.
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=SWEPT_STATUSES),
                name="loggedevent_sweep",
            ),
            # An API key's deletion sets its events' key to null.
            models.Index(
                fields=["api_key"], condition=Q(api_key__isnull=False), name="loggedevent_api_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} for {self.psid} ({self.status})"

    def __repr__(self) -> str:
        return f"<LoggedEvent {self.pk} {self.event} {self.status}>"

    @property
    def is_replayable(self) -> bool:
        return self.status in REPLAYABLE_STATUSES


LoggedEvent._meta.get_field("id").register_lookup(AnyOf)  # pk__any_of: events/lookups.py


class AttemptOutcome(models.TextChoices):
    """What one Graph call did to the events it carried (events.policy decides the step)."""

    DELIVERED = "delivered", "Delivered"
    TRANSIENT = "transient", "Temporary failure"
    RATE_LIMITED = "rate_limited", "Throttled"
    TOKEN_INVALID = "token_invalid", "Token invalid"
    PERMISSION_MISSING = "permission_missing", "Permission missing"
    INVALID = "invalid", "Rejected as invalid"


class DeliveryAttempt(TenantOwnedModel):
    """One Graph call (or one operation of a Graph batch) and what Facebook answered.

    ``request`` is what was sent with every token and ``appsecret_proof`` removed; it is
    written through ``graph_api.redaction`` and never holds a secret.
    """

    events = models.ManyToManyField(LoggedEvent, related_name="delivery_attempts")
    page = models.ForeignKey(
        ConnectedPage, on_delete=models.PROTECT, related_name="delivery_attempts"
    )
    transport = models.CharField(max_length=20)
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    graph_code = models.IntegerField(null=True, blank=True)
    graph_subcode = models.IntegerField(null=True, blank=True)
    fbtrace_id = models.CharField(max_length=64, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(null=True, blank=True)
    error_class = models.CharField(max_length=40, blank=True, default="")
    error_message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="attempt_tenant_created"),
            models.Index(fields=["tenant", "page", "-created_at"], name="attempt_tenant_page"),
        ]

    def __str__(self) -> str:
        return f"{self.transport} {self.outcome} ({self.http_status})"

    def __repr__(self) -> str:
        return f"<DeliveryAttempt {self.pk} {self.transport} {self.outcome}>"


class PageRateLimit(TenantOwnedModel):
    """A Page's own delivery rate, overriding the default derived from Facebook's formula.

    Without a row, events.ratelimit derives the rate from the Pages API quota (4,800 calls per
    engaged user per 24 hours, reference §4.6); see docs/adr/0003-delivery-state-machine.md.
    """

    page = models.ForeignKey(ConnectedPage, on_delete=models.CASCADE, related_name="+")
    calls_per_second = models.FloatField(
        help_text="Graph calls per second for this Page (each batch operation is one call)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "page"], name="pageratelimit_unique_page"),
            models.CheckConstraint(
                condition=Q(calls_per_second__gt=0), name="pageratelimit_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.calls_per_second}/s for page {self.page_id}"
