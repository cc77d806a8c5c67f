"""The Pages screen for a person with many Pages (issue #16, item 3): natural order, search by
name or id, filters with counts and reasons, screens of 20, bulk connect that names every Page
it could not connect, and headings that say what each list is. Graph is stubbed by `responses`;
the same screen with the sandbox's 60 Pages in Chromium is tests/browser/test_pages_many.py."""

from __future__ import annotations

import re

import pytest
import responses
from django.contrib.auth.models import User
from django.test import Client

from graph_api.types import PageAccount, TokenInfo
from tenants import services
from tenants.models import ConnectedPage, PageStatus, Tenant, Transport
from tenants.permissions import Role
from tenants.views import natural_key
from tests.tenants.factories import ConnectedPageFactory, TenantFactory, member

pytestmark = pytest.mark.django_db

GRAPH = "http://127.0.0.1:9/v25.0"
TASKS = ("ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE")
SCOPES = ("page_events", "pages_show_list", "pages_messaging", "pages_manage_metadata")
URL = "/t/acme-bikes/pages/"


def page_id(n: int) -> str:
    return f"3010000000000{n:02d}"


@pytest.fixture
def admin_with_pages(admin: User) -> User:
    """The admin, whose last login found "Shop #1" … "Shop #25" (in Facebook's order, shuffled)
    and "Blocked Page", on which they lack the ANALYZE task."""
    user = admin
    numbers = [7, 25, 1, 10, 2, 19, 3, 11, 4, 12, 5, 13, 6, 14, 8, 15, 9, 16, 17, 18, 20]
    numbers += [21, 22, 23, 24]
    accounts = [
        PageAccount(id=page_id(n), name=f"Shop #{n}", access_token=f"test-token-{n}", tasks=TASKS)
        for n in numbers
    ]
    accounts.append(
        PageAccount(id="399", name="Blocked Page", access_token="t", tasks=("MESSAGING",))
    )
    services.page_grants_replace(
        user=user, accounts=accounts, token_info=TokenInfo(is_valid=True, scopes=SCOPES)
    )
    return user


@pytest.fixture
def visitor(admin_with_pages: User) -> Client:
    client = Client()
    client.force_login(admin_with_pages)
    return client


def rows(html: str) -> list[str]:
    """The Page names in the login's table, in the order shown."""
    table = html.split('<table class="candidates">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<td><strong>([^<]+)</strong>", table)


def test_natural_key_orders_numbers_as_numbers_and_ignores_case() -> None:
    names = ["Shop #10", "shop #2", "Shop #1", "Bakery", "Shop #1b", "Shop"]
    assert sorted(names, key=natural_key) == [
        "Bakery",
        "Shop",
        "Shop #1",
        "Shop #1b",
        "shop #2",
        "Shop #10",
    ]


def test_the_login_list_is_in_natural_order_twenty_at_a_time(visitor: Client) -> None:
    first = visitor.get(URL).content.decode()
    assert rows(first) == ["Blocked Page"] + [f"Shop #{n}" for n in range(1, 20)]
    assert "Showing 1\N{EN DASH}20 of 26" in first
    second = visitor.get(URL + "?show=all&page=2").content.decode()
    assert rows(second) == [f"Shop #{n}" for n in range(20, 26)]
    assert "Showing 21\N{EN DASH}26 of 26" in second


@pytest.mark.parametrize("page", ["0", "x", "²", "99999999999999999999999", ""])
def test_a_page_number_that_names_no_screen_shows_one_never_a_500(
    visitor: Client, page: str
) -> None:
    response = visitor.get(URL + f"?page={page}")
    assert response.status_code == 200
    # Django's get_page: not a number is the first screen, out of range the last.
    assert rows(response.content.decode()) in (
        ["Blocked Page"] + [f"Shop #{n}" for n in range(1, 20)],
        [f"Shop #{n}" for n in range(20, 26)],
    )


def test_search_finds_pages_by_part_of_the_name_or_the_id(visitor: Client) -> None:
    by_name = visitor.get(URL, {"q": "shop #1"}).content.decode()
    assert rows(by_name) == ["Shop #1"] + [f"Shop #{n}" for n in range(10, 20)]
    by_id = visitor.get(URL, {"q": page_id(23)}).content.decode()
    assert rows(by_id) == ["Shop #23"]
    nothing = visitor.get(URL, {"q": "Bakery"}).content.decode()
    assert "No Page from your last login matches “Bakery”" in nothing


def test_filters_count_what_they_show_and_say_why_a_page_cannot_be_connected(
    visitor: Client,
) -> None:
    html = visitor.get(URL).content.decode()
    assert re.search(r"All <span class=\"count\">26</span>", html)
    assert re.search(r"Can connect <span class=\"count\">25</span>", html)
    assert re.search(r"Can&#x27;t connect <span class=\"count\">1</span>", html)
    blocked = visitor.get(URL, {"show": "blocked"}).content.decode()
    assert rows(blocked) == ["Blocked Page"]
    assert "lacks the ANALYZE task" in blocked
    searched = visitor.get(URL, {"show": "connectable", "q": "#2"}).content.decode()
    assert rows(searched) == ["Shop #2"] + [f"Shop #{n}" for n in range(20, 26)]
    assert visitor.get(URL, {"show": "nonsense"}).status_code == 200


def test_only_pages_that_can_be_connected_here_have_a_box_to_tick(visitor: Client) -> None:
    html = visitor.get(URL).content.decode()
    ticked = re.findall(r'name="page_id" value="(\d+)" form="connect-selected"', html)
    assert page_id(1) in ticked
    assert "399" not in ticked
    assert len(ticked) == 19


@responses.activate
def test_bulk_connect_connects_each_page_and_names_the_ones_facebook_refused(
    visitor: Client, admin_with_pages: User
) -> None:
    for n in (1, 2):
        responses.post(f"{GRAPH}/{page_id(n)}/subscribed_apps", json={"success": True})
        responses.post(f"{GRAPH}/{page_id(n)}/dataset", json={"id": f"55{n}"})
    responses.post(
        f"{GRAPH}/{page_id(3)}/subscribed_apps",
        status=400,
        json={
            "error": {"message": "(#200) Permissions error", "type": "OAuthException", "code": 200}
        },
    )
    response = visitor.post(
        URL + "connect-selected/",
        {
            "page_id": [page_id(1), page_id(2), page_id(3), "399", page_id(1)],
            "transport": Transport.CONVERSIONS_API,
            "next": URL + "?q=shop",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == URL + "?q=shop"
    assert sorted(ConnectedPage.objects.values_list("name", flat=True)) == ["Shop #1", "Shop #2"]
    assert set(ConnectedPage.objects.values_list("transport", flat=True)) == {
        Transport.CONVERSIONS_API
    }
    said = [str(m) for m in response.context["messages"]]
    assert said[0].startswith("2 Pages are connected: “Shop #1”, “Shop #2”.")
    assert any(m.startswith("Not connected “Shop #3”:") for m in said)
    assert any(m.startswith("Not connected “Blocked Page”:") and "ANALYZE" in m for m in said)
    assert len(said) == 3
    assert all("test-token" not in m for m in said)
    # Pages now connected leave the login's list and appear under Connected.
    html = response.content.decode()
    assert "Shop #1" not in rows(html)


def test_bulk_connect_with_nothing_ticked_or_too_much_says_what_to_do(visitor: Client) -> None:
    nothing = visitor.post(URL + "connect-selected/", {}, follow=True)
    assert "Tick the Pages to connect first" in nothing.content.decode()
    many = visitor.post(
        URL + "connect-selected/", {"page_id": [str(n) for n in range(1, 102)]}, follow=True
    )
    assert "101 Pages are ticked; connect at most 100 at a time." in many.content.decode()
    assert not ConnectedPage.objects.exists()


def test_bulk_connect_refuses_a_page_connected_elsewhere_instead_of_transferring_it(
    visitor: Client, admin_with_pages: User
) -> None:
    ConnectedPageFactory.create(
        tenant=TenantFactory.create(slug="globex"), page_id=page_id(5), name="Shop #5"
    )
    response = visitor.post(URL + "connect-selected/", {"page_id": [page_id(5)]}, follow=True)
    assert "Not connected “Shop #5”: “Shop #5” is connected in another" in (
        response.content.decode().replace("&#x27;", "'")
    )
    assert not ConnectedPage.objects.filter(tenant__slug="acme-bikes").exists()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_only_page_managers_bulk_connect(tenant: Tenant, role: Role) -> None:
    client = Client()
    client.force_login(member(tenant, role).user)
    response = client.post(URL + "connect-selected/", {"page_id": [page_id(1)]})
    assert response.status_code == 403
    assert not ConnectedPage.objects.exists()


def test_disconnected_pages_are_listed_under_their_own_heading(
    visitor: Client, tenant: Tenant
) -> None:
    ConnectedPageFactory.create(tenant=tenant, page_id="501", name="Still On")
    ConnectedPageFactory.create(
        tenant=tenant, page_id="502", name="Switched Off", status=PageStatus.DISCONNECTED
    )
    html = visitor.get(URL).content.decode()
    connected = html.split(">Connected</h2>", 1)[1].split("</section>", 1)[0]
    disconnected = html.split(">Disconnected</h2>", 1)[1].split("</section>", 1)[0]
    assert "Still On" in connected
    assert "Switched Off" not in connected
    assert "Switched Off" in disconnected


def test_right_after_a_login_the_empty_state_points_at_the_list_not_at_facebook(
    visitor: Client,
) -> None:
    html = visitor.get(URL).content.decode()
    assert "No Pages connected yet. Choose them below" in html
    assert "Continue with Facebook to choose" not in html
