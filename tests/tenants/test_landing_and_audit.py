"""Signing in lands in the workspace used last; the audit log filters by who, what and when,
records flow creation, and names the key and its owner for what an API key did."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import ApiKey, AuditAction, AuditEvent, Membership, Tenant
from tenants.permissions import Role
from tests.flows.factories import simple_document
from tests.tenants.factories import ConnectedPageFactory, api_key, member

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def workspace(slug: str) -> Tenant:
    return Tenant.objects.create(name=slug.title(), slug=slug, country="US")


def sign_in(user: User) -> Client:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    return client


def landing(client: Client) -> str:
    return client.get("/", follow=True).redirect_chain[-1][0]


@pytest.fixture
def person(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user(
        username="dana", email="dana@example.com", password=PASSWORD
    )


def test_sign_in_lands_in_the_workspace_used_last(person: User) -> None:
    first = workspace("alpha")
    second = workspace("beta")
    for tenant in (first, second):
        Membership.objects.create(tenant=tenant, user=person, role=Role.EDITOR)

    laptop = sign_in(person)
    assert landing(laptop) == "/t/"  # two workspaces, none opened yet: the list
    laptop.get("/t/beta/members/")
    laptop.post("/accounts/logout/")

    # A new session (another device, or after signing out) lands where they were.
    response = Client().post(
        "/accounts/login/", {"username": "dana", "password": PASSWORD}, follow=True
    )
    assert [url for url, _ in response.redirect_chain] == ["/", "/t/beta/"]

    sign_in(person).get("/t/alpha/")
    assert landing(sign_in(person)) == "/t/alpha/"


def test_sign_in_with_one_workspace_lands_in_it(person: User) -> None:
    Membership.objects.create(tenant=workspace("solo"), user=person, role=Role.VIEWER)
    assert landing(sign_in(person)) == "/t/solo/"


def test_a_workspace_left_since_is_not_where_sign_in_lands(person: User) -> None:
    kept = workspace("kept")
    left = workspace("left")
    Membership.objects.create(tenant=kept, user=person, role=Role.VIEWER)
    gone = Membership.objects.create(tenant=left, user=person, role=Role.VIEWER)
    sign_in(person).get("/t/left/")
    gone.delete()
    assert landing(sign_in(person)) == "/t/kept/"


# --- The audit log's filters ---------------------------------------------------------------


def record(tenant: Tenant, who: str, action: str, when: datetime, target: str) -> None:
    event = AuditEvent.objects.create(tenant=tenant, actor_label=who, action=action, target=target)
    AuditEvent.objects.filter(pk=event.pk).update(created_at=when)


@pytest.fixture
def audit_client(tenant: Tenant) -> Client:
    client = Client()
    client.force_login(member(tenant, Role.ADMIN, email="admin@example.com").user)
    now = timezone.now()
    record(tenant, "kim@example.com", AuditAction.PAGE_CONNECTED, now, "Kim's page")
    record(tenant, "kim@example.com", AuditAction.FLOW_PUBLISHED, now - timedelta(days=3), "Old")
    record(tenant, "lee@example.com", AuditAction.PAGE_CONNECTED, now - timedelta(days=10), "Lee")
    return client


def targets(client: Client, tenant: Tenant, **query: str) -> list[str]:
    response = client.get(f"/t/{tenant.slug}/audit/", query)
    assert response.status_code == 200, response.content
    return [event.target for event in response.context["page"]]


def test_audit_log_filters_by_actor_action_and_days(audit_client: Client, tenant: Tenant) -> None:
    client = audit_client
    assert targets(client, tenant) == ["Kim's page", "Old", "Lee"]
    assert targets(client, tenant, actor="kim@example.com") == ["Kim's page", "Old"]
    assert targets(client, tenant, action="page.connected") == ["Kim's page", "Lee"]
    today = timezone.localdate()
    week_ago = (today - timedelta(days=7)).isoformat()
    assert targets(client, tenant, since=week_ago) == ["Kim's page", "Old"]
    four_days_ago = (today - timedelta(days=4)).isoformat()
    two_days_ago = (today - timedelta(days=2)).isoformat()
    assert targets(client, tenant, since=four_days_ago, until=two_days_ago) == ["Old"]
    assert targets(client, tenant, actor="lee@example.com", action="flow.published") == []
    html = client.get(f"/t/{tenant.slug}/audit/", {"actor": "lee@example.com"}).content.decode()
    assert '<option value="lee@example.com" selected>lee@example.com</option>' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "yesterday"}, "Enter a valid date."),
        ({"action": "flow.exploded"}, "Select a valid choice."),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "is after “To” (1 Mar 2026): swap them."),
    ],
)
def test_a_bad_filter_is_a_400_saying_what_to_fix(
    audit_client: Client, tenant: Tenant, query: dict[str, str], message: str
) -> None:
    response = audit_client.get(f"/t/{tenant.slug}/audit/", query)
    assert response.status_code == 400
    assert message in response.content.decode()


# --- What is recorded, and who is named ----------------------------------------------------


def test_creating_a_flow_with_an_api_key_is_recorded_naming_the_key_and_its_owner(
    tenant: Tenant,
) -> None:
    member(tenant, Role.OWNER, email="owner@example.com")
    secret = api_key(tenant, name="Zapier sync")
    page = ConnectedPageFactory.create(tenant=tenant, name="Acme Bikes Page")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.post(
        f"/api/v1/tenants/{tenant.slug}/flows/",
        {"name": "Welcome", "page": page.pk, "document": simple_document()},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = AuditEvent.objects.get(action=AuditAction.FLOW_CREATED)
    assert created.target == "Welcome"
    assert created.details == {
        "flow_id": response.json()["id"],
        "page": "Acme Bikes Page",
        "template": "",
    }
    key = ApiKey.objects.get()
    assert created.actor_label == f"API key “Zapier sync” ({key.display}) of owner@example.com"
    assert secret not in created.actor_label


def test_a_version_published_with_an_api_key_names_the_key_and_its_owner(tenant: Tenant) -> None:
    owner = member(tenant, Role.OWNER, email="owner@example.com").user
    secret = api_key(tenant, name="Zapier sync")
    page = ConnectedPageFactory.create(tenant=tenant)
    flows = f"/api/v1/tenants/{tenant.slug}/flows/"
    by_key = APIClient()
    by_key.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    flow_id = by_key.post(
        flows, {"name": "Welcome", "page": page.pk, "document": simple_document()}, format="json"
    ).json()["id"]
    published = by_key.post(f"{flows}{flow_id}/publish/", {}, format="json")
    assert published.status_code == 201, published.content

    by_person = APIClient()
    by_person.force_login(owner)
    assert by_person.post(f"{flows}{flow_id}/publish/", {}, format="json").status_code == 201
    versions = by_person.get(f"{flows}{flow_id}/versions/").json()["results"]
    assert [(v["number"], v["published_by"], v["published_by_label"]) for v in versions] == [
        (2, "owner@example.com", "owner@example.com"),
        (1, None, "the API key Zapier sync of owner@example.com"),
    ]
    publish_event = AuditEvent.objects.filter(action=AuditAction.FLOW_PUBLISHED).earliest("pk")
    assert publish_event.actor_label.startswith("API key “Zapier sync” (")
