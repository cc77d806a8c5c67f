"""The flows pages: the list, the template gallery (new flow), and the editor's page."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flows.models import Flow
from tenants.permissions import Role
from tests.flows.factories import FlowFactory, published_flow
from tests.tenants.factories import ConnectedPageFactory, signed_in

pytestmark = pytest.mark.django_db


def test_the_list_shows_status_page_and_last_version(tenant):
    page = ConnectedPageFactory(tenant=tenant, name="Bikes Page")
    published_flow(tenant, page=page, name="Lead capture")
    FlowFactory(tenant=tenant, page=page, name="Menu", trigger_keywords=["menu", "food"])
    FlowFactory(name="Not ours")

    html = signed_in(tenant, Role.VIEWER).get(f"/t/{tenant.slug}/flows/").content.decode()
    assert "Lead capture" in html
    assert "Menu" in html
    assert "Not ours" not in html
    assert "v1 ·" in html
    assert "Bikes Page" in html
    assert "Keywords: menu, food" in html
    assert 'aria-current="page">Flows</a>' in html
    assert "New flow" not in html  # viewers do not create


def test_the_list_filters_by_status_and_page(tenant):
    page = ConnectedPageFactory(tenant=tenant)
    published_flow(tenant, page=page, name="Live one")
    FlowFactory(tenant=tenant, page=page, name="Draft one")
    FlowFactory(tenant=tenant, name="Elsewhere", status="draft")
    client = signed_in(tenant)
    html = client.get(f"/t/{tenant.slug}/flows/", {"status": "draft"}).content.decode()
    assert "Draft one" in html
    assert "Elsewhere" in html
    assert "Live one" not in html
    html = client.get(f"/t/{tenant.slug}/flows/", {"page_id": page.pk}).content.decode()
    assert "Live one" in html
    assert "Elsewhere" not in html


def test_the_list_query_count_does_not_grow(tenant):
    client = signed_in(tenant)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/t/{tenant.slug}/flows/").status_code == 200
        return len(queries)

    published_flow(tenant, page=ConnectedPageFactory(tenant=tenant))
    one = count()
    for _ in range(4):
        published_flow(tenant, page=ConnectedPageFactory(tenant=tenant))
    assert count() == one


def test_new_flow_offers_blank_and_every_template(tenant):
    ConnectedPageFactory(tenant=tenant)
    html = signed_in(tenant).get(f"/t/{tenant.slug}/flows/new/").content.decode()
    for name in ("Blank", "Lead generation", "Purchase follow-up"):
        assert f'<span class="gallery-name">{name}</span>' in html
    assert "Create and open the editor" in html


def test_create_from_a_template_opens_the_editor(tenant):
    page = ConnectedPageFactory(tenant=tenant)
    client = signed_in(tenant)
    response = client.post(
        f"/t/{tenant.slug}/flows/new/", {"name": "", "page": page.pk, "template": "lead_generation"}
    )
    flow = Flow.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/t/{tenant.slug}/flows/{flow.pk}/"
    assert flow.name == "Lead generation"
    assert "lead_submitted" in str(flow.document)


def test_create_needs_a_name_or_a_template(tenant):
    page = ConnectedPageFactory(tenant=tenant)
    response = signed_in(tenant).post(
        f"/t/{tenant.slug}/flows/new/", {"name": "", "page": page.pk, "template": ""}
    )
    assert response.status_code == 400
    assert "Give the flow a name, or pick a template." in response.content.decode()
    assert Flow.objects.count() == 0


def test_a_blank_flow_starts_with_its_start_block(tenant):
    page = ConnectedPageFactory(tenant=tenant)
    signed_in(tenant).post(
        f"/t/{tenant.slug}/flows/new/", {"name": "Blank", "page": page.pk, "template": ""}
    )
    assert [n["type"] for n in Flow.objects.get().document["nodes"]] == ["start"]


def test_viewers_cannot_create_and_other_pages_are_refused(tenant, other_tenant):
    page = ConnectedPageFactory(tenant=tenant)
    viewer = signed_in(tenant, Role.VIEWER)
    assert viewer.get(f"/t/{tenant.slug}/flows/new/").status_code == 403
    response = viewer.post(f"/t/{tenant.slug}/flows/new/", {"name": "X", "page": page.pk})
    assert response.status_code == 403
    theirs = ConnectedPageFactory(tenant=other_tenant)
    response = signed_in(tenant).post(
        f"/t/{tenant.slug}/flows/new/", {"name": "X", "page": theirs.pk}
    )
    assert response.status_code == 400
    assert Flow.objects.count() == 0


def test_the_list_no_longer_creates(tenant):
    page = ConnectedPageFactory(tenant=tenant)
    response = signed_in(tenant).post(f"/t/{tenant.slug}/flows/", {"name": "X", "page": page.pk})
    assert response.status_code == 405
    assert Flow.objects.count() == 0


def editor_config(html: str) -> dict:
    match = re.search(r'<script id="editor-config" type="application/json">(.*?)</script>', html)
    assert match, "the editor page has no config"
    return json.loads(match.group(1))


@pytest.mark.parametrize(
    ("role", "can_edit", "can_publish"),
    [(Role.VIEWER, False, False), (Role.EDITOR, True, True), (Role.ADMIN, True, True)],
)
def test_the_editor_page_mounts_the_island_with_the_roles_rights(
    tenant, role, can_edit, can_publish
):
    flow = FlowFactory(tenant=tenant, page=ConnectedPageFactory(tenant=tenant))
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
    assert config["systemVariables"] == ["page_id", "psid", "ref"]
    assert config["csrfToken"]


def test_the_editor_page_says_so_when_the_editor_is_not_built(tenant, settings, tmp_path):
    settings.EDITOR_MANIFEST = tmp_path / "missing" / "manifest.json"
    flow = FlowFactory(tenant=tenant, page=ConnectedPageFactory(tenant=tenant))
    response = signed_in(tenant).get(f"/t/{tenant.slug}/flows/{flow.pk}/")
    assert response.status_code == 503
    assert "The editor is not built" in response.content.decode()
    assert "make install" in response.content.decode()


def test_another_workspaces_flow_is_a_404(tenant, other_tenant):
    theirs = FlowFactory(tenant=other_tenant)
    client = signed_in(tenant)
    assert client.get(f"/t/{tenant.slug}/flows/{theirs.pk}/").status_code == 404
    assert client.get(f"/t/{other_tenant.slug}/flows/").status_code == 404
