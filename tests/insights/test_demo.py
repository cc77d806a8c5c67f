"""`make dev`'s demo: connect_demo_pages also connects the sandbox's ad account, as a person would."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from insights.models import AdsConnection, FollowedAdAccount
from tenants.management.commands.seed_demo import DEMO_WORKSPACE
from tenants.models import ConnectedPage, Tenant
from tests.sandbox_fixtures import GraphSandbox

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_follows_the_sandboxs_ad_account(
    live_server: LiveServer, graph_sandbox: GraphSandbox, settings: Settings
) -> None:
    settings.GRAPH_API_URL = graph_sandbox.url
    settings.FACEBOOK_WWW_URL = graph_sandbox.url
    settings.FACEBOOK_APP_ID = graph_sandbox.app_id
    settings.FACEBOOK_APP_SECRET = graph_sandbox.app_secret
    call_command("seed_demo")
    call_command("connect_demo_pages", base_url=live_server.url, wait=0)

    tenant = Tenant.objects.get(name=DEMO_WORKSPACE)
    assert ConnectedPage.objects.for_tenant(tenant).count() == 2
    assert AdsConnection.objects.for_tenant(tenant).get().status == "active"
    account = FollowedAdAccount.objects.for_tenant(tenant).get()
    assert (account.account_id, account.followed) == ("act_400000000000001", True)
