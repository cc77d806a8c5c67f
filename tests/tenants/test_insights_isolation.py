"""Every page of the marketer's overview and the ad accounts screen (/t/<slug>/..., insights.views)
keeps other workspaces out: a 404, never a 403, and nothing of theirs in the answer. The pages
are found by walking the URL resolver, so a page added later is covered without editing this."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver

from tenants.models import Tenant
from tenants.permissions import Role
from tests.insights.factories import ads_seed
from tests.tenants.factories import TenantFactory, member
from tests.tenants.routes import _walk

pytestmark = pytest.mark.django_db


# --- Every new page keeps other workspaces out -----------------------------------------------


def insights_pages() -> list[str]:
    return sorted(
        pattern
        for pattern, entry in _walk(get_resolver().url_patterns)
        if pattern.startswith("t/<slug:slug>/") and entry.callback.__module__ == "insights.views"
    )


def test_the_walk_finds_the_insights_pages() -> None:
    assert {"t/<slug:slug>/", "t/<slug:slug>/ads/", "t/<slug:slug>/overview/leads.csv"} <= set(
        insights_pages()
    )


@pytest.mark.parametrize("pattern", insights_pages())
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_workspace_gets_404(pattern: str, method: str, tenant: Tenant) -> None:
    victim = TenantFactory.create(name="Victim Corp", slug="victim-corp")
    account = ads_seed(victim)
    client = Client()
    client.force_login(member(tenant, Role.OWNER).user)
    url = "/" + pattern.replace("<slug:slug>", victim.slug).replace(
        "<int:account_pk>", str(account.pk)
    )
    response = getattr(client, method)(url)
    assert response.status_code == 404
    assert b"Victim Corp" not in response.content
    # And the victim's ad account through the intruder's own workspace is a 404 too.
    if "<int:account_pk>" in pattern:
        own = "/" + pattern.replace("<slug:slug>", tenant.slug).replace(
            "<int:account_pk>", str(account.pk)
        )
        assert client.post(own).status_code == 404
