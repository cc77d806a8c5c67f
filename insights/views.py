"""The marketer's overview (the workspace's home page), its CSV exports, and the ad accounts
screen where an admin connects Facebook with ``ads_read`` and picks the accounts to follow."""

from __future__ import annotations

import csv
import hmac
import json
import logging
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from events.charts import simple_bars
from graph_api.client import GraphClient
from graph_api.errors import GraphError
from insights import selectors, services
from insights.models import FollowedAdAccount
from insights.tasks import enqueue_read
from tenants import services as tenant_services
from tenants.models import ApiKey, Membership, Tenant
from tenants.params import id_param
from tenants.permissions import role_can
from tenants.views import actor_for, tenant_page

logger = logging.getLogger(__name__)

SESSION_ADS_STATE = "insights_ads_connect"
ADS_TABLE_DAYS = 30
DIFFERENCE_NOTE = (
    "Ads Manager counts a lead for an ad when Facebook attributes it to that ad, within the "
    "account's attribution window (by default 7 days after the click), on the day it reports "
    "it (usually the next day), and only for people who did not decline tracking. Pagepulse "
    "counts every lead its flows logged for people who came from the ad, whatever happened to "
    "the event afterwards: events still retrying or held are counted here but not yet by "
    "Facebook. Spend and cost per lead are Ads Manager's, in the ad account's currency."
)


def _days(request: HttpRequest) -> int:
    """`?days=` for the exports: 1 to 90, default 30."""
    raw = id_param(request.GET.get("days"))
    return min(raw, 90) if raw else ADS_TABLE_DAYS


@tenant_page("insights.view")
@require_GET
def overview(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    data = selectors.overview(tenant=tenant)
    first = data.today - timedelta(days=ADS_TABLE_DAYS - 1)
    ads = selectors.ad_rows(tenant=tenant, first=first, last=data.today)
    lead_chart = simple_bars(data.daily_leads, "day", noun="lead")
    conversation_chart = simple_bars(data.daily_conversations, "day", noun="conversation")
    role = request.tenant_role  # type: ignore[attr-defined]
    context = {
        "data": data,
        "lead_chart": None if lead_chart.empty else lead_chart,
        "conversation_chart": None if conversation_chart.empty else conversation_chart,
        "ads": ads,
        "ads_status": selectors.ads_status(tenant=tenant),
        "difference_note": DIFFERENCE_NOTE,
        "can_manage_ads": role_can(role, "ads.manage"),
        "member_count": Membership.objects.for_tenant(tenant).count(),
        "active_key_count": ApiKey.objects.for_tenant(tenant).filter(revoked_at=None).count()
        if role_can(role, "api_key.view")
        else None,
    }
    return render(request, "insights/overview.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(filename: str, rows: Iterator[list[Any]]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text a person or Facebook wrote (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@tenant_page("insights.view")  # type: ignore[arg-type]  # a streamed answer
@require_GET
def ads_csv(request: HttpRequest, tenant: Tenant) -> StreamingHttpResponse:
    today = timezone.localdate()
    first = today - timedelta(days=_days(request) - 1)
    rows = selectors.ad_rows(tenant=tenant, first=first, last=today)

    def lines() -> Iterator[list[Any]]:
        yield [
            "ad_id",
            "ad_name",
            "campaign_name",
            "ad_account",
            "conversations_started_ads_manager",
            "conversations_started_pagepulse",
            "leads_pagepulse",
            "leads_ads_manager",
            "purchases_ads_manager",
            "spend",
            "currency",
            "cost_per_lead",
        ]
        for r in rows:
            yield [
                r.ad_id,
                _cell(r.ad_name),
                _cell(r.campaign_name),
                _cell(r.account_name),
                r.fb_conversations,
                "" if r.our_conversations is None else r.our_conversations,
                "" if r.our_leads is None else r.our_leads,
                r.fb_leads,
                r.fb_purchases,
                f"{r.spend:.2f}",
                r.currency,
                "" if r.cost_per_lead is None else f"{r.cost_per_lead:.2f}",
            ]

    return _csv_response(f"{tenant.slug}-ads-{first}-{today}.csv", lines())


@tenant_page("insights.view")  # type: ignore[arg-type]  # a streamed answer
@require_GET
def leads_csv(request: HttpRequest, tenant: Tenant) -> StreamingHttpResponse:
    today = timezone.localdate()
    first = today - timedelta(days=_days(request) - 1)

    def lines() -> Iterator[list[Any]]:
        yield ["logged_at", "page", "flow", "psid", "status", "value", "currency", "variables"]
        for lead in selectors.lead_rows(tenant=tenant, first=first, last=today):
            yield [
                lead.logged_at.isoformat(),
                _cell(lead.page),
                _cell(lead.flow),
                lead.psid,
                lead.status,
                "" if lead.value is None else lead.value.normalize(),
                lead.currency,
                _cell(json.dumps(lead.variables, ensure_ascii=False, sort_keys=True)),
            ]

    return _csv_response(f"{tenant.slug}-leads-{first}-{today}.csv", lines())


# --- Ad accounts -------------------------------------------------------------------------------


@tenant_page("insights.view")
@require_http_methods(["GET", "POST"])
def ad_accounts(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    role = request.tenant_role  # type: ignore[attr-defined]
    can_manage = role_can(role, "ads.manage")
    status = 200
    if request.method == "POST":
        if not can_manage:
            return render(
                request,
                "insights/ad_accounts.html",
                _accounts_context(tenant, can_manage, error="Only admins choose ad accounts."),
                status=403,
            )
        ids = [id_param(value) for value in request.POST.getlist("follow")]
        if any(value is None for value in ids):
            status = 400
            messages.error(request, "Pick ad accounts from the list.")
        else:
            try:
                followed = services.ad_accounts_follow(
                    tenant=tenant,
                    actor=actor_for(request),
                    account_ids=[value for value in ids if value is not None],
                )
            except ValueError:
                status = 400
                messages.error(request, "Pick ad accounts from the list of this workspace.")
            else:
                for account in followed:
                    if account.next_read_at and account.next_read_at <= timezone.now():
                        enqueue_read(account.pk)
                messages.success(
                    request,
                    f"Following {len(followed)} ad account{'s' if len(followed) != 1 else ''}.",
                )
                return redirect("insights:ad_accounts", slug=tenant.slug)
    context = _accounts_context(tenant, can_manage)
    context["rerequest"] = request.GET.get("rerequest") == "1"
    return render(request, "insights/ad_accounts.html", context, status=status)


def _accounts_context(tenant: Tenant, can_manage: bool, error: str = "") -> dict[str, Any]:
    return {
        "accounts": FollowedAdAccount.objects.for_tenant(tenant).select_related("connection"),
        "ads_status": selectors.ads_status(tenant=tenant),
        "can_manage": can_manage,
        "error": error,
    }


@tenant_page("ads.manage")
@require_POST
def ad_account_read_now(request: HttpRequest, tenant: Tenant, account_pk: int) -> HttpResponse:
    account = FollowedAdAccount.objects.for_tenant(tenant).filter(pk=account_pk).first()
    if account is None:
        raise Http404("No such ad account in this workspace")
    if not account.followed:
        messages.error(request, f"Follow {account.name} first; only followed accounts are read.")
        return redirect("insights:ad_accounts", slug=tenant.slug)
    services.ad_account_read_soon(tenant=tenant, account=account)
    enqueue_read(account.pk)
    messages.success(request, f"Reading {account.name} now; refresh in a minute.")
    return redirect("insights:ad_accounts", slug=tenant.slug)


def _redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("insights_ads_done"))


@tenant_page("ads.manage")
@require_POST
def ads_connect(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Send the admin to Facebook Login asking for ``ads_read`` (``auth_type=rerequest`` when
    asked again after a decline)."""
    state = secrets.token_urlsafe(24)
    request.session[SESSION_ADS_STATE] = {"state": state, "slug": tenant.slug}
    query = {
        "client_id": settings.FACEBOOK_APP_ID,
        "redirect_uri": _redirect_uri(request),
        "state": state,
        "scope": services.ADS_SCOPE,
        "response_type": "code",
    }
    if request.POST.get("rerequest") == "1":
        query["auth_type"] = "rerequest"
    return redirect(
        f"{settings.FACEBOOK_WWW_URL}/{settings.GRAPH_API_VERSION}/dialog/oauth?{urlencode(query)}"
    )


@login_required
@require_GET
def ads_connect_done(request: HttpRequest) -> HttpResponse:
    """Facebook Login's redirect: check the state, keep the token, list the ad accounts."""
    pending = request.session.pop(SESSION_ADS_STATE, None)
    state = request.GET.get("state", "")
    if not isinstance(pending, dict) or not hmac.compare_digest(
        str(pending.get("state", "")), state
    ):
        return render(
            request,
            "insights/connect_failed.html",
            {
                "reason": "This sign-in was not started here, or it was already used. Start again "
                "from the workspace's Ad accounts page."
            },
            status=400,
        )
    tenant = Tenant.objects.filter(slug=pending.get("slug", "")).first()
    role = tenant_services.role_of(tenant=tenant, user=request.user) if tenant else None
    if tenant is None or not role_can(role, "ads.manage"):
        raise Http404("No such workspace")
    if request.GET.get("error") or not request.GET.get("code"):
        messages.error(
            request,
            "Facebook Login was cancelled, so no ad accounts were connected. Ads Manager's "
            "numbers need the “ads_read” permission; connect again and allow it.",
        )
        return redirect("insights:ad_accounts", slug=tenant.slug)
    graph = GraphClient.from_settings()
    try:
        token = graph.exchange_code(code=request.GET["code"], redirect_uri=_redirect_uri(request))
        connection = services.ads_connection_save(
            tenant=tenant,
            user=cast(User, request.user),
            user_token=token.access_token,
            graph=graph,
        )
    except services.AdsConnectError as error:
        messages.error(request, str(error))
        return redirect(reverse("insights:ad_accounts", args=[tenant.slug]) + "?rerequest=1")
    except GraphError as error:
        logger.warning("insights.ads.connect_failed", extra={"error_class": type(error).__name__})
        messages.error(
            request, "Facebook did not answer while listing your ad accounts; please try again."
        )
        return redirect("insights:ad_accounts", slug=tenant.slug)
    count = connection.accounts.count()
    messages.success(
        request,
        f"Connected {connection.facebook_user_name or 'your Facebook account'}: "
        f"{count} ad account{'s' if count != 1 else ''} found. Tick the ones to follow.",
    )
    return redirect("insights:ad_accounts", slug=tenant.slug)
