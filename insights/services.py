"""Writes of the insights app: connecting ad accounts, following them, reading their insights.

Everything Facebook-facing goes through ``graph_api.GraphClient``; the user token with
``ads_read`` is encrypted at rest (tenants.crypto) and never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from graph_api.client import GraphClient
from graph_api.errors import GraphError, PermissionMissingError, RateLimitedError, TokenInvalidError
from graph_api.types import AdInsightsRow, TokenInfo
from insights.models import AdDailyInsight, AdsConnection, ConnectionStatus, FollowedAdAccount
from tenants.crypto import decrypt_token, encrypt_token
from tenants.models import AuditAction, Tenant
from tenants.services import Actor, audit_record

logger = logging.getLogger(__name__)

ADS_SCOPE = "ads_read"
LEAD_ACTION = "onsite_conversion.lead_grouped"
STARTED_ACTION = "onsite_conversion.messaging_conversation_started_7d"
# Purchases arrive under several action types depending on where they were logged; a Messenger
# purchase is onsite_conversion.purchase. Only one of them is counted, so none is counted twice.
PURCHASE_ACTIONS = ("onsite_conversion.purchase", "purchase", "omni_purchase")
# Back off at least this long after a throttled read, and when usage nears the limit.
MIN_THROTTLE_SECONDS = 300
USAGE_SLOWDOWN_PERCENT = 90
REAUTH_MESSAGE = (
    "Facebook no longer accepts the login that reads these ad accounts ({detail}). "
    "Connect ad accounts again to resume reading Ads Manager's numbers."
)


class AdsConnectError(Exception):
    """The login did not give what reading ad accounts needs; the message says what to do."""


@dataclass(frozen=True)
class ReadResult:
    """What one read of an ad account did."""

    outcome: str  # "read", "throttled", "needs_reauth", "failed", "skipped"
    rows: int = 0
    since: date | None = None
    until: date | None = None
    retry_after: int = 0


def ads_connection_save(
    *, tenant: Tenant, user: User, user_token: str, graph: GraphClient | None = None
) -> AdsConnection:
    """Keep a login's long-lived token with ``ads_read`` and list the person's ad accounts.

    Raises ``AdsConnectError`` when ``ads_read`` was declined (the view re-asks with
    ``auth_type=rerequest``).
    """
    graph = graph or GraphClient.from_settings()
    long_lived = graph.exchange_long_lived(user_token=user_token)
    info: TokenInfo = graph.debug_token(input_token=long_lived.access_token)
    if ADS_SCOPE not in info.scopes:
        raise AdsConnectError(
            "Facebook did not grant ads_read, which reading Ads Manager's numbers needs. "
            "Connect again and allow “Read ads performance”."
        )
    me = graph.me(user_token=long_lived.access_token, fields=("id", "name"))
    accounts = graph.ad_accounts(user_token=long_lived.access_token)
    expires_at = (
        timezone.now() + timedelta(seconds=long_lived.expires_in) if long_lived.expires_in else None
    )
    with transaction.atomic():
        connection, _ = AdsConnection.objects.update_or_create(
            tenant=tenant,
            facebook_user_id=me.id,
            defaults={
                "facebook_user_name": me.name or "",
                "token_encrypted": encrypt_token(long_lived.access_token),
                "token_expires_at": expires_at,
                "status": ConnectionStatus.ACTIVE,
                "status_message": "",
                "connected_by": user,
            },
        )
        for account in accounts:
            FollowedAdAccount.objects.update_or_create(
                tenant=tenant,
                account_id=account.id,
                defaults={
                    "connection": connection,
                    "name": account.name,
                    "currency": account.currency or "",
                    "last_error": "",
                },
            )
        audit_record(
            tenant=tenant,
            actor=Actor(user=user),
            action=AuditAction.AD_ACCOUNTS_CONNECTED,
            target=me.name or me.id,
            details={"ad_accounts": len(accounts)},
        )
    logger.info(
        "insights.ads.connected",
        extra={"tenant_id": tenant.pk, "connection_id": connection.pk, "accounts": len(accounts)},
    )
    return connection


def ad_accounts_follow(
    *, tenant: Tenant, actor: Actor, account_ids: list[int]
) -> list[FollowedAdAccount]:
    """Follow exactly these ad accounts of the workspace (by row id); others are unfollowed.

    A newly followed account is due a read at once.
    """
    now = timezone.now()
    accounts = list(FollowedAdAccount.objects.for_tenant(tenant))
    wanted = set(account_ids)
    unknown = wanted - {account.pk for account in accounts}
    if unknown:
        raise ValueError(f"Not ad accounts of this workspace: {sorted(unknown)}")
    for account in accounts:
        follow = account.pk in wanted
        if follow and not account.followed:
            account.next_read_at = now
        changed = account.followed != follow
        account.followed = follow
        account.save(update_fields=["followed", "next_read_at", "updated_at"])
        if changed:
            audit_record(
                tenant=tenant,
                actor=actor,
                action=AuditAction.AD_ACCOUNTS_FOLLOWED,
                target=account.name,
                details={"account_id": account.account_id, "followed": follow},
            )
    return [account for account in accounts if account.followed]


def ad_account_read_soon(*, tenant: Tenant, account: FollowedAdAccount) -> None:
    """Mark a followed account due now (the "Read now" button); the task is enqueued on commit."""
    if account.tenant_id != tenant.pk:
        raise ValueError("That ad account belongs to another workspace")
    FollowedAdAccount.objects.filter(pk=account.pk, tenant=tenant).update(
        next_read_at=timezone.now()
    )


def read_window(account: FollowedAdAccount, today: date) -> tuple[date, date]:
    """The days to read: the last ``ADS_INSIGHTS_WINDOW_DAYS`` (Facebook revises them), reaching
    further back to the last day read when reads were missed."""
    window_start = today - timedelta(days=settings.ADS_INSIGHTS_WINDOW_DAYS - 1)
    if account.read_until is not None and account.read_until < window_start:
        # Missed days (the task did not run): read from the last day read, at most 90 days back.
        window_start = max(account.read_until, today - timedelta(days=89))
    return window_start, today


def ad_account_read(
    *, account: FollowedAdAccount, graph: GraphClient | None = None, today: date | None = None
) -> ReadResult:
    """Read one followed ad account's insights per ad and day and store them.

    The window's rows replace what was stored for those days (an ad Facebook no longer reports
    on a day drops out). Throttling postpones the next read by Facebook's estimate; an invalid
    token marks the connection ``needs_reauth`` with a message for the admins.
    """
    connection = account.connection
    if not account.followed or connection.status != ConnectionStatus.ACTIVE:
        return ReadResult("skipped")
    graph = graph or GraphClient.from_settings()
    today = today or timezone.now().date()
    since, until = read_window(account, today)
    try:
        rows = graph.ad_insights(
            ad_account_id=account.account_id,
            token=decrypt_token(connection.token_encrypted),
            since=since,
            until=until,
        )
    except RateLimitedError as error:
        wait = max(error.retry_after, MIN_THROTTLE_SECONDS)
        _postpone(
            account, wait, f"Facebook is throttling this ad account; next read in {wait // 60} min."
        )
        logger.warning(
            "insights.ads.throttled",
            extra={"account_id": account.pk, "retry_after": wait, "graph_code": error.code},
        )
        return ReadResult("throttled", retry_after=wait)
    except TokenInvalidError as error:
        _needs_reauth(connection, f"error {error.code}")
        return ReadResult("needs_reauth")
    except PermissionMissingError as error:
        _needs_reauth(connection, f"permission missing, error {error.code}")
        return ReadResult("needs_reauth")
    except GraphError as error:
        _postpone(account, 3600, f"Reading failed: {error.message[:300]}; next try in an hour.")
        logger.warning(
            "insights.ads.read_failed",
            extra={"account_id": account.pk, "error_class": type(error).__name__},
        )
        return ReadResult("failed")
    stored = _store(account, rows, since, until)
    usage_percent = max((row.usage.max_percent for row in rows), default=0)
    next_read = _next_daily_read(timezone.now())
    if usage_percent >= USAGE_SLOWDOWN_PERCENT:
        next_read += timedelta(hours=1)
    FollowedAdAccount.objects.filter(pk=account.pk).update(
        last_read_at=timezone.now(),
        read_until=until,
        next_read_at=next_read,
        last_error="",
    )
    logger.info(
        "insights.ads.read",
        extra={"account_id": account.pk, "rows": stored, "usage_percent": usage_percent},
    )
    return ReadResult("read", rows=stored, since=since, until=until)


def _next_daily_read(now: datetime) -> datetime:
    return now + timedelta(days=1)


def _postpone(account: FollowedAdAccount, seconds: int, message: str) -> None:
    FollowedAdAccount.objects.filter(pk=account.pk).update(
        next_read_at=timezone.now() + timedelta(seconds=seconds), last_error=message
    )


def _needs_reauth(connection: AdsConnection, detail: str) -> None:
    AdsConnection.objects.filter(pk=connection.pk).update(
        status=ConnectionStatus.NEEDS_REAUTH, status_message=REAUTH_MESSAGE.format(detail=detail)
    )
    logger.warning("insights.ads.needs_reauth", extra={"connection_id": connection.pk})


def _purchases(row: AdInsightsRow) -> tuple[int, Decimal]:
    for action_type in PURCHASE_ACTIONS:
        count = row.action(action_type)
        if count:
            return int(count), Decimal(str(row.action_value(action_type))).quantize(Decimal("0.01"))
    return 0, Decimal("0.00")


@transaction.atomic
def _store(account: FollowedAdAccount, rows: list[AdInsightsRow], since: date, until: date) -> int:
    tenant_id = account.tenant_id
    AdDailyInsight.objects.filter(
        tenant_id=tenant_id, account=account, date__gte=since, date__lte=until
    ).delete()
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        purchases, value = _purchases(row)
        key = (row.ad_id, row.date_start)
        merged[key] = {
            "ad_name": row.ad_name,
            "campaign_name": row.campaign_name,
            "conversations_started": int(row.action(STARTED_ACTION)),
            "leads": int(row.action(LEAD_ACTION)),
            "purchases": purchases,
            "purchase_value": value,
            "spend": Decimal(str(row.spend)).quantize(Decimal("0.01")),
        }
    AdDailyInsight.objects.bulk_create(
        [
            AdDailyInsight(
                tenant_id=tenant_id,
                account=account,
                ad_id=ad_id,
                date=date.fromisoformat(day),
                currency=account.currency,
                **values,
            )
            for (ad_id, day), values in merged.items()
        ]
    )
    return len(merged)
