"""The data steps of the tenants migrations of issue #12, run forwards and backwards on rows
made before them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.migration_steps import migrate_to

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_latest")]

BEFORE_KEYS = ("tenants", "0007_tenant_deliver_test_events")
KEYS = ("tenants", "0009_api_key_owners")
PAGES = ("tenants", "0010_one_workspace_per_page")


def test_keys_belong_to_their_creators_and_a_departed_creators_key_is_revoked() -> None:
    apps = migrate_to(BEFORE_KEYS)
    user_model = apps.get_model("auth", "User")
    tenant = apps.get_model("tenants", "Tenant").objects.create(name="A", slug="a", country="US")
    membership = apps.get_model("tenants", "Membership")
    api_key = apps.get_model("tenants", "ApiKey")
    admin = user_model.objects.create(username="admin")
    left = user_model.objects.create(username="left")
    editor = user_model.objects.create(username="editor")
    membership.objects.create(tenant=tenant, user=admin, role="admin")
    membership.objects.create(tenant=tenant, user=editor, role="editor")
    for n, creator in enumerate([admin, left, editor, None]):
        api_key.objects.create(
            tenant=tenant,
            name=f"k{n}",
            prefix=f"0000000{n}",
            hashed_key=f"{n}" * 64,
            created_by=creator,
        )

    apps = migrate_to(KEYS)
    keys = {k.name: k for k in apps.get_model("tenants", "ApiKey").objects.all()}
    assert keys["k0"].owner_id == admin.pk
    assert (keys["k0"].revoked_at, keys["k0"].role) == (None, "editor")
    assert all(keys[name].revoked_at is not None for name in ("k1", "k2", "k3"))
    audit = apps.get_model("tenants", "AuditEvent").objects.filter(action="api_key.revoked")
    assert sorted(audit.values_list("details__name", flat=True)) == ["k1", "k2", "k3"]

    migrate_to(BEFORE_KEYS)  # reversible


def test_a_page_connected_in_several_workspaces_stays_where_its_traffic_went() -> None:
    apps = migrate_to(KEYS)
    tenant_model = apps.get_model("tenants", "Tenant")
    page_model = apps.get_model("tenants", "ConnectedPage")
    older, newer, stale = (
        tenant_model.objects.create(name=n, slug=n, country="US") for n in ("older", "newer", "st")
    )
    now = timezone.now()
    rows = {
        "older": (older, "active", now - timedelta(days=9)),
        "newer": (newer, "active", now - timedelta(days=1)),
        "stale": (stale, "needs_reauth", now),
    }
    for name, (tenant, status, connected_at) in rows.items():
        page_model.objects.create(
            tenant=tenant,
            page_id="111",
            name=name,
            transport="conversions_api",
            status=status,
            token_encrypted="ciphertext",
            connected_at=connected_at,
        )

    apps = migrate_to(PAGES)
    pages = {p.name: p for p in apps.get_model("tenants", "ConnectedPage").objects.all()}
    assert (pages["newer"].status, pages["newer"].token_encrypted) == ("active", "ciphertext")
    for name in ("older", "stale"):
        assert (pages[name].status, pages[name].token_encrypted) == ("disconnected", "")
        assert pages[name].transferred_at is not None
        assert pages[name].last_error.startswith("Transferred to another Pagepulse workspace")
    moved = apps.get_model("tenants", "AuditEvent").objects.filter(action="page.transferred_out")
    assert sorted(moved.values_list("target", flat=True)) == ["older", "stale"]

    migrate_to(KEYS)  # reversible
