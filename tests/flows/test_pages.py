"""The flows pages: the list, the template gallery (new flow), and the editor's page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from flows.models import Flow
from tenants.models import Tenant
from tenants.permissions import Role
from tests.flows.factories import FlowFactory, published_flow
from tests.tenants.factories import ConnectedPageFactory, signed_in

pytestmark = pytest.mark.django_db


def test_the_list_shows_status_page_and_last_version(tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant, name="Bikes Page")
    published_flow(tenant, page=page, name="Lead capture")
    FlowFactory.create(tenant=tenant, page=page, name="Menu", trigger_keywords=["menu", "food"])
    FlowFactory.create(name="Not ours")

    html = signed_in(tenant, Role.VIEWER).get(f"/t/{tenant.slug}/flows/").content.decode()
    assert "Lead capture" in html
    assert "Menu" in html
    assert "Not ours" not in html
    assert "v1 ·" in html
    assert "Bikes Page" in html
    assert "Keywords: menu, food" in html
    assert 'aria-current="page">Flows</a>' in html
    assert "New flow" not in html  # viewers do not create


def test_the_list_filters_by_status_and_page(tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    published_flow(tenant, page=page, name="Live one")
    FlowFactory.create(tenant=tenant, page=page, name="Draft one")
    FlowFactory.create(tenant=tenant, name="Elsewhere", status="draft")
    client = signed_in(tenant)
    html = client.get(f"/t/{tenant.slug}/flows/", {"status": "draft"}).content.decode()
    assert "Draft one" in html
    assert "Elsewhere" in html
    assert "Live one" not in html
    html = client.get(f"/t/{tenant.slug}/flows/", {"page_id": page.pk}).content.decode()
    assert "Live one" in html
    assert "Elsewhere" not in html


def test_the_list_query_count_does_not_grow(tenant: Tenant) -> None:
    client = signed_in(tenant)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/t/{tenant.slug}/flows/").status_code == 200
        return len(queries)

    published_flow(tenant, page=ConnectedPageFactory.create(tenant=tenant))
    count()  # entering the workspace records it as the last used, once per session
    one = count()
    for _ in range(4):
        published_flow(tenant, page=ConnectedPageFactory.create(tenant=tenant))
    assert count() == one


def test_new_flow_offers_blank_and_every_template(tenant: Tenant) -> None:
    ConnectedPageFactory.create(tenant=tenant)
    html = signed_in(tenant).get(f"/t/{tenant.slug}/flows/new/").content.decode()
    for name in ("Blank", "Lead generation", "Purchase follow-up"):
        assert f'<span class="gallery-name">{name}</span>' in html
    assert "Create and open the editor" in html


def test_create_from_a_template_opens_the_editor(tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    client = signed_in(tenant)
    response = client.post(
        f"/t/{tenant.slug}/flows/new/", {"name": "", "page": page.pk, "template": "lead_generation"}
    )
    flow = Flow.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/t/{tenant.slug}/flows/{flow.pk}/"
    assert flow.name == "Lead generation"
    assert "lead_submitted" in str(flow.document)


def test_create_needs_a_name_or_a_template(tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    response = signed_in(tenant).post(
        f"/t/{tenant.slug}/flows/new/", {"name": "", "page": page.pk, "template": ""}
    )
    assert response.status_code == 400
    assert "Give the flow a name, or pick a template." in response.content.decode()
    assert Flow.objects.count() == 0


def test_a_blank_flow_starts_with_its_start_block(tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    signed_in(tenant).post(
        f"/t/{tenant.slug}/flows/new/", {"name": "Blank", "page": page.pk, "template": ""}
    )
    assert [n["type"] for n in Flow.objects.get().document["nodes"]] == ["start"]


def test_viewers_cannot_create_and_other_pages_are_refused(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    viewer = signed_in(tenant, Role.VIEWER)
    assert viewer.get(f"/t/{tenant.slug}/flows/new/").status_code == 403
    response = viewer.post(f"/t/{tenant.slug}/flows/new/", {"name": "X", "page": page.pk})
    assert response.status_code == 403
    theirs = ConnectedPageFactory.create(tenant=other_tenant)
    response = signed_in(tenant).post(
        f"/t/{tenant.slug}/flows/new/", {"name": "X", "page": theirs.pk}
    )
    assert response.status_code == 400
    assert Flow.objects.count() == 0


def test_the_list_no_longer_creates(tenant: Tenant) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    response = signed_in(tenant).post(f"/t/{tenant.slug}/flows/", {"name": "X", "page": page.pk})
    assert response.status_code == 405
    assert Flow.objects.count() == 0


def editor_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="editor-config" type="application/json">(.*?)</script>', html)
    assert match, "the editor page has no config"
    config: dict[str, Any] = json.loads(match.group(1))
    return config


@pytest.mark.parametrize(
    ("role", "can_edit", "can_publish"),
    [(Role.VIEWER, False, False), (Role.EDITOR, True, True), (Role.ADMIN, True, True)],
)
def test_the_editor_page_mounts_the_island_with_the_roles_rights(
    tenant: Tenant, role: str, can_edit: bool, can_publish: bool
) -> None:
    flow = FlowFactory.create(tenant=tenant, page=ConnectedPageFactory.create(tenant=tenant))
    response = signed_in(tenant, role).get(f"/t/{tenant.slug}/flows/{flow.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<div id="flow-editor"' in html
    assert re.search(r'<script type="module" [^>]*src="/static/editor/assets/main-[^"]+\.js"', html)
    config = editor_config(html)
    assert config["flowId"] == flow.pk
    assert config["tenantSlug"] == tenant.slug
    assert (config["canEdit"], config["canPublish"]) == (can_edit, can_publish)
    assert ["USD", "US Dollar"] in config["currencies"]
    assert config["systemVariables"] == ["ad_id", "from_ad", "page_id", "psid", "ref"]
    assert config["csrfToken"]


def test_the_editor_page_says_so_when_the_editor_is_not_built(
    tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    settings.EDITOR_MANIFEST = tmp_path / "missing" / "manifest.json"
    flow = FlowFactory.create(tenant=tenant, page=ConnectedPageFactory.create(tenant=tenant))
    response = signed_in(tenant).get(f"/t/{tenant.slug}/flows/{flow.pk}/")
    assert response.status_code == 503
    assert "The editor is not built" in response.content.decode()
    assert "make install" in response.content.decode()


def test_another_workspaces_flow_is_a_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = FlowFactory.create(tenant=other_tenant)
    client = signed_in(tenant)
    assert client.get(f"/t/{tenant.slug}/flows/{theirs.pk}/").status_code == 404
    assert client.get(f"/t/{other_tenant.slug}/flows/").status_code == 404
