"""The delivery log pages: the table and its filters, the counts fragment, an event's attempts,
replay (admins, CSRF, how many), the overview, and never a secret in the HTML."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import DjangoAssertNumQueries

from events.models import AttemptOutcome, EventSource, EventStatus, LoggedEvent
from tenants.models import ConnectedPage, Tenant, Transport
from tenants.permissions import Role
from tests.events.factories import DeliveryAttemptFactory, LoggedEventFactory
from tests.tenants.factories import ConnectedPageFactory, TenantFactory, member

if TYPE_CHECKING:
    from tests.client_types import TestResponse

pytestmark = pytest.mark.django_db

TOKEN = "EAA" + "FakePageTokenOfTheTests" * 2  # built: no real-looking token is committed
PROOF = "3f1c5e0d9a7b2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"


@pytest.fixture
def shop(tenant: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(
        tenant=tenant, name="Acme Shop", transport=Transport.CONVERSIONS_API
    )


@pytest.fixture
def outlet(tenant: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(
        tenant=tenant, name="Acme Outlet", transport=Transport.PAGE_ACTIVITIES
    )


def _client(tenant: Tenant, role: str = Role.VIEWER, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(member(tenant, role).user)
    return client


def _url(tenant: Tenant, suffix: str = "") -> str:
    return f"/t/{tenant.slug}/events/{suffix}"


def _row_ids(response: TestResponse) -> list[int]:
    return [row.event.pk for row in response.context["rows"]]


# --- the log ---------------------------------------------------------------------------------


def test_the_log_lists_the_workspaces_events_newest_first(
    tenant: Tenant, shop: ConnectedPage
) -> None:
    older = LoggedEventFactory.create(page=shop, event="lead_submitted")
    newer = LoggedEventFactory.create(page=shop, event="table_booked", status=EventStatus.FAILED)
    LoggedEventFactory.create()  # another workspace's

    response = _client(tenant).get(_url(tenant))

    assert response.status_code == 200
    assert _row_ids(response) == [newer.pk, older.pk]
    html = response.content.decode()
    assert f'href="/t/{tenant.slug}/events/{newer.pk}/"' in html
    assert "Lead submitted" in html  # the catalog's label under the key
    assert 'aria-current="page">Delivery log</a>' in html


def test_the_nav_links_to_the_log_from_every_workspace_page(tenant: Tenant) -> None:
    html = _client(tenant).get(f"/t/{tenant.slug}/").content.decode()
    assert f'<a href="/t/{tenant.slug}/events/" >Delivery log</a>' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["lead", "dead", "purchase", "old"]),
        ("status=dead", ["dead"]),
        ("event=Purchase", ["purchase", "old"]),
        ("event=lead_submitted", ["lead"]),
        ("page={outlet}", ["dead"]),
        ("psid=111", ["purchase"]),
        ("test=true", ["test"]),
        ("created_before={day_ago}", ["old"]),
        ("status=&event=&page=&psid=", ["lead", "dead", "purchase", "old"]),  # an empty form
    ],
)
def test_filters(
    tenant: Tenant, shop: ConnectedPage, outlet: ConnectedPage, query: str, expected: list[Any]
) -> None:
    now = timezone.now()
    events = {
        "old": LoggedEventFactory.create(page=shop, created_at=now - timedelta(days=2)),
        "purchase": LoggedEventFactory.create(page=shop, psid="111"),
        "dead": LoggedEventFactory.create(
            page=outlet, status=EventStatus.DEAD, event="table_booked"
        ),
        "lead": LoggedEventFactory.create(
            page=shop, event="lead_submitted", source=EventSource.FLOW
        ),
        "test": LoggedEventFactory.create(page=shop, test=True, source=EventSource.TEST_CHAT),
    }
    day_ago = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = _client(tenant).get(
        _url(tenant) + "?" + query.format(outlet=outlet.pk, day_ago=day_ago)
    )
    assert response.status_code == 200
    assert _row_ids(response) == [events[name].pk for name in expected]


def test_test_events_are_shown_only_under_their_filter(tenant: Tenant, shop: ConnectedPage) -> None:
    test = LoggedEventFactory.create(page=shop, test=True)
    client = _client(tenant)
    assert _row_ids(client.get(_url(tenant))) == []
    response = client.get(_url(tenant) + "?test=true")
    assert _row_ids(response) == [test.pk]
    assert "Showing test events only" in response.content.decode()


def test_a_bad_filter_says_so_and_lists_nothing(tenant: Tenant, shop: ConnectedPage) -> None:
    LoggedEventFactory.create(page=shop)
    response = _client(tenant).get(_url(tenant) + "?status=lost")
    assert response.status_code == 400
    assert response.context["rows"] == []
    assert "status: Select a valid choice. lost is not one of the available choices." in (
        response.content.decode()
    )


def test_the_log_pages_back_by_id(
    tenant: Tenant, shop: ConnectedPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("events.views.PAGE_SIZE", 2)
    ids = [LoggedEventFactory.create(page=shop, status=EventStatus.DEAD).pk for _ in range(5)]
    client = _client(tenant)

    first = client.get(_url(tenant) + "?status=dead")
    assert _row_ids(first) == ids[:-3:-1]
    assert first.context["older_query"] == f"status=dead&before={ids[3]}"
    second = client.get(_url(tenant) + "?" + first.context["older_query"])
    assert _row_ids(second) == [ids[2], ids[1]]
    third = client.get(_url(tenant) + "?" + second.context["older_query"])
    assert _row_ids(third) == [ids[0]]
    assert third.context["older_query"] == ""
    assert '<a href="?status=dead">← Newest</a>' in third.content.decode()


def test_the_log_costs_the_same_queries_for_many_events(
    tenant: Tenant,
    shop: ConnectedPage,
    outlet: ConnectedPage,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    client = _client(tenant, Role.ADMIN)
    LoggedEventFactory.create(page=shop)
    client.get(_url(tenant))  # warm the session
    with django_assert_num_queries(14) as few:
        client.get(_url(tenant))
    for page in (shop, outlet) * 15:
        LoggedEventFactory.create(page=page, status=EventStatus.FAILED)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(_url(tenant))
    assert len(response.context["rows"]) == 31


def test_counts_by_status_ignore_the_status_filter_and_keep_the_others(
    tenant: Tenant, shop: ConnectedPage, outlet: ConnectedPage
) -> None:
    for status, page in [
        ("delivered", shop),
        ("delivered", shop),
        ("failed", shop),
        ("dead", outlet),
    ]:
        LoggedEventFactory.create(page=page, status=status)
    LoggedEventFactory.create(page=shop, status=EventStatus.FAILED, test=True)
    client = _client(tenant)

    response = client.get(_url(tenant, "counts/") + f"?status=failed&page={shop.pk}")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    counts = {tab["status"]: tab["count"] for tab in response.context["tabs"]}
    assert counts == {
        "delivered": 2,
        "pending": 0,
        "sending": 0,
        "retrying": 0,
        "blocked": 0,
        "failed": 1,
        "dead": 0,
        "not_sent": 0,
        "kept": 0,
    }
    html = response.content.decode()
    assert re.search(r'class="tab st-failed active"', html)
    assert f'href="?page={shop.pk}&amp;status=dead"' in html
    assert f'href="?page={shop.pk}" class="tab"' in html  # "All" keeps the Page


def test_the_log_page_refreshes_its_counts_from_the_fragment(tenant: Tenant) -> None:
    html = _client(tenant).get(_url(tenant) + "?status=dead").content.decode()
    assert f'data-refresh-url="/t/{tenant.slug}/events/counts/?status=dead"' in html
    assert 'data-refresh-seconds="5"' in html
    assert '<script src="/static/js/delivery-log.js" defer></script>' in html


@pytest.mark.parametrize("suffix", ["", "counts/", "overview/", "{event}/"])
def test_another_workspace_sees_a_404(tenant: Tenant, shop: ConnectedPage, suffix: str) -> None:
    event = LoggedEventFactory.create(page=shop)
    intruder = _client(TenantFactory.create(slug="globex"), Role.OWNER)
    response = intruder.get(_url(tenant, suffix.format(event=event.pk)))
    assert response.status_code == 404


def test_another_workspaces_event_is_a_404_in_your_own(tenant: Tenant, shop: ConnectedPage) -> None:
    foreign = LoggedEventFactory.create()
    response = _client(tenant, Role.OWNER).get(_url(tenant, f"{foreign.pk}/"))
    assert response.status_code == 404


def test_signed_out_people_are_sent_to_sign_in(tenant: Tenant) -> None:
    response = Client().get(_url(tenant))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- an event --------------------------------------------------------------------------------


def test_an_event_shows_every_attempt_without_a_secret(tenant: Tenant, shop: ConnectedPage) -> None:
    event = LoggedEventFactory.create(
        page=shop,
        status=EventStatus.FAILED,
        attempts=2,
        params={"fb_content_id": "bike-42"},
        last_error=f"Invalid parameter: access_token={TOKEN} for this Page",
    )
    now = timezone.now()
    DeliveryAttemptFactory.create(
        page=event.page,
        events=[event],
        outcome=AttemptOutcome.TRANSIENT,
        http_status=503,
        graph_code=2,
        fbtrace_id="A7xQ2mVbR9c",
        request={
            "path": f"v25.0/1/events?access_token={TOKEN}&appsecret_proof={PROOF}",
            "body": {"access_token": TOKEN, "appsecret_proof": PROOF},
        },
        response={"error": {"message": f"Malformed access token {TOKEN}", "code": 2}},
        error_message=f"Temporarily unavailable for {TOKEN}",
        created_at=now - timedelta(minutes=2),
    )
    DeliveryAttemptFactory.create(
        page=event.page,
        events=[event],
        outcome=AttemptOutcome.INVALID,
        http_status=400,
        graph_code=100,
        graph_subcode=2804019,
        fbtrace_id="BqL5t0pWz3e",
        error_class="GraphInvalidError",
        error_message="(#100) Invalid parameter",
    )

    response = _client(tenant).get(_url(tenant, f"{event.pk}/"))

    assert response.status_code == 200
    html = response.content.decode()
    assert TOKEN not in html
    assert PROOF not in html
    assert [a.attempt.fbtrace_id for a in response.context["attempts"]] == [
        "A7xQ2mVbR9c",
        "BqL5t0pWz3e",
    ]
    for text in [
        "HTTP <strong>503</strong>",
        "code <strong>100</strong> / subcode <strong>2804019</strong>",
        "fbtrace_id <code>BqL5t0pWz3e</code>",
        "<code>GraphInvalidError</code>: (#100) Invalid parameter",
        "Invalid parameter: access_token=[redacted] for this Page",
        "Temporarily unavailable for [redacted]",
        "&quot;appsecret_proof&quot;: &quot;[redacted]&quot;",
        "&quot;message&quot;: &quot;Malformed access token [redacted]&quot;",
        "&quot;fb_content_id&quot;: &quot;bike-42&quot;",
    ]:
        assert text in html, text
    assert "Replay this event" not in html  # a viewer


def test_an_event_not_tried_yet_says_so(tenant: Tenant, shop: ConnectedPage) -> None:
    event = LoggedEventFactory.create(page=shop)
    html = _client(tenant).get(_url(tenant, f"{event.pk}/")).content.decode()
    assert "Not tried yet: a worker sends it within seconds." in html


# --- replay ----------------------------------------------------------------------------------


def test_an_admin_replays_one_event_and_is_told_how_many(
    tenant: Tenant, shop: ConnectedPage
) -> None:
    failed = LoggedEventFactory.create(page=shop, status=EventStatus.FAILED, attempts=1)
    client = _client(tenant, Role.ADMIN)
    detail = client.get(_url(tenant, f"{failed.pk}/")).content.decode()
    assert "Replay this event" in detail

    response = client.post(
        _url(tenant, "replay/"), {"ids": [failed.pk], "next": _url(tenant, f"{failed.pk}/")}
    )

    assert response.status_code == 302
    assert response["Location"] == _url(tenant, f"{failed.pk}/")
    page = client.get(response["Location"]).content.decode()
    assert "Replayed 1 event: it is pending delivery again." in page
    assert LoggedEvent.objects.get(pk=failed.pk).status == EventStatus.PENDING


def test_replaying_a_selection_sends_only_the_replayable_ones_of_this_workspace(
    tenant: Tenant, shop: ConnectedPage
) -> None:
    dead, blocked, delivered = (
        LoggedEventFactory.create(page=shop, status=status)
        for status in ("dead", "blocked", "delivered")
    )
    foreign = LoggedEventFactory.create(status=EventStatus.DEAD)
    client = _client(tenant, Role.ADMIN)

    response = client.post(
        _url(tenant, "replay/"),
        {"ids": [dead.pk, blocked.pk, delivered.pk, foreign.pk]},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        "Replayed 2 events: they are pending delivery again."
    ]
    assert [
        LoggedEvent.objects.get(pk=e.pk).status for e in (dead, blocked, delivered, foreign)
    ] == [
        "pending",
        "pending",
        "delivered",
        "dead",
    ]
    again = client.post(_url(tenant, "replay/"), {"ids": [dead.pk]}, follow=True)
    assert [str(m) for m in again.context["messages"]] == [
        "Nothing was replayed: only dead, failed, blocked or not-sent events can be, and these "
        "are not (any more)."
    ]


def test_replaying_all_matching_uses_the_filters(
    tenant: Tenant, shop: ConnectedPage, outlet: ConnectedPage
) -> None:
    on_shop = LoggedEventFactory.create(page=shop, status=EventStatus.DEAD)
    on_outlet = LoggedEventFactory.create(page=outlet, status=EventStatus.DEAD)
    client = _client(tenant, Role.ADMIN)
    log = client.get(_url(tenant) + f"?page={shop.pk}").content.decode()
    assert "Replay all 1 dead, failed, blocked or not sent matching" in log
    assert f'<input type="hidden" name="page" value="{shop.pk}">' in log

    client.post(_url(tenant, "replay/"), {"all_matching": "1", "page": str(shop.pk)})

    assert LoggedEvent.objects.get(pk=on_shop.pk).status == EventStatus.PENDING
    assert LoggedEvent.objects.get(pk=on_outlet.pk).status == EventStatus.DEAD


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Tick the events to replay first."),
        ({"ids": ["one"]}, "Tick the events to replay first."),
        (
            {"all_matching": "1", "status": "lost"},
            "The filters are not valid; nothing was replayed.",
        ),
    ],
)
def test_a_replay_without_a_selection_replays_nothing(
    tenant: Tenant, shop: ConnectedPage, data: dict[str, Any], message: str
) -> None:
    dead = LoggedEventFactory.create(page=shop, status=EventStatus.DEAD)
    response = _client(tenant, Role.ADMIN).post(_url(tenant, "replay/"), data, follow=True)
    assert [str(m) for m in response.context["messages"]] == [message]
    assert LoggedEvent.objects.get(pk=dead.pk).status == EventStatus.DEAD


def test_replay_goes_back_only_to_this_site(tenant: Tenant, shop: ConnectedPage) -> None:
    dead = LoggedEventFactory.create(page=shop, status=EventStatus.DEAD)
    response = _client(tenant, Role.ADMIN).post(
        _url(tenant, "replay/"), {"ids": [dead.pk], "next": "https://evil.example/"}
    )
    assert response["Location"] == _url(tenant)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_only_admins_may_replay(tenant: Tenant, shop: ConnectedPage, role: str) -> None:
    dead = LoggedEventFactory.create(page=shop, status=EventStatus.DEAD)
    client = _client(tenant, role)
    assert "Replay selected" not in client.get(_url(tenant)).content.decode()
    response = client.post(_url(tenant, "replay/"), {"ids": [dead.pk]})
    assert response.status_code == 403
    assert LoggedEvent.objects.get(pk=dead.pk).status == EventStatus.DEAD


def test_replay_needs_the_csrf_token(tenant: Tenant, shop: ConnectedPage) -> None:
    dead = LoggedEventFactory.create(page=shop, status=EventStatus.DEAD)
    client = _client(tenant, Role.ADMIN, enforce_csrf_checks=True)
    assert 'name="csrfmiddlewaretoken"' in client.get(_url(tenant)).content.decode()
    response = client.post(_url(tenant, "replay/"), {"ids": [dead.pk]})
    assert response.status_code == 403
    assert LoggedEvent.objects.get(pk=dead.pk).status == EventStatus.DEAD


def test_replay_is_post_only(tenant: Tenant) -> None:
    assert _client(tenant, Role.ADMIN).get(_url(tenant, "replay/")).status_code == 405


# --- the overview ----------------------------------------------------------------------------


def test_the_overview_charts_the_period(tenant: Tenant, shop: ConnectedPage) -> None:
    now = timezone.now()
    LoggedEventFactory.create(page=shop, event="lead_submitted", status=EventStatus.DELIVERED)
    LoggedEventFactory.create(page=shop, event="purchase", status=EventStatus.FAILED)
    LoggedEventFactory.create(page=shop, event="purchase", created_at=now - timedelta(days=10))
    LoggedEventFactory.create(page=shop, event="lead_submitted", test=True)

    response = _client(tenant).get(_url(tenant, "overview/"))

    assert response.status_code == 200
    assert response.context["period"].key == "7d"
    assert response.context["total"] == 2
    assert [(row.event, row.total) for row in response.context["name_rows"]] == [
        ("lead_submitted", 1),
        ("purchase", 1),
    ]
    assert response.context["lead_total"] == 1
    html = response.content.decode()
    assert html.count('<svg class="chart"') == 2
    assert '<rect class="st-failed"' in html
    assert '<rect class="lead"' in html


@pytest.mark.parametrize(("period", "buckets"), [("24h", 24), ("30d", 30), ("nonsense", 7)])
def test_the_overview_has_three_periods(
    tenant: Tenant, shop: ConnectedPage, period: str, buckets: int
) -> None:

    LoggedEventFactory.create(page=shop)
    response = _client(tenant).get(_url(tenant, "overview/") + f"?period={period}")
    assert response.status_code == 200
    assert len(response.context["status_chart"].x_labels) <= 8
    assert response.context["period"].buckets == buckets


def test_an_empty_overview_says_so(tenant: Tenant) -> None:
    html = _client(tenant).get(_url(tenant, "overview/")).content.decode()
    assert "No events in this period." in html
    assert "<svg" not in html


def test_an_events_detail_names_the_ad_its_conversation_came_from(
    tenant: Tenant, shop: ConnectedPage
) -> None:
    from_ad = LoggedEventFactory.create(page=shop, ad_id="6000000000042")
    plain = LoggedEventFactory.create(page=shop)
    client = _client(tenant)

    html = client.get(_url(tenant, f"{from_ad.pk}/")).content.decode()
    assert "From an ad" in html
    assert "<code>6000000000042</code>" in html
    assert "From an ad" not in client.get(_url(tenant, f"{plain.pk}/")).content.decode()
