"""`make dev`'s demo activity, with a real worker: seed_demo_activity connects the demo's Pages
through the sandbox, publishes the lead flow, has the sandbox's Messenger users talk to it over
signed webhooks for four days, and leaves every screen's numbers agreeing: conversations,
handoffs, delivered leads with their ad, and the funnel counters, each on its own day."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum
from django.utils import timezone

from events.models import EventStatus, LoggedEvent
from flows.models import Conversation, ConversationStatus, NodeDailyCount
from insights.management.commands.seed_demo_activity import PEOPLE, SPRING_AD
from insights.models import AdDailyInsight
from tenants.management.commands.seed_demo import DEMO_WORKSPACE
from tests.system.harness import Cluster
from tests.system.runtime_fixtures import runtime_worker, webhook_url_fixture  # noqa: F401
from tests.timing import deadline

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_url")]

DAYS = 3


def test_the_demo_has_days_of_true_activity(
    cluster: Cluster, live_server: Any, sandbox: Any, settings: Any
) -> None:
    settings.FACEBOOK_APP_ID = sandbox.app_id
    settings.FACEBOOK_APP_SECRET = sandbox.app_secret
    runtime_worker(cluster)
    call_command("seed_demo")
    call_command(
        "seed_demo_activity",
        base_url=live_server.url,
        sandbox_url=sandbox.url,
        days=DAYS,
        wait=deadline(60),
    )

    conversations = Conversation.objects.filter(tenant__name=DEMO_WORKSPACE)
    complete = sum(len(answers) == 4 for _, _, answers in PEOPLE)
    today = timezone.now().astimezone(UTC).date()
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    by_day = {
        (row["created_at__date"], row["status"]): row["n"]
        for row in conversations.values("created_at__date", "status").annotate(n=Count("id"))
    }
    for day in days:
        assert by_day[(day, ConversationStatus.HANDED_OFF)] == complete, by_day
        assert by_day[(day, ConversationStatus.WAITING)] == len(PEOPLE) - complete, by_day

    leads = LoggedEvent.objects.filter(tenant__name=DEMO_WORKSPACE, event="lead_submitted")
    assert set(leads.values_list("status", flat=True)) == {EventStatus.DELIVERED}
    from_ad = sum(ad and len(answers) == 4 for _, ad, answers in PEOPLE)
    for day in days:
        assert leads.filter(created_at__date=day).count() == complete
        assert leads.filter(created_at__date=day, ad_id=SPRING_AD).count() == from_ad

    # The funnel counters moved with their conversations: each day's Start counts its people.
    starts = dict(
        NodeDailyCount.objects.filter(tenant__name=DEMO_WORKSPACE, node_id="start", handle="")
        .values_list("day")
        .annotate(n=Sum("entered"))
    )
    assert starts == dict.fromkeys(days, len(PEOPLE))

    # Ads Manager's side was read back: the Spring tune-up ad's leads, as the sandbox saw them.
    insight = AdDailyInsight.objects.filter(tenant__name=DEMO_WORKSPACE, ad_id=SPRING_AD)
    assert insight.aggregate(leads=Sum("leads"))["leads"] == from_ad * DAYS

    # A second run leaves the demo as it is.
    call_command("seed_demo_activity", base_url=live_server.url, sandbox_url=sandbox.url, days=1)
    assert Conversation.objects.filter(tenant__name=DEMO_WORKSPACE).count() == DAYS * len(PEOPLE)
