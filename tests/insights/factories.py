"""Rows the insights tests share: a workspace's followed ad account with an ad's daily numbers
from Ads Manager."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from insights.models import AdDailyInsight, AdsConnection, FollowedAdAccount
from tenants.crypto import encrypt_token
from tenants.models import Tenant

TODAY = timezone.localdate()


def ads_seed(tenant: Tenant) -> FollowedAdAccount:
    """Ada's followed account act_4 (EUR) with ad 600's leads and spend 1, 2 and 45 days ago."""
    connection = AdsConnection.objects.create(
        tenant=tenant,
        facebook_user_id="1",
        facebook_user_name="Ada",
        token_encrypted=encrypt_token("t"),
    )
    account = FollowedAdAccount.objects.create(
        tenant=tenant,
        connection=connection,
        account_id="act_4",
        name="Ada's Ads",
        currency="EUR",
        followed=True,
    )
    for days_ago, leads, spend in [(1, 2, "3.00"), (2, 1, "2.50"), (45, 9, "50")]:
        AdDailyInsight.objects.create(
            tenant=tenant,
            account=account,
            ad_id="600",
            date=TODAY - timedelta(days=days_ago),
            ad_name="=Croissant video",
            campaign_name="Bakery",
            conversations_started=4,
            leads=leads,
            spend=Decimal(spend),
            currency="EUR",
        )
    return account
