from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_django.fixtures import DjangoAssertNumQueries
from rest_framework.test import APIClient

from tenants.models import AuditEvent, Membership, Tenant
from tenants.permissions import Role
from tests.tenants.factories import UserFactory, member

pytestmark = pytest.mark.django_db


def _url(tenant: Tenant, membership: Membership | None = None) -> str:
    base = f"/api/v1/tenants/{tenant.slug}/members/"
    return f"{base}{membership.pk}/" if membership else base


def test_an_admin_adds_an_existing_user_by_email(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    UserFactory.create(username="sam", email="Sam@Example.com")
    admin = client_for(tenant, Role.ADMIN)
    response = admin.post(
        _url(tenant),
        {"email": "sam@example.com", "role": "editor"},
        format="json",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 201
    assert response.json()["user"]["email"] == "Sam@Example.com"
    assert response.json()["role"] == "editor"
    event = AuditEvent.objects.get(action="member.added")
    assert event.target == "Sam@Example.com"
    assert event.details == {"role": "editor"}
    assert event.ip_address == "203.0.113.9"


def test_adding_an_unknown_email_says_how_to_fix_it(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    response = client_for(tenant, Role.ADMIN).post(
        _url(tenant), {"email": "nobody@example.com", "role": "editor"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "No Pagepulse user has the email nobody@example.com" in error["message"]
    assert error["details"] == {"email": ["No user with this email."]}


def test_adding_a_member_twice_is_a_conflict(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    existing = member(tenant, Role.VIEWER)
    response = client_for(tenant, Role.ADMIN).post(
        _url(tenant), {"email": existing.user.email, "role": "editor"}, format="json"
    )
    assert response.status_code == 409
    assert "already a member" in response.json()["error"]["message"]
    assert Membership.objects.get(pk=existing.pk).role == Role.VIEWER


def test_the_last_owner_can_be_neither_demoted_nor_removed(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    owner = member(tenant, Role.OWNER)
    client = client_for()
    client.force_login(owner.user)

    demoted = client.patch(_url(tenant, owner), {"role": "admin"}, format="json")
    assert demoted.status_code == 409
    assert demoted.json()["error"]["code"] == "last_owner"
    removed = client.delete(_url(tenant, owner))
    assert removed.status_code == 409
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER
    assert not AuditEvent.objects.filter(action__startswith="member.").exists()


def test_with_a_second_owner_an_owner_may_step_down(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    first = member(tenant, Role.OWNER)
    member(tenant, Role.OWNER)
    client = client_for()
    client.force_login(first.user)
    response = client.patch(_url(tenant, first), {"role": "editor"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "editor"
    event = AuditEvent.objects.get(action="member.role_changed")
    assert event.details == {"role": ["owner", "editor"]}


def test_an_admin_cannot_make_or_unmake_owners(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    owner = member(tenant, Role.OWNER)
    member(tenant, Role.OWNER)
    editor = member(tenant, Role.EDITOR)
    admin = client_for(tenant, Role.ADMIN)
    promote = admin.patch(_url(tenant, editor), {"role": "owner"}, format="json")
    demote = admin.patch(_url(tenant, owner), {"role": "viewer"}, format="json")
    remove = admin.delete(_url(tenant, owner))
    for response in (promote, demote, remove):
        assert response.status_code == 403
        assert response.json()["error"]["message"] == (
            "Only an owner can grant, change or remove the owner role."
        )
    assert Membership.objects.get(pk=editor.pk).role == Role.EDITOR
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER


def test_an_admin_changes_roles_and_removes_members(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    viewer = member(tenant, Role.VIEWER)
    admin = client_for(tenant, Role.ADMIN)
    assert (
        admin.patch(_url(tenant, viewer), {"role": "editor"}, format="json").json()["role"]
        == "editor"
    )
    assert admin.delete(_url(tenant, viewer)).status_code == 204
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    assert [e.action for e in AuditEvent.objects.order_by("id")] == [
        "member.role_changed",
        "member.removed",
    ]


def test_listing_members_takes_a_fixed_number_of_queries(
    client_for: Callable[..., APIClient],
    tenant: Tenant,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    client = client_for(tenant, Role.VIEWER)
    for _ in range(3):
        member(tenant, Role.EDITOR)
    client.get(_url(tenant))  # warm the session
    with django_assert_max_num_queries(6) as few:
        assert len(client.get(_url(tenant)).json()["results"]) == 4
    for _ in range(20):
        member(tenant, Role.EDITOR)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(_url(tenant)).json()["results"]) == 24
