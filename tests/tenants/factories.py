from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client

from tenants import services
from tenants.crypto import encrypt_token
from tenants.models import ConnectedPage, Membership, PageStatus, Tenant, Transport
from tenants.permissions import Role


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username: factory.Sequence[str] = factory.Sequence(lambda n: f"user{n}")
    email: factory.LazyAttribute[User, str] = factory.LazyAttribute(
        lambda u: f"{u.username}@example.com"
    )
    # factory.django.Password is newer than the stubs (types-factory-boy).
    password = factory.django.Password("correct horse battery staple")  # type: ignore[attr-defined]


class TenantFactory(factory.django.DjangoModelFactory[Tenant]):
    class Meta:
        model = Tenant

    name: factory.Sequence[str] = factory.Sequence(lambda n: f"Workspace {n}")
    slug: factory.Sequence[str] = factory.Sequence(lambda n: f"workspace-{n}")
    country = "US"


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    tenant: factory.SubFactory[Membership, Tenant] = factory.SubFactory(TenantFactory)
    user: factory.SubFactory[Membership, User] = factory.SubFactory(UserFactory)
    role = Role.EDITOR


def member(tenant: Tenant, role: str, **user_fields: object) -> Membership:
    """A new user who holds `role` in `tenant`."""
    return MembershipFactory.create(
        tenant=tenant, role=role, user=UserFactory.create(**user_fields)
    )


def signed_in(tenant: Tenant, role: str = Role.EDITOR) -> Client:
    """A browser (Django's test client) signed in as a new member of `tenant` with `role`."""
    client = Client()
    client.force_login(member(tenant, role).user)
    return client


def api_key(tenant: Tenant, name: str = "Integration") -> str:
    """A fresh API key's secret for `tenant` (created by one of its owners)."""
    owner = Membership.objects.filter(tenant=tenant, role=Role.OWNER).first()
    if owner is None:
        owner = member(tenant, Role.OWNER)
    _, secret = services.api_key_create(
        tenant=tenant, actor=services.Actor(user=owner.user), name=name
    )
    return secret


class ConnectedPageFactory(factory.django.DjangoModelFactory[ConnectedPage]):
    """A connected Page; its token is a made-up one, encrypted like a real one."""

    class Meta:
        model = ConnectedPage

    tenant: factory.SubFactory[ConnectedPage, Tenant] = factory.SubFactory(TenantFactory)
    page_id: factory.Sequence[str] = factory.Sequence(lambda n: str(900000000000 + n))
    name: factory.Sequence[str] = factory.Sequence(lambda n: f"Page {n}")
    tasks = ["ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE"]
    granted_scopes = ["page_events", "pages_manage_metadata", "pages_messaging", "pages_show_list"]
    transport = Transport.CONVERSIONS_API
    dataset_id: factory.Sequence[str] = factory.Sequence(lambda n: str(700000000000 + n))
    status = PageStatus.ACTIVE
    token_encrypted: factory.LazyAttribute[ConnectedPage, str] = factory.LazyAttribute(
        lambda page: encrypt_token(f"test-page-token-{page.page_id}")
    )
