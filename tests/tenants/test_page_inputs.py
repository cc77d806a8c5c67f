"""The pages under /t/<slug>/ take ids and `next` from the request without a 500 or a way out.

Numbers in query strings and forms go through `tenants.params.id_param` (ASCII digits up to a
bigint), and a form's `next` through `tenants.views.redirect_back` (a page of this workspace).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.urls import get_resolver

from events.models import EventStatus, LoggedEvent
from tenants.models import Tenant
from tenants.params import MAX_ID, id_param
from tenants.permissions import Role
from tests.tenants.factories import TenantFactory, member
from tests.tenants.routes import _walk, world

if TYPE_CHECKING:
    from tests.client_types import TestResponse

HUGE = "99999999999999999999"
HOSTILE = [HUGE, "²", "٣", "-1", "0", "1e3", " 7", str(MAX_ID + 1), "x" * 300]
PARAMS = ["page_id", "before", "page", "ids", "event", "status", "period", "state", "flow"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        ("42", 42),
        (str(MAX_ID), MAX_ID),
        (None, None),
        ("", None),
        *[(value, None) for value in HOSTILE],
    ],
)
def test_id_param_takes_only_ids_a_row_can_have(value: str | None, expected: int | None) -> None:
    assert id_param(value) == expected


def _workspace_pages() -> list[str]:
    """Every GET page under /t/<slug>/ whose only URL argument is the workspace."""
    found = []
    for pattern, _ in _walk(get_resolver().url_patterns):
        if pattern.startswith("t/<slug:slug>/") and pattern.count("<") == 1:
            found.append(pattern)
    return sorted(set(found))


PAGES = _workspace_pages()


def test_the_walk_finds_the_pages_of_the_issue() -> None:
    assert {"t/<slug:slug>/flows/", "t/<slug:slug>/events/"} <= set(PAGES)


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", PAGES, ids=str)
def test_no_query_value_is_a_500(pattern: str, tenant: Tenant) -> None:
    world(tenant)
    client = Client(raise_request_exception=False)
    client.force_login(member(tenant, Role.OWNER).user)
    url = "/" + pattern.replace("<slug:slug>", tenant.slug)

    statuses = {
        value: client.get(url, dict.fromkeys(PARAMS, value)).status_code for value in HOSTILE
    }

    assert {value: status for value, status in statuses.items() if status >= 500} == {}


@pytest.mark.django_db
def test_the_flows_list_with_an_id_too_large_for_the_database(tenant: Tenant) -> None:
    world(tenant)
    client = Client(raise_request_exception=False)
    client.force_login(member(tenant, Role.OWNER).user)

    response = client.get(f"/t/{tenant.slug}/flows/", {"page_id": HUGE})

    assert response.status_code == 200
    assert f"{tenant.name} welcome flow" in response.content.decode()


@pytest.fixture
def dead_event(tenant: Tenant) -> LoggedEvent:
    world(tenant)
    event = LoggedEvent.objects.filter(tenant=tenant).get()
    LoggedEvent.objects.filter(pk=event.pk).update(status=EventStatus.DEAD)
    return event


def _replay(tenant: Tenant, data: dict[str, Any]) -> TestResponse:
    client = Client(raise_request_exception=False)
    client.force_login(member(tenant, Role.ADMIN).user)
    return client.post(f"/t/{tenant.slug}/events/replay/", data)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "next_url",
    [
        "3",
        "events:log",
        "https://evil.example/t/acme-bikes/events/",
        "//evil.example/t/acme-bikes/events/",
        "/\\evil.example/",
        "/t/globex/events/",
        "/admin/",
        "javascript:alert(1)",
        "",
    ],
)
def test_replay_sends_an_outside_next_back_to_the_delivery_log(
    next_url: str, tenant: Tenant, dead_event: LoggedEvent
) -> None:
    TenantFactory.create(slug="globex")

    response = _replay(tenant, {"ids": str(dead_event.pk), "next": next_url})

    assert response.status_code == 302
    assert response["Location"] == f"/t/{tenant.slug}/events/"
    dead_event.refresh_from_db()
    assert dead_event.status == EventStatus.PENDING


@pytest.mark.django_db
def test_replay_goes_back_to_the_workspace_page_it_came_from(
    tenant: Tenant, dead_event: LoggedEvent
) -> None:
    back = f"/t/{tenant.slug}/events/{dead_event.pk}/?from=log"

    response = _replay(tenant, {"ids": str(dead_event.pk), "next": back})

    assert response.status_code == 302
    assert response["Location"] == back


@pytest.mark.django_db
@pytest.mark.parametrize("ids", ["²", HUGE, "-1"])
def test_replay_refuses_ids_that_name_no_event(
    ids: str, tenant: Tenant, dead_event: LoggedEvent
) -> None:
    response = _replay(tenant, {"ids": ids})

    assert response.status_code == 302
    dead_event.refresh_from_db()
    assert dead_event.status == EventStatus.DEAD
