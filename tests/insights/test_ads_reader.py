"""Connecting ad accounts and reading Ads Insights: against the Graph sandbox, and with
``responses`` at the edge for what the sandbox cannot vary (Facebook's own paging URLs)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from graph_api.client import GraphClient
from insights import services, tasks
from insights.models import AdDailyInsight, AdsConnection, ConnectionStatus, FollowedAdAccount
from tenants.crypto import decrypt_token, encrypt_token
from tenants.models import AuditEvent, Tenant
from tenants.permissions import Role
from tests.sandbox_fixtures import AD, AD_2, AD_ACCOUNT, ADA, ADA_PAGE, BIKE_AD, GraphSandbox
from tests.tenants.factories import member

if TYPE_CHECKING:
    from tests.client_types import TestResponse

pytestmark = pytest.mark.django_db

PSID = "6100000000000042"


@pytest.fixture
def admin_client(tenant: Tenant) -> Client:
    client = Client()
    client.force_login(member(tenant, Role.ADMIN).user)
    return client


def connect_ads(
    client: Client,
    tenant: Tenant,
    sandbox: GraphSandbox,
    *,
    decline: tuple[str, ...] = (),
    rerequest: bool = False,
) -> tuple[str, TestResponse]:
    """Press "Connect ad accounts", let the sandbox's dialog answer, follow the redirect back."""
    start = client.post(f"/t/{tenant.slug}/ads/connect/", {"rerequest": "1"} if rerequest else {})
    assert start.status_code == 302
    dialog = start["Location"]
    params: dict[str, str] = {"sandbox_auto": "1", "sandbox_user": ADA}
    if decline:
        params["sandbox_decline"] = ",".join(decline)
    answer = requests.get(dialog, params=params, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    assert callback.path == "/connect/facebook/ads/done/"
    return dialog, client.get(f"{callback.path}?{callback.query}")


def followed_account(client: Client, tenant: Tenant, sandbox: GraphSandbox) -> FollowedAdAccount:
    connect_ads(client, tenant, sandbox)
    account = FollowedAdAccount.objects.get(tenant=tenant)
    response = client.post(f"/t/{tenant.slug}/ads/", {"follow": [account.pk]})
    assert response.status_code == 302
    account.refresh_from_db()
    return account


def test_connecting_asks_for_ads_read_and_lists_the_ad_accounts(
    admin_client: Client, tenant: Tenant, sandbox: GraphSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    dialog, done = connect_ads(admin_client, tenant, sandbox)

    query = parse_qs(urlsplit(dialog).query)
    assert query["scope"] == ["ads_read"]
    assert "auth_type" not in query
    assert done.status_code == 302
    assert done["Location"] == f"/t/{tenant.slug}/ads/"
    connection = AdsConnection.objects.get(tenant=tenant)
    assert connection.facebook_user_id == ADA
    assert connection.status == ConnectionStatus.ACTIVE
    token = decrypt_token(connection.token_encrypted)
    assert token not in connection.token_encrypted  # encrypted at rest
    assert token not in caplog.text
    assert token not in repr(connection)
    account = FollowedAdAccount.objects.get(tenant=tenant)
    assert (account.account_id, account.name, account.currency, account.followed) == (
        AD_ACCOUNT,
        "Ada's Ads",
        "EUR",
        False,
    )
    page = admin_client.get(done["Location"]).content.decode()
    assert "Ada&#x27;s Ads" in page
    assert 'aria-label="Follow Ada&#x27;s Ads"' in page
    audit = AuditEvent.objects.get(tenant=tenant, action="ad_accounts.connected")
    assert audit.details == {"ad_accounts": 1}


def test_a_declined_ads_read_asks_again_with_rerequest(
    admin_client: Client, tenant: Tenant, sandbox: GraphSandbox
) -> None:
    _, done = connect_ads(admin_client, tenant, sandbox, decline=("ads_read",))

    assert done["Location"] == f"/t/{tenant.slug}/ads/?rerequest=1"
    assert not AdsConnection.objects.filter(tenant=tenant).exists()
    page = admin_client.get(done["Location"]).content.decode()
    assert "did not grant ads_read" in page
    assert 'name="rerequest" value="1"' in page
    dialog, done = connect_ads(admin_client, tenant, sandbox, rerequest=True)
    assert parse_qs(urlsplit(dialog).query)["auth_type"] == ["rerequest"]
    assert AdsConnection.objects.filter(tenant=tenant).exists()


def test_a_callback_with_a_foreign_state_is_refused(
    admin_client: Client, tenant: Tenant, sandbox: GraphSandbox
) -> None:
    admin_client.post(f"/t/{tenant.slug}/ads/connect/")
    response = admin_client.get("/connect/facebook/ads/done/?code=abc&state=forged")
    assert response.status_code == 400
    assert "not started here" in response.content.decode()


def test_viewers_see_the_accounts_but_cannot_connect_or_follow(
    tenant: Tenant, sandbox: GraphSandbox
) -> None:
    client = Client()
    client.force_login(member(tenant, Role.VIEWER).user)
    assert client.get(f"/t/{tenant.slug}/ads/").status_code == 200
    assert client.post(f"/t/{tenant.slug}/ads/connect/").status_code == 403
    assert client.post(f"/t/{tenant.slug}/ads/", {"follow": ["1"]}).status_code == 403


def test_following_enqueues_a_read_on_commit(
    admin_client: Client,
    tenant: Tenant,
    sandbox: GraphSandbox,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect_ads(admin_client, tenant, sandbox)
    account = FollowedAdAccount.objects.get(tenant=tenant)
    sent = []
    monkeypatch.setattr(tasks.read_ad_account, "delay", lambda pk: sent.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/t/{tenant.slug}/ads/", {"follow": [account.pk]})
    assert sent == [account.pk]


def test_a_read_stores_ads_managers_numbers_per_ad_and_day(
    admin_client: Client, tenant: Tenant, sandbox: GraphSandbox
) -> None:
    account = followed_account(admin_client, tenant, sandbox)
    sandbox.insights_same_day()
    yesterday = sandbox.ad_referral(ADA_PAGE, PSID, AD, days_ago=1)
    today = sandbox.ad_referral(ADA_PAGE, PSID, AD)
    sandbox.ad_referral(ADA_PAGE, "6100000000000043", AD_2)
    page_token = sandbox.page_token(ADA, ADA_PAGE)
    dataset = sandbox.post(f"/{ADA_PAGE}/dataset", page_token).json()["id"]
    lead = {
        "event_name": "LeadSubmitted",
        "event_time": int(timezone.now().timestamp()),
        "action_source": "business_messaging",
        "messaging_channel": "messenger",
        "user_data": {"page_id": int(ADA_PAGE), "page_scoped_user_id": int(PSID)},
    }
    assert sandbox.post(f"/{dataset}/events", page_token, json={"data": [lead]}).status_code == 200

    assert tasks.read_ad_account(account.pk) == "read"

    rows = {
        (row.ad_id, row.date.isoformat()): row
        for row in AdDailyInsight.objects.filter(tenant=tenant)
    }
    assert set(rows) == {(AD, yesterday), (AD, today), (AD_2, today)}
    croissant = rows[(AD, today)]
    assert (croissant.conversations_started, croissant.leads, croissant.spend) == (
        1,
        1,
        Decimal("1.25"),
    )
    assert (croissant.ad_name, croissant.campaign_name, croissant.currency) == (
        "Croissant video",
        "Bakery click-to-Messenger",
        "EUR",
    )
    assert rows[(AD_2, today)].leads == 0
    account.refresh_from_db()
    assert account.read_until == timezone.localdate()
    assert account.next_read_at is not None
    assert account.next_read_at > timezone.now() + timedelta(hours=23)
    # Not due again today: a duplicated task message reads nothing.
    assert tasks.read_ad_account(account.pk) == "not_due"


def test_a_read_pages_through_every_row(
    admin_client: Client, tenant: Tenant, sandbox: GraphSandbox
) -> None:
    account = followed_account(admin_client, tenant, sandbox)
    for days_ago in range(30):
        sandbox.ad_referral(ADA_PAGE, PSID, AD, days_ago=days_ago)
        sandbox.ad_referral("300000000000002", PSID, BIKE_AD, days_ago=days_ago)

    result = services.ad_account_read(account=account)

    # The window is the last 28 days (the days Facebook revises): 28 x 2 ads, in 3 pages.
    assert result.outcome == "read"
    assert AdDailyInsight.objects.filter(tenant=tenant).count() == 56
    assert len(sandbox.requests(path="insights")) == 3
    assert result.since == timezone.localdate() - timedelta(days=27)


def test_a_reread_replaces_the_window_facebook_revised(
    admin_client: Client, tenant: Tenant, sandbox: GraphSandbox
) -> None:
    account = followed_account(admin_client, tenant, sandbox)
    sandbox.ad_referral(ADA_PAGE, PSID, AD, days_ago=3)
    services.ad_account_read(account=account)
    old = AdDailyInsight.objects.create(
        tenant=tenant, account=account, ad_id="999", date=timezone.localdate() - timedelta(days=40)
    )
    sandbox.reset()  # Facebook no longer reports the ad on that day

    account.refresh_from_db()
    services.ad_account_read(account=account)

    assert list(AdDailyInsight.objects.filter(tenant=tenant)) == [old]  # outside the window: kept


@pytest.mark.parametrize(
    ("read_until", "expected_since"),
    [
        (None, 27),  # first read: the last 28 days
        (1, 27),  # read yesterday: the last 28 days again (Facebook revises them)
        (40, 40),  # missed reads: from the last day read
        (200, 89),  # long gone: at most 90 days back
    ],
)
def test_the_read_window(tenant: Tenant, read_until: int | None, expected_since: int) -> None:
    today = date(2026, 12, 4)
    account = FollowedAdAccount(
        tenant=tenant,
        account_id="act_1",
        read_until=None if read_until is None else today - timedelta(days=read_until),
    )
    assert services.read_window(account, today) == (today - timedelta(days=expected_since), today)


def test_throttling_postpones_the_read_by_facebooks_estimate(
    admin_client: Client, tenant: Tenant, sandbox: GraphSandbox
) -> None:
    account = followed_account(admin_client, tenant, sandbox)
    sandbox.faults(kind="80000", count=1, path="insights", regain_minutes=30)

    result = services.ad_account_read(account=account)

    assert (result.outcome, result.retry_after) == ("throttled", 1800)
    account.refresh_from_db()
    assert account.next_read_at is not None
    assert account.next_read_at > timezone.now() + timedelta(minutes=29)
    assert "throttling" in account.last_error
    assert tasks.read_ad_account(account.pk) == "not_due"
    page = admin_client.get(f"/t/{tenant.slug}/ads/").content.decode()
    assert "Facebook is throttling this ad account" in page


def test_an_invalid_token_marks_the_connection_for_reconnecting(
    admin_client: Client, tenant: Tenant, sandbox: GraphSandbox
) -> None:
    account = followed_account(admin_client, tenant, sandbox)
    sandbox.revoke(user_id=ADA)

    assert services.ad_account_read(account=account).outcome == "needs_reauth"

    connection = AdsConnection.objects.get(tenant=tenant)
    assert connection.status == ConnectionStatus.NEEDS_REAUTH
    assert "Connect ad accounts again" in connection.status_message
    for url in (f"/t/{tenant.slug}/", f"/t/{tenant.slug}/ads/"):
        assert "Connect ad accounts again" in admin_client.get(url).content.decode()
    account.refresh_from_db()
    assert services.ad_account_read(account=account).outcome == "skipped"
    # Reconnecting repairs it.
    connect_ads(admin_client, tenant, sandbox, rerequest=True)
    assert AdsConnection.objects.get(tenant=tenant).status == ConnectionStatus.ACTIVE


def test_the_beat_enqueues_due_followed_accounts_only(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    connection = AdsConnection.objects.create(
        tenant=tenant, facebook_user_id="1", token_encrypted=encrypt_token("t")
    )
    due = FollowedAdAccount.objects.create(
        tenant=tenant, connection=connection, account_id="act_1", followed=True
    )
    FollowedAdAccount.objects.create(
        tenant=tenant,
        connection=connection,
        account_id="act_2",
        followed=True,
        next_read_at=timezone.now() + timedelta(hours=3),
    )
    FollowedAdAccount.objects.create(
        tenant=tenant, connection=connection, account_id="act_3", followed=False
    )
    sent = []
    monkeypatch.setattr(tasks.read_ad_account, "delay", lambda pk: sent.append(pk))
    assert tasks.read_due_ad_accounts() == 1
    assert sent == [due.pk]
    assert settings.CELERY_BEAT_SCHEDULE["insights-read-due-ad-accounts"]["task"] == (
        "insights.tasks.read_due_ad_accounts"
    )


# --- With responses at the edge --------------------------------------------------------------

BASE = "https://graph.example.test"


def graph() -> GraphClient:
    return GraphClient(
        base_url=BASE,
        app_id="1",
        app_secret="secret",
        version="v25.0",
        page_activities_version="v20.0",
    )


@responses.activate
def test_paging_follows_facebooks_cursor_without_fetching_its_next_url() -> None:
    first = {
        "data": [
            {
                "ad_id": "11",
                "ad_name": "A",
                "campaign_name": "C",
                "spend": "3.10",
                "date_start": "2026-12-01",
                "date_stop": "2026-12-01",
                "actions": [{"action_type": "onsite_conversion.lead_grouped", "value": "2"}],
            }
        ],
        "paging": {
            "cursors": {"after": "CURSOR1"},
            "next": "https://graph.facebook.com/v25.0/act_9/insights?access_token=LEAKED&after=CURSOR1",
        },
    }
    second = {
        "data": [
            {
                "ad_id": "12",
                "spend": "0",
                "date_start": "2026-12-01",
                "date_stop": "2026-12-01",
                "action_values": [{"action_type": "onsite_conversion.purchase", "value": "9.5"}],
                "actions": [{"action_type": "onsite_conversion.purchase", "value": "1"}],
            }
        ],
        "paging": {"cursors": {"after": "CURSOR2"}},
    }
    responses.get(
        f"{BASE}/v25.0/act_9/insights",
        json=second,
        match=[responses.matchers.query_param_matcher({"after": "CURSOR1"}, strict_match=False)],
    )
    responses.get(f"{BASE}/v25.0/act_9/insights", json=first)

    rows = graph().ad_insights(
        ad_account_id="9", token="user-token", since=date(2026, 12, 1), until=date(2026, 12, 1)
    )

    assert [(r.ad_id, r.spend, r.action("onsite_conversion.lead_grouped")) for r in rows] == [
        ("11", 3.1, 2),
        ("12", 0.0, 0),
    ]
    assert rows[1].action_value("onsite_conversion.purchase") == 9.5
    assert len(responses.calls) == 2
    assert all((call.request.url or "").startswith(f"{BASE}/") for call in responses.calls)
    query = parse_qs(urlsplit(responses.calls[0].request.url or "").query)
    assert query["level"] == ["ad"]
    assert query["time_increment"] == ["1"]
    assert json.loads(query["time_range"][0]) == {"since": "2026-12-01", "until": "2026-12-01"}
    assert "appsecret_proof" in query


@responses.activate
def test_the_ads_insights_throttle_header_is_read_into_usage() -> None:
    responses.get(
        f"{BASE}/v25.0/act_9/insights",
        json={"data": [{"ad_id": "1", "date_start": "2026-12-01", "date_stop": "2026-12-01"}]},
        headers={
            "x-fb-ads-insights-throttle": json.dumps(
                {
                    "app_id_util_pct": 12,
                    "acc_id_util_pct": 95,
                    "ads_api_access_tier": "standard_access",
                }
            )
        },
    )
    [row] = graph().ad_insights(
        ad_account_id="act_9", token="t", since=date(2026, 12, 1), until=date(2026, 12, 1)
    )
    assert row.usage.ads_insights is not None
    assert row.usage.ads_insights.acc_id_util_pct == 95
    assert row.usage.max_percent == 95


@responses.activate
def test_a_read_near_the_limit_waits_longer(tenant: Tenant) -> None:
    responses.get(
        f"{BASE}/v25.0/act_9/insights",
        json={"data": [{"ad_id": "1", "date_start": "2026-12-01", "date_stop": "2026-12-01"}]},
        headers={
            "x-fb-ads-insights-throttle": json.dumps({"app_id_util_pct": 1, "acc_id_util_pct": 97})
        },
    )
    connection = AdsConnection.objects.create(
        tenant=tenant, facebook_user_id="1", token_encrypted=encrypt_token("t")
    )
    account = FollowedAdAccount.objects.create(
        tenant=tenant, connection=connection, account_id="act_9", followed=True
    )
    assert services.ad_account_read(account=account, graph=graph()).outcome == "read"
    account.refresh_from_db()
    # At 97% of the account's insights capacity the next daily read waits an hour more.
    assert account.next_read_at is not None
    assert account.next_read_at > timezone.now() + timedelta(hours=24, minutes=59)


def stored_account(tenant: Tenant) -> FollowedAdAccount:
    connection = AdsConnection.objects.create(
        tenant=tenant, facebook_user_id="1", token_encrypted=encrypt_token("user-token-xyz")
    )
    return FollowedAdAccount.objects.create(
        tenant=tenant, connection=connection, account_id="act_9", followed=True
    )


@responses.activate
def test_a_190_at_the_edge_stops_the_reads_without_leaking_the_token(
    tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    responses.get(
        f"{BASE}/v25.0/act_9/insights",
        status=400,
        json={
            "error": {
                "message": "Error validating access token: user-token-xyz has expired",
                "type": "OAuthException",
                "code": 190,
                "error_subcode": 463,
                "fbtrace_id": "AbC",
            }
        },
    )
    account = stored_account(tenant)

    assert services.ad_account_read(account=account, graph=graph()).outcome == "needs_reauth"

    connection = AdsConnection.objects.get(pk=account.connection_id)
    assert connection.status == ConnectionStatus.NEEDS_REAUTH
    assert "user-token-xyz" not in connection.status_message
    assert "user-token-xyz" not in caplog.text


@responses.activate
def test_a_429_with_a_business_use_case_estimate_at_the_edge_backs_off(tenant: Tenant) -> None:
    responses.get(
        f"{BASE}/v25.0/act_9/insights",
        status=429,
        json={"error": {"message": "Too many calls", "code": 80000, "error_subcode": 2446079}},
        headers={
            "X-Business-Use-Case-Usage": json.dumps(
                {
                    "act_9": [
                        {
                            "type": "ads_insights",
                            "call_count": 100,
                            "estimated_time_to_regain_access": 45,
                        }
                    ]
                }
            )
        },
    )
    account = stored_account(tenant)

    result = services.ad_account_read(account=account, graph=graph())

    assert (result.outcome, result.retry_after) == ("throttled", 45 * 60)
    account.refresh_from_db()
    assert account.next_read_at is not None
    assert account.next_read_at > timezone.now() + timedelta(minutes=44)
    assert not AdDailyInsight.objects.filter(tenant=tenant).exists()
