"""Contract tests for the Ads read-back: ``ad_accounts`` and ``ad_insights`` against the sandbox.

The sandbox attributes the events it accepted to the ad a person last started a conversation
from (a webhook ``referral`` with ``source: ADS``, or ``/_sandbox/ad_referrals``), as Facebook does
from the click, and serves them as ``onsite_conversion.*`` actions per ad and day.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from graph_api.client import GraphClient
from graph_api.errors import PermissionMissingError, RateLimitedError, TokenInvalidError
from tests.graph_api.contract import PSID, capi_event, connect
from tests.sandbox_fixtures import AD, AD_2, AD_ACCOUNT, ADA, ADA_PAGE, BIKE_AD, CLEO, GraphSandbox

LEAD = "onsite_conversion.lead_grouped"
STARTED = "onsite_conversion.messaging_conversation_started_7d"
PURCHASE = "onsite_conversion.purchase"
OTHER_PSID = "6100000000000099"


def today() -> date:
    return datetime.now(UTC).date()


def send_capi(
    sandbox_graph: GraphClient,
    graph_sandbox: GraphSandbox,
    page_token: str,
    *events: dict[str, Any],
) -> None:
    dataset = sandbox_graph.get_or_create_dataset(page_id=ADA_PAGE, token=page_token)
    sandbox_graph.send_capi_events(dataset_id=dataset, token=page_token, events=list(events))


def test_ad_accounts_lists_what_the_person_can_read(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    user_token, _ = connect(sandbox_graph, graph_sandbox)

    accounts = sandbox_graph.ad_accounts(user_token=user_token)

    assert [(a.id, a.account_id, a.name, a.currency) for a in accounts] == [
        (AD_ACCOUNT, AD_ACCOUNT.removeprefix("act_"), "Ada's Ads", "EUR")
    ]
    request = graph_sandbox.requests(path="adaccounts")[-1]
    assert request["query"]["fields"] == "id,account_id,name,currency"


def test_ad_accounts_without_ads_read_is_a_missing_permission(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    token = graph_sandbox.login(ADA, decline=("ads_read",))
    with pytest.raises(PermissionMissingError) as caught:
        sandbox_graph.ad_accounts(user_token=token)
    assert caught.value.code == 200


def test_a_person_without_ad_accounts_gets_none(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    token = graph_sandbox.mint(type="user", user_id=CLEO, scopes=["ads_read"])
    assert sandbox_graph.ad_accounts(user_token=token) == []


def test_ad_insights_attribute_leads_to_the_ad_a_person_came_from(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    user_token, pages = connect(sandbox_graph, graph_sandbox)
    graph_sandbox.insights_same_day()
    day = graph_sandbox.ad_referral(ADA_PAGE, PSID, AD)
    graph_sandbox.ad_referral(ADA_PAGE, OTHER_PSID, AD_2)
    send_capi(
        sandbox_graph,
        graph_sandbox,
        pages[ADA_PAGE].access_token,
        capi_event("LeadSubmitted"),
        capi_event("LeadSubmitted", event_id="second-lead"),
        capi_event("Purchase", custom_data={"currency": "EUR", "value": 12.5}),
    )

    rows = sandbox_graph.ad_insights(
        ad_account_id=AD_ACCOUNT, token=user_token, since=today() - timedelta(days=2), until=today()
    )

    by_ad = {row.ad_id: row for row in rows}
    assert set(by_ad) == {AD, AD_2}
    croissant = by_ad[AD]
    assert (croissant.date_start, croissant.date_stop) == (day, day)
    assert (croissant.ad_name, croissant.campaign_name) == (
        "Croissant video",
        "Bakery click-to-Messenger",
    )
    assert croissant.action(STARTED) == 1
    assert croissant.action(LEAD) == 2
    assert croissant.action(PURCHASE) == 1
    assert croissant.action_value(PURCHASE) == 12.5
    assert croissant.spend == 1.25
    # The other person only started a conversation: no lead, no purchase.
    assert by_ad[AD_2].action(STARTED) == 1
    assert by_ad[AD_2].action(LEAD) == 0
    query = graph_sandbox.requests(path="insights")[-1]["query"]
    assert query["level"] == "ad"
    assert query["time_increment"] == "1"
    assert query["fields"] == "ad_id,ad_name,campaign_name,spend,actions,action_values"
    assert query["time_range"] == (
        f'{{"since":"{(today() - timedelta(days=2)).isoformat()}","until":"{today().isoformat()}"}}'
    )


def test_ad_insights_report_conversions_from_the_next_day_on(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    user_token, pages = connect(sandbox_graph, graph_sandbox)
    graph_sandbox.ad_referral(ADA_PAGE, PSID, AD)
    send_capi(
        sandbox_graph, graph_sandbox, pages[ADA_PAGE].access_token, capi_event("LeadSubmitted")
    )

    [row] = sandbox_graph.ad_insights(
        ad_account_id=AD_ACCOUNT, token=user_token, since=today(), until=today()
    )

    assert row.action(STARTED) == 1
    assert row.action(LEAD) == 0  # like Facebook: today's leads are reported tomorrow


def test_ad_insights_follow_every_page(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    user_token, _ = connect(sandbox_graph, graph_sandbox)
    for days_ago in range(30):
        graph_sandbox.ad_referral(ADA_PAGE, PSID, AD, days_ago=days_ago)
        graph_sandbox.ad_referral("300000000000002", PSID, BIKE_AD, days_ago=days_ago)

    rows = sandbox_graph.ad_insights(
        ad_account_id=AD_ACCOUNT,
        token=user_token,
        since=today() - timedelta(days=27),
        until=today(),
    )

    # 28 days x 2 ads = 56 rows, served 25 a page: three pages, nothing read twice.
    assert len(rows) == 56
    assert len({(row.ad_id, row.date_start) for row in rows}) == 56
    assert len(graph_sandbox.requests(path="insights")) == 3


def test_ad_insights_throttling_is_rate_limited_with_the_accounts_estimate(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    user_token, _ = connect(sandbox_graph, graph_sandbox)
    graph_sandbox.faults(kind="80000", count=1, path="insights", regain_minutes=3)

    with pytest.raises(RateLimitedError) as caught:
        sandbox_graph.ad_insights(
            ad_account_id=AD_ACCOUNT, token=user_token, since=today(), until=today()
        )

    assert (caught.value.code, caught.value.error_subcode) == (80000, 2446079)
    assert caught.value.retry_after == 180
    assert caught.value.usage.ads_insights is not None
    assert caught.value.usage.ads_insights.acc_id_util_pct == 100
    assert caught.value.usage.business_use_case[0].business_id == AD_ACCOUNT
    assert (
        sandbox_graph.ad_insights(
            ad_account_id=AD_ACCOUNT, token=user_token, since=today(), until=today()
        )
        == []
    )


def test_ad_insights_with_a_revoked_token_is_token_invalid(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    user_token, _ = connect(sandbox_graph, graph_sandbox)
    graph_sandbox.revoke(user_id=ADA)
    with pytest.raises(TokenInvalidError) as caught:
        sandbox_graph.ad_insights(
            ad_account_id=AD_ACCOUNT, token=user_token, since=today(), until=today()
        )
    assert caught.value.code == 190
    assert user_token not in str(caught.value)
