"""What the marketer's overview reads: Ads Manager's numbers per ad and day, the ad accounts a
workspace follows and the Facebook login that reads them, and daily aggregates of our own events
and conversations (ADR 0012).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from flows.models import Flow
from tenants.models import ConnectedPage, TenantOwnedModel


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    NEEDS_REAUTH = "needs_reauth", "Needs reconnecting"


class AdsConnection(TenantOwnedModel):
    """A person's Facebook Login with ``ads_read`` for this workspace; its long-lived user token
    (encrypted like page tokens, ADR 0002) reads the followed ad accounts' insights."""

    facebook_user_id = models.CharField(max_length=32)
    facebook_user_name = models.CharField(max_length=200, blank=True, default="")
    token_encrypted = models.TextField(editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.ACTIVE
    )
    status_message = models.TextField(blank=True, default="")
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "facebook_user_id"], name="adsconnection_one_per_person"
            )
        ]

    def __str__(self) -> str:
        return f"{self.facebook_user_name or self.facebook_user_id} ({self.status})"

    def __repr__(self) -> str:  # never the token
        return f"<AdsConnection {self.pk} {self.facebook_user_id} {self.status}>"


class FollowedAdAccount(TenantOwnedModel):
    """An ad account a login can read; ``followed`` ones are read daily (last 28 days)."""

    connection = models.ForeignKey(AdsConnection, on_delete=models.CASCADE, related_name="accounts")
    account_id = models.CharField(max_length=40, help_text="act_<id>")
    name = models.CharField(max_length=200, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    followed = models.BooleanField(default=False)
    next_read_at = models.DateTimeField(null=True, blank=True)
    last_read_at = models.DateTimeField(null=True, blank=True)
    read_until = models.DateField(
        null=True, blank=True, help_text="The last day read; the next read starts 28 days before."
    )
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name", "account_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "account_id"], name="followedadaccount_unique_account"
            )
        ]
        indexes = [models.Index(fields=["followed", "next_read_at"], name="adaccount_due")]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"


class AdDailyInsight(TenantOwnedModel):
    """Ads Manager's numbers for one ad on one day, as last read (Facebook revises 28 days)."""

    account = models.ForeignKey(
        FollowedAdAccount, on_delete=models.CASCADE, related_name="insights"
    )
    ad_id = models.CharField(max_length=40)
    date = models.DateField()
    ad_name = models.CharField(max_length=400, blank=True, default="")
    campaign_name = models.CharField(max_length=400, blank=True, default="")
    conversations_started = models.PositiveIntegerField(default=0)
    leads = models.PositiveIntegerField(default=0, help_text="onsite_conversion.lead_grouped")
    purchases = models.PositiveIntegerField(default=0)
    purchase_value = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    spend = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, blank=True, default="")

    class Meta:
        ordering = ["-date", "ad_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "account", "ad_id", "date"], name="addailyinsight_unique_day"
            )
        ]
        indexes = [models.Index(fields=["tenant", "date"], name="addailyinsight_tenant_date")]

    def __str__(self) -> str:
        return f"{self.ad_id} {self.date}"


class EventDaily(models.Model):
    """Logged events of one day, per Page, flow, event name and currency (test events
    left out): the overview's source for closed days. Rebuilt from the raw rows by
    ``insights.aggregates.events_daily_refresh``; see docs/adr/0012-overview-aggregates.md."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE)
    date = models.DateField()
    page = models.ForeignKey(ConnectedPage, on_delete=models.CASCADE, related_name="+")
    # A deleted flow's rows stay, counted as "not from a flow", as its raw rows then are.
    flow = models.ForeignKey(Flow, on_delete=models.SET_NULL, null=True, related_name="+")
    event = models.CharField(max_length=64)
    currency = models.CharField(max_length=3, blank=True, default="")
    count = models.PositiveIntegerField(default=0)
    value = models.DecimalField(max_digits=24, decimal_places=6, default=0)

    class Meta:
        indexes = [models.Index(fields=["tenant", "date"], name="eventdaily_tenant_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.event} x{self.count}"


class ConversationDaily(models.Model):
    """Conversations started on one day per Page and flow (test chats left out). Rebuilt like
    EventDaily."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE)
    date = models.DateField()
    page = models.ForeignKey(ConnectedPage, on_delete=models.CASCADE, related_name="+")
    # A deleted flow's rows stay, counted as "not from a flow", as its raw rows then are.
    flow = models.ForeignKey(Flow, on_delete=models.SET_NULL, null=True, related_name="+")
    started = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["tenant", "date"], name="convdaily_tenant_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.started} started"


class AggregatedDay(models.Model):
    """Which (tenant, day) the daily tables hold in full; other days are counted from raw rows."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE)
    date = models.DateField()
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "date"], name="aggregatedday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.date}"
