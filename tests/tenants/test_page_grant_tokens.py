"""Page tokens a login found are kept for connecting only for PAGE_GRANT_TOKEN_MINUTES and
never past sign-out (issue #12, access 4; ADR 0010). The login end to end through the sandbox
is in test_facebook_login.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from graph_api.types import PageAccount, TokenInfo
from tenants import services
from tenants.exceptions import DomainError
from tenants.models import ConnectedPage, PageGrant, Tenant
from tenants.permissions import Role
from tenants.tasks import forget_page_grant_tokens
from tests.tenants.factories import ConnectedPageFactory, member

pytestmark = pytest.mark.django_db

SCOPES = ("page_events", "pages_show_list", "pages_messaging", "pages_manage_metadata")
TASKS = ("ANALYZE", "MODERATE", "MANAGE", "MESSAGING", "CREATE_CONTENT", "ADVERTISE")


def login_found(user: User, *page_ids: str) -> None:
    services.page_grants_replace(
        user=user,
        accounts=[
            PageAccount(id=p, name=f"Page {p}", access_token=f"test-page-token-{p}", tasks=TASKS)
            for p in page_ids
        ],
        token_info=TokenInfo(is_valid=True, scopes=SCOPES),
    )


def age(minutes: float) -> None:
    PageGrant.objects.update(found_at=timezone.now() - timedelta(minutes=minutes))


def stored_grant_tokens() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_encrypted FROM tenants_pagegrant ORDER BY page_id")
        return [row[0] for row in cursor.fetchall()]


def test_a_grant_older_than_the_limit_cannot_connect_and_the_picker_says_why(
    tenant: Tenant, admin: User, settings: Settings
) -> None:
    assert settings.PAGE_GRANT_TOKEN_MINUTES == 60
    login_found(admin, "111")
    age(61)
    [candidate] = services.page_candidates(tenant=tenant, user=admin)
    assert candidate.connectable is False
    assert candidate.reason == (
        "Pagepulse keeps the access a Facebook Login gives it to your Pages only for 60 "
        "minutes after that login, and not past sign-out. Continue with Facebook again, then "
        "connect this Page."
    )
    with responses.RequestsMock() as graph:  # no call may be made
        with pytest.raises(DomainError) as refused:
            services.page_connect(tenant=tenant, actor=services.Actor(user=admin), page_id="111")
        assert len(graph.calls) == 0
    assert refused.value.message == candidate.reason
    assert not ConnectedPage.objects.exists()


def test_a_fresh_grant_connects(tenant: Tenant, admin: User) -> None:
    login_found(admin, "111")
    age(59)
    [candidate] = services.page_candidates(tenant=tenant, user=admin)
    assert (candidate.connectable, candidate.reason) == (True, "")


def test_the_periodic_task_forgets_old_tokens_and_keeps_fresh_and_connected_ones(
    tenant: Tenant, admin: User
) -> None:
    other = member(tenant, Role.ADMIN).user
    login_found(admin, "111", "222")
    age(61)
    login_found(other, "333")  # a fresh login
    connected = ConnectedPageFactory.create(tenant=tenant, page_id="111")
    token_before = connected.token_encrypted

    assert forget_page_grant_tokens() == 2

    assert stored_grant_tokens()[:2] == ["", ""]
    assert stored_grant_tokens()[2] != ""
    assert PageGrant.objects.count() == 3  # the Pages are still listed, without secrets
    connected.refresh_from_db()
    assert connected.token_encrypted == token_before


def test_beat_runs_the_forgetting_every_ten_minutes(settings: Settings) -> None:
    assert settings.CELERY_BEAT_SCHEDULE["forget-page-grant-tokens"] == {
        "task": "tenants.tasks.forget_page_grant_tokens",
        "schedule": 600,
    }


def test_signing_out_forgets_the_persons_page_tokens(tenant: Tenant, admin: User) -> None:
    other = member(tenant, Role.ADMIN).user
    login_found(admin, "111")
    login_found(other, "222")
    browser = Client()
    browser.force_login(admin)
    assert browser.post("/accounts/logout/").status_code == 302
    tokens = dict(PageGrant.objects.values_list("page_id", "token_encrypted"))
    assert tokens["111"] == ""
    assert tokens["222"] != ""
