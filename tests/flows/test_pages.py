"""The flows pages: the list with its create form, and the read-only canvas placeholder."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from flows.models import Flow
from tenants.permissions import Role
from tests.flows.factories import FlowFactory, published_flow
from tests.tenants.factories import ConnectedPageFactory, member

pytestmark = pytest.mark.django_db


def signed_in(tenant, role=Role.EDITOR) -> Client:
    client = Client()
    client.force_login(member(tenant, role).user)
    return client


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


def test_create_from_a_template_opens_the_canvas(tenant):
    page = ConnectedPageFactory(tenant=tenant)
    client = signed_in(tenant)
    response = client.post(
        f"/t/{tenant.slug}/flows/", {"name": "", "page": page.pk, "template": "lead_generation"}
    )
    flow = Flow.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/t/{tenant.slug}/flows/{flow.pk}/"
    html = client.get(response["Location"]).content.decode()
    assert "The drag-and-drop editor is coming" in html
    assert "What are you looking for?" in html
    assert "lead_submitted" in html
    assert "reply-email → <code>ask_email</code>" in html
    assert "No problems: the draft can be published." in html


def test_create_needs_a_name_or_a_template(tenant):
    page = ConnectedPageFactory(tenant=tenant)
    response = signed_in(tenant).post(
        f"/t/{tenant.slug}/flows/", {"name": "", "page": page.pk, "template": ""}
    )
    assert response.status_code == 400
    assert "Give the flow a name, or pick a template." in response.content.decode()
    assert Flow.objects.count() == 0


def test_an_empty_flow_starts_with_its_start_block(tenant):
    page = ConnectedPageFactory(tenant=tenant)
    signed_in(tenant).post(
        f"/t/{tenant.slug}/flows/", {"name": "Blank", "page": page.pk, "template": ""}
    )
    assert [n["type"] for n in Flow.objects.get().document["nodes"]] == ["start"]


def test_viewers_cannot_create_and_other_pages_are_refused(tenant, other_tenant):
    page = ConnectedPageFactory(tenant=tenant)
    signed_in(tenant, Role.VIEWER).post(f"/t/{tenant.slug}/flows/", {"name": "X", "page": page.pk})
    theirs = ConnectedPageFactory(tenant=other_tenant)
    response = signed_in(tenant).post(f"/t/{tenant.slug}/flows/", {"name": "X", "page": theirs.pk})
    assert response.status_code == 400
    assert Flow.objects.count() == 0


def test_another_workspaces_flow_is_a_404(tenant, other_tenant):
    theirs = FlowFactory(tenant=other_tenant)
    client = signed_in(tenant)
    assert client.get(f"/t/{tenant.slug}/flows/{theirs.pk}/").status_code == 404
    assert client.get(f"/t/{other_tenant.slug}/flows/").status_code == 404
