"""The flows API end to end through DRF's client: build, save, conflict, publish, version."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from flows.blocks import REGISTRY
from flows.flow_templates import LEAD_GENERATION
from flows.models import Flow, FlowStatus, FlowVersion
from tenants.models import AuditEvent, ConnectedPage, Tenant, Transport
from tenants.permissions import Role
from tests.flows.factories import FlowFactory, edge, node, published_flow, simple_document
from tests.tenants.factories import ConnectedPageFactory, api_key, member

if TYPE_CHECKING:
    from tests.client_types import APIResponse

pytestmark = pytest.mark.django_db


def flows_url(tenant: Tenant, path: str = "") -> str:
    return f"/api/v1/tenants/{tenant.slug}/flows/{path}"


@pytest.fixture
def editor(client_for: Callable[..., APIClient], tenant: Tenant) -> APIClient:
    return client_for(tenant, Role.EDITOR)


def create(editor: APIClient, tenant: Tenant, page: ConnectedPage, **body: Any) -> APIResponse:
    body = {
        "name": "Welcome",
        "page": page.pk,
        "trigger": {"kind": "keywords", "keywords": ["hi"]},
        "document": simple_document(),
        **body,
    }
    response = editor.post(flows_url(tenant), body, format="json")
    assert response.status_code == 201, response.content
    return response


def test_create_a_flow(editor: APIClient, tenant: Tenant, ada_page: ConnectedPage) -> None:
    response = create(editor, tenant, ada_page, description="Greets people")
    body = response.json()
    assert response["ETag"] == '"r1"'
    assert {
        key: body[key]
        for key in body
        if key not in {"id", "created_at", "updated_at", "updated_by"}
    } == {
        "name": "Welcome",
        "description": "Greets people",
        "page": ada_page.pk,
        "page_name": "Ada's Bakery",
        "trigger": {"kind": "keywords", "keywords": ["hi"], "ref": ""},
        "status": "draft",
        "revision": 1,
        "latest_version": None,
        "has_unpublished_changes": True,
        "document": simple_document(),
    }
    assert Flow.objects.get(pk=body["id"]).tenant == tenant


def test_create_from_a_template(editor: APIClient, tenant: Tenant, ada_page: ConnectedPage) -> None:
    response = editor.post(
        flows_url(tenant), {"template": "lead_generation", "page": ada_page.pk}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Lead generation"
    assert body["trigger"] == {
        "kind": "keywords",
        "keywords": ["quote", "pricing", "info"],
        "ref": "",
    }
    assert [n["type"] for n in body["document"]["nodes"]].count("log_event") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"trigger": {"kind": "ref", "ref": "has space"}}, "trigger"),
        ({"trigger": {"kind": "keywords", "keywords": []}}, "trigger.keywords"),
        ({"document": {"nodes": "x", "edges": []}}, "problems"),
        ({"template": "nope"}, "template"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage, body: dict[str, Any], field: str
) -> None:
    base = {
        "name": "Welcome",
        "page": ada_page.pk,
        "trigger": {"kind": "keywords", "keywords": ["hi"]},
    }
    response = editor.post(flows_url(tenant), {**base, **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
    assert Flow.objects.count() == 0


def test_another_tenants_page_is_a_404_and_nothing_is_written(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage, other_tenant: Tenant
) -> None:
    theirs = ConnectedPageFactory.create(tenant=other_tenant)
    response = editor.post(flows_url(tenant), {"name": "Steal", "page": theirs.pk}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert Flow.objects.count() == 0

    flow = FlowFactory.create(tenant=tenant, page=ada_page)
    response = editor.patch(
        flows_url(tenant, f"{flow.pk}/"), {"revision": 1, "page": theirs.pk}, format="json"
    )
    assert response.status_code == 404
    flow.refresh_from_db()
    assert (flow.page_id, flow.revision) == (ada_page.pk, 1)

    export = editor.get(flows_url(tenant, f"{flow.pk}/export/")).json()
    response = editor.post(
        flows_url(tenant, "import/"), {"page": theirs.pk, "flow": export}, format="json"
    )
    assert response.status_code == 404
    assert Flow.objects.count() == 1


def test_list_filters(editor: APIClient, tenant: Tenant, ada_page: ConnectedPage) -> None:
    other_page = ConnectedPageFactory.create(tenant=tenant)
    published_flow(tenant, page=ada_page, name="Lead capture")
    FlowFactory.create(tenant=tenant, page=ada_page, name="Menu")
    FlowFactory.create(tenant=tenant, page=other_page, name="Lead follow-up")
    FlowFactory.create(name="Someone else's lead flow")

    def names(**params: Any) -> list[str]:
        response = editor.get(flows_url(tenant), params)
        assert response.status_code == 200
        return [row["name"] for row in response.json()["results"]]

    assert names() == ["Lead capture", "Lead follow-up", "Menu"]
    assert names(page_id=ada_page.pk) == ["Lead capture", "Menu"]
    assert names(page_id=ada_page.pk, page_size=1, page=2) == ["Menu"]  # `page` pages, not filters
    assert names(status="published") == ["Lead capture"]
    assert names(search="lead") == ["Lead capture", "Lead follow-up"]
    row = editor.get(flows_url(tenant), {"status": "published"}).json()["results"][0]
    assert (row["latest_version"], row["has_unpublished_changes"]) == (1, False)
    assert "document" not in row


def test_list_query_count_does_not_grow_with_flows(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert editor.get(flows_url(tenant)).status_code == 200
        return len(queries)

    published_flow(tenant, page=ada_page)
    one = count()
    for _ in range(5):
        published_flow(tenant, page=ConnectedPageFactory.create(tenant=tenant))
    assert count() == one == 6  # session, user, workspace, role, count, flows with versions


def test_save_the_draft_with_the_revision_in_the_body_or_if_match(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    flow_id = create(editor, tenant, ada_page).json()["id"]
    response = editor.patch(
        flows_url(tenant, f"{flow_id}/"), {"revision": 1, "name": "Hello"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["revision"], response["ETag"]) == (2, '"r2"')

    response = editor.patch(
        flows_url(tenant, f"{flow_id}/"), {"description": "x"}, format="json", HTTP_IF_MATCH='"r2"'
    )
    assert response.status_code == 200
    assert response.json()["revision"] == 3

    response = editor.patch(
        flows_url(tenant, f"{flow_id}/"), {"name": "No revision"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["revision"]


def test_put_replaces_the_draft(editor: APIClient, tenant: Tenant, ada_page: ConnectedPage) -> None:
    flow_id = create(editor, tenant, ada_page).json()["id"]
    body = {
        "revision": 1,
        "name": "Renamed",
        "page": ada_page.pk,
        "trigger": {"kind": "ref", "ref": "summer-sale_2026="},
        "document": simple_document("Welcome back"),
    }
    response = editor.put(flows_url(tenant, f"{flow_id}/"), body, format="json")
    assert response.status_code == 200
    assert response.json()["trigger"] == {"kind": "ref", "keywords": [], "ref": "summer-sale_2026="}
    response = editor.put(
        flows_url(tenant, f"{flow_id}/"), {"revision": 2, "name": "Only"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"page", "trigger", "document"}


def test_a_stale_save_is_a_409_and_loses_nothing(
    client_for: Callable[..., APIClient], tenant: Tenant, ada_page: ConnectedPage
) -> None:
    alice = client_for(tenant, Role.EDITOR)
    bob = APIClient()
    bob.force_login(member(tenant, Role.EDITOR, email="bob@acme.example").user)
    flow_id = create(alice, tenant, ada_page).json()["id"]
    loaded = alice.get(flows_url(tenant, f"{flow_id}/"))
    assert loaded["ETag"] == '"r1"'

    bobs = simple_document("Bob's greeting")
    assert (
        bob.patch(
            flows_url(tenant, f"{flow_id}/"), {"revision": 1, "document": bobs}, format="json"
        ).status_code
        == 200
    )

    alices = simple_document("Alice's greeting")
    response = alice.patch(
        flows_url(tenant, f"{flow_id}/"),
        {"document": alices, "name": "Alice"},
        format="json",
        HTTP_IF_MATCH=loaded["ETag"],
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "revision_conflict"
    flow = Flow.objects.get(pk=flow_id)
    # Who saved in between, when, and the flow's name now: the editor says so and offers a choice.
    assert response.json()["error"]["details"] == {
        "current_revision": 2,
        "your_revision": 1,
        "updated_by": "bob@acme.example",
        "updated_at": flow.updated_at.isoformat().replace("+00:00", "Z"),
        "name": "Welcome",
    }

    assert (flow.revision, flow.name, flow.document) == (2, "Welcome", bobs)
    # Alice reloads and saves on top of Bob's revision: both changes survive.
    response = alice.patch(
        flows_url(tenant, f"{flow_id}/"), {"revision": 2, "name": "Alice"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["document"]) == ("Alice", bobs)


def test_publishing_freezes_a_numbered_version(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    flow_id = create(editor, tenant, ada_page).json()["id"]
    response = editor.post(
        flows_url(tenant, f"{flow_id}/publish/"), {"note": "First"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["number"], body["note"], body["document"], body["warnings"]) == (
        1,
        "First",
        simple_document(),
        [],
    )

    # Editing the draft never changes a version.
    editor.patch(
        flows_url(tenant, f"{flow_id}/"),
        {"revision": 1, "document": simple_document("Changed")},
        format="json",
    )
    version = editor.get(flows_url(tenant, f"{flow_id}/versions/1/")).json()
    assert version["document"] == simple_document()
    assert FlowVersion.objects.get().document == simple_document()

    flow = editor.get(flows_url(tenant, f"{flow_id}/")).json()
    assert (flow["status"], flow["latest_version"], flow["has_unpublished_changes"]) == (
        "published",
        1,
        True,
    )
    assert (
        editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json").json()["number"]
        == 2
    )
    listed = editor.get(flows_url(tenant, f"{flow_id}/versions/")).json()
    assert [v["number"] for v in listed["results"]] == [2, 1]
    assert listed["results"][1]["note"] == "First"
    assert AuditEvent.objects.filter(tenant=tenant, action="flow.published").count() == 2


def test_publishing_with_a_stale_revision_is_a_409(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    flow_id = create(editor, tenant, ada_page).json()["id"]
    response = editor.post(flows_url(tenant, f"{flow_id}/publish/"), {"revision": 7}, format="json")
    assert response.status_code == 409
    assert FlowVersion.objects.count() == 0


def test_a_409_names_the_api_key_that_saved_never_its_secret(
    client_for: Callable[..., APIClient], tenant: Tenant, ada_page: ConnectedPage
) -> None:
    """Publish and restore with a stale revision answer like a stale save does."""
    secret = api_key(tenant, name="CRM sync")
    integration = client_for(key=secret)
    editor = client_for(tenant, Role.EDITOR)
    flow_id = create(editor, tenant, ada_page).json()["id"]
    editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")
    response = integration.patch(
        flows_url(tenant, f"{flow_id}/"), {"revision": 1, "name": "Synced"}, format="json"
    )
    assert response.status_code == 200, response.content
    flow = Flow.objects.get(pk=flow_id)
    assert flow.updated_by_api_key is not None
    assert (flow.updated_by, flow.updated_by_api_key.name) == (None, "CRM sync")

    expected = {
        "current_revision": 2,
        "your_revision": 1,
        "updated_by": "an API key: CRM sync",
        "updated_at": flow.updated_at.isoformat().replace("+00:00", "Z"),
        "name": "Synced",
    }
    for path, body in (
        (f"{flow_id}/", {"revision": 1, "name": "Mine"}),
        (f"{flow_id}/publish/", {"revision": 1}),
        (f"{flow_id}/versions/1/restore/", {"revision": 1}),
    ):
        call = editor.patch if path.endswith(f"{flow_id}/") else editor.post
        response = call(flows_url(tenant, path), body, format="json")
        assert response.status_code == 409, path
        assert response.json()["error"]["details"] == expected, path
        visible_part = "pp_" + secret.split("_")[1]  # not even the key's visible prefix
        assert visible_part not in response.content.decode()
    assert FlowVersion.objects.count() == 1
    assert Flow.objects.get(pk=flow_id).revision == 2


def test_a_409_says_null_when_nobody_is_known(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    flow = FlowFactory.create(tenant=tenant, page=ada_page, updated_by=None, revision=3)
    response = editor.post(flows_url(tenant, f"{flow.pk}/publish/"), {"revision": 2}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["details"]["updated_by"] is None


def test_an_invalid_flow_is_not_published(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    document = {"nodes": [node("m", "send_message", text="")], "edges": []}
    flow_id = create(editor, tenant, ada_page, document=document).json()["id"]

    response = editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "flow_invalid"
    assert (
        error["message"]
        == "The flow has 3 errors to fix before it can be published; details.problems says where."
    )
    assert [
        (p["node_id"], p["field"], p["code"], p["severity"]) for p in error["details"]["problems"]
    ] == [
        (None, "nodes", "no_start", "error"),
        ("m", "data.text", "blank", "error"),
        ("m", "handles.next", "not_connected", "error"),
    ]
    assert FlowVersion.objects.count() == 0
    assert Flow.objects.get(pk=flow_id).status == FlowStatus.DRAFT


def test_validate_reports_errors_and_warnings(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    document = simple_document("Hi {{name}}")
    flow_id = create(editor, tenant, ada_page, document=document).json()["id"]
    response = editor.post(flows_url(tenant, f"{flow_id}/validate/"))
    assert response.status_code == 200
    body = response.json()
    assert (body["valid"], body["errors"], body["warnings"]) == (True, 0, 1)
    assert body["problems"][0]["code"] == "variable_never_set"
    assert body["problems"][0]["message"].startswith("{{name}} is used here, but no Ask block")


def test_a_custom_event_on_a_conversions_api_page_publishes_with_a_warning(
    editor: APIClient, tenant: Tenant
) -> None:
    capi = ConnectedPageFactory.create(tenant=tenant, transport=Transport.CONVERSIONS_API)
    document = {
        "nodes": [
            node("s", "start"),
            node("log", "log_event", event="Table booked"),
            node("e", "end"),
        ],
        "edges": [edge("s", "log"), edge("log", "e")],
    }
    flow_id = create(editor, tenant, capi, document=document).json()["id"]
    response = editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")

    assert response.status_code == 201, response.content
    warnings = response.json()["warnings"]
    assert [(p["node_id"], p["field"], p["code"], p["severity"]) for p in warnings] == [
        ("log", "data.event", "kept_in_pagepulse", "warning")
    ]
    assert warnings[0]["message"].startswith(
        "Table booked is a custom event. The Conversions API takes only its 14 standard events, "
        "so Pagepulse keeps this one in Pagepulse only"
    )


def test_two_published_flows_cannot_answer_the_same_ref(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    ref = {"kind": "ref", "ref": "spring"}
    first = create(editor, tenant, ada_page, trigger=ref).json()["id"]
    assert editor.post(flows_url(tenant, f"{first}/publish/"), {}, format="json").status_code == 201
    second = create(editor, tenant, ada_page, name="Spring 2", trigger=ref).json()["id"]
    response = editor.post(flows_url(tenant, f"{second}/publish/"), {}, format="json")
    assert response.status_code == 400
    problem = response.json()["error"]["details"]["problems"][0]
    assert (problem["field"], problem["code"]) == ("trigger", "trigger_conflict")
    assert "“Welcome” on this page already answers the ref spring" in problem["message"]


def test_status_changes(editor: APIClient, tenant: Tenant, ada_page: ConnectedPage) -> None:
    flow_id = create(editor, tenant, ada_page).json()["id"]
    response = editor.patch(
        flows_url(tenant, f"{flow_id}/"), {"revision": 1, "status": "published"}, format="json"
    )
    assert response.status_code == 400
    response = editor.patch(
        flows_url(tenant, f"{flow_id}/"), {"revision": 1, "status": "archived"}, format="json"
    )
    assert response.json()["status"] == "archived"


def test_restore_a_version_into_the_draft(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    flow_id = create(editor, tenant, ada_page).json()["id"]
    editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")
    editor.patch(
        flows_url(tenant, f"{flow_id}/"),
        {"revision": 1, "document": simple_document("v2")},
        format="json",
    )
    editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")

    response = editor.post(
        flows_url(tenant, f"{flow_id}/versions/1/restore/"), {"revision": 2}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["document"], body["revision"], body["has_unpublished_changes"]) == (
        simple_document(),
        3,
        True,
    )
    assert [v.document for v in FlowVersion.objects.order_by("number")] == [
        simple_document(),
        simple_document("v2"),
    ]
    assert (
        editor.post(
            flows_url(tenant, f"{flow_id}/versions/9/restore/"), {}, format="json"
        ).status_code
        == 404
    )


def test_diff_between_versions(editor: APIClient, tenant: Tenant, ada_page: ConnectedPage) -> None:
    flow_id = create(editor, tenant, ada_page).json()["id"]
    editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")
    changed = simple_document("Changed text")
    changed["nodes"][0]["position"] = {"x": 50, "y": 50}  # start only moved
    changed["nodes"].insert(2, node("bye", "send_message", text="Bye"))
    changed["edges"] = [edge("start", "hello"), edge("hello", "bye"), edge("bye", "end")]
    editor.patch(
        flows_url(tenant, f"{flow_id}/"), {"revision": 1, "document": changed}, format="json"
    )
    editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")

    response = editor.get(flows_url(tenant, f"{flow_id}/versions/1/diff/2/"))
    assert response.status_code == 200
    diff = response.json()
    assert (diff["from_version"], diff["to_version"]) == (1, 2)
    assert diff["nodes"]["added"] == [node("bye", "send_message", text="Bye")]
    assert diff["nodes"]["removed"] == []
    assert [(c["id"], c["fields"], c["after"]["data"]) for c in diff["nodes"]["changed"]] == [
        ("hello", ["data"], {"text": "Changed text"})
    ]
    assert diff["nodes"]["moved"] == ["start"]
    assert [e["id"] for e in diff["edges"]["added"]] == ["bye-next-end", "hello-next-bye"]
    assert [e["id"] for e in diff["edges"]["removed"]] == ["hello-next-end"]
    assert diff["edges"]["changed"] == []
    assert editor.get(flows_url(tenant, f"{flow_id}/versions/1/diff/3/")).status_code == 404


def test_diff_from_a_version_to_the_draft(
    client_for: Callable[..., APIClient],
    editor: APIClient,
    tenant: Tenant,
    ada_page: ConnectedPage,
    other_tenant: Tenant,
) -> None:
    flow_id = create(editor, tenant, ada_page).json()["id"]
    editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")
    draft = simple_document("Not published yet")
    draft["nodes"].append(node("lost", "end"))
    editor.patch(
        flows_url(tenant, f"{flow_id}/"), {"revision": 1, "document": draft}, format="json"
    )

    viewer = client_for(tenant, Role.VIEWER)
    response = viewer.get(flows_url(tenant, f"{flow_id}/versions/1/diff/draft/"))
    assert response.status_code == 200, response.content
    diff = response.json()
    assert (diff["from_version"], diff["to_version"], diff["draft_revision"]) == (1, "draft", 2)
    assert diff["nodes"]["added"] == [node("lost", "end")]
    assert [(c["id"], c["fields"], c["after"]["data"]) for c in diff["nodes"]["changed"]] == [
        ("hello", ["data"], {"text": "Not published yet"})
    ]
    assert (diff["nodes"]["removed"], diff["nodes"]["moved"]) == ([], [])
    assert diff["edges"] == {"added": [], "removed": [], "changed": []}

    # No such version, and another workspace's flow: 404, whoever asks.
    missing = viewer.get(flows_url(tenant, f"{flow_id}/versions/2/diff/draft/"))
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "This flow has no version 2. See GET …/versions/."
    theirs = published_flow(other_tenant, page=ConnectedPageFactory.create(tenant=other_tenant))
    response = editor.get(flows_url(tenant, f"{theirs.pk}/versions/1/diff/draft/"))
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert "Not published" not in response.content.decode()


def test_duplicate(editor: APIClient, tenant: Tenant, ada_page: ConnectedPage) -> None:
    flow_id = create(editor, tenant, ada_page).json()["id"]
    editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")
    response = editor.post(flows_url(tenant, f"{flow_id}/duplicate/"), {}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["status"], body["latest_version"], body["document"]) == (
        "Welcome (copy)",
        "draft",
        None,
        simple_document(),
    )
    assert body["id"] != flow_id


def test_export_and_import_round_trip(
    client_for: Callable[..., APIClient],
    tenant: Tenant,
    ada_page: ConnectedPage,
    other_tenant: Tenant,
) -> None:
    editor = client_for(tenant, Role.EDITOR)
    flow_id = editor.post(
        flows_url(tenant), {"template": "lead_generation", "page": ada_page.pk}, format="json"
    ).json()["id"]
    export = editor.get(flows_url(tenant, f"{flow_id}/export/")).json()
    assert (export["format"], export["format_version"], export["source_page"]) == (
        "pagepulse.flow",
        1,
        {"name": "Ada's Bakery", "transport": "page_activities"},
    )

    # Another workspace imports it onto its own page (of the other transport).
    theirs = ConnectedPageFactory.create(tenant=other_tenant, transport=Transport.CONVERSIONS_API)
    importer = client_for(other_tenant, Role.EDITOR)
    response = importer.post(
        flows_url(other_tenant, "import/"), {"page": theirs.pk, "flow": export}, format="json"
    )
    assert response.status_code == 201, response.content
    imported = response.json()
    assert (imported["name"], imported["page"], imported["trigger"]) == (
        "Lead generation",
        theirs.pk,
        export["trigger"],
    )

    original, copy_ = export["document"], imported["document"]
    renamed = {
        old["id"]: new["id"] for old, new in zip(original["nodes"], copy_["nodes"], strict=True)
    }
    assert not set(renamed) & set(renamed.values())  # every node id is new
    assert [{**n, "id": renamed[n["id"]]} for n in original["nodes"]] == copy_["nodes"]
    assert [
        (renamed[e["source"]], e["sourceHandle"], renamed[e["target"]]) for e in original["edges"]
    ] == [(e["source"], e["sourceHandle"], e["target"]) for e in copy_["edges"]]
    assert not {e["id"] for e in original["edges"]} & {e["id"] for e in copy_["edges"]}
    assert (
        importer.post(
            flows_url(other_tenant, f"{imported['id']}/publish/"), {}, format="json"
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("flow", "code"),
    [
        ({"format": "something else"}, "invalid_import"),
        ({"format": "pagepulse.flow", "format_version": 2}, "invalid_import"),
        (
            {
                "format": "pagepulse.flow",
                "format_version": 1,
                "name": "X",
                "document": {"nodes": []},
            },
            "invalid_document",
        ),
    ],
)
def test_import_refuses_what_is_not_an_export(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage, flow: Flow, code: str
) -> None:
    response = editor.post(
        flows_url(tenant, "import/"), {"page": ada_page.pk, "flow": flow}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert Flow.objects.count() == 0


def test_delete_removes_versions_and_is_audited(
    editor: APIClient, tenant: Tenant, ada_page: ConnectedPage
) -> None:
    flow = published_flow(tenant, page=ada_page, name="Old")
    assert editor.delete(flows_url(tenant, f"{flow.pk}/")).status_code == 204
    assert (Flow.objects.count(), FlowVersion.objects.count()) == (0, 0)
    audit = AuditEvent.objects.get(tenant=tenant, action="flow.deleted")
    assert (audit.target, audit.details) == ("Old", {"flow_id": flow.pk, "versions": 1})


def test_viewers_read_but_do_not_write(
    client_for: Callable[..., APIClient], tenant: Tenant, ada_page: ConnectedPage
) -> None:
    flow = published_flow(tenant, page=ada_page)
    viewer = client_for(tenant, Role.VIEWER)
    assert viewer.get(flows_url(tenant, f"{flow.pk}/versions/1/")).status_code == 200
    assert (
        viewer.post(flows_url(tenant, f"{flow.pk}/publish/"), {}, format="json").status_code == 403
    )
    assert FlowVersion.objects.count() == 1


def test_blocks_and_templates_for_signed_in_users_and_api_keys(
    client: Client, client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    assert client.get("/api/v1/blocks/").status_code == 401
    for caller in (client_for(tenant, Role.VIEWER), client_for(key=api_key(tenant))):
        blocks = caller.get("/api/v1/blocks/").json()
        assert [b["type"] for b in blocks] == list(REGISTRY)  # pinned in test_blocks
        log_event = next(b for b in blocks if b["type"] == "log_event")
        assert log_event["schema"]["properties"]["logging_target"]["enum"] == [
            "page",
            "app_and_page",
            "app",
        ]
        templates = caller.get("/api/v1/flow-templates/").json()
        assert [t["key"] for t in templates] == ["lead_generation", "purchase_follow_up"]


def test_blocks_tell_an_editor_how_to_compute_handles_and_forms(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    blocks = {b["type"]: b for b in client_for(tenant, Role.VIEWER).get("/api/v1/blocks/").json()}
    send = blocks["send_message"]
    assert send["handles"] == [
        {
            "id": "next",
            "label": "Next",
            "required": True,
            "label_when_branching": "Any other answer",
        }
    ]
    assert send["dynamic_handles"] == [
        {
            "items": "quick_replies",
            "prefix": "reply-",
            "label": "title",
            "when": {},
            "noun": "quick reply",
            "required": False,
        },
        {
            "items": "buttons",
            "prefix": "button-",
            "label": "title",
            "when": {"type": "postback"},
            "noun": "button",
            "required": False,
        },
    ]
    assert (send["waits_for_input"], send["waits_when_branching"]) == (False, True)
    assert [b["dynamic_handles"][0]["prefix"] for b in blocks.values() if b["dynamic_handles"]] == [
        "reply-",
        "reply-",
    ]
    # The order of properties survives the trip through JSON: it is the form's order.
    assert list(blocks["ask"]["schema"]["properties"]) == [
        "question",
        "quick_replies",
        "variable",
        "check",
        "retry_message",
    ]
    operator = blocks["condition"]["schema"]["properties"]["rules"]["items"]["properties"][
        "operator"
    ]
    assert operator["x-enumLabels"]["greater_than"] == "is greater than"


@pytest.mark.parametrize("transport", [Transport.PAGE_ACTIVITIES, Transport.CONVERSIONS_API])
@pytest.mark.parametrize("template", ["lead_generation", "purchase_follow_up"])
def test_templates_publish_on_both_transports(
    editor: APIClient, tenant: Tenant, transport: Transport, template: str
) -> None:

    page = ConnectedPageFactory.create(tenant=tenant, transport=transport)
    flow_id = editor.post(
        flows_url(tenant), {"template": template, "page": page.pk}, format="json"
    ).json()["id"]
    response = editor.post(flows_url(tenant, f"{flow_id}/publish/"), {}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["warnings"] == []


def test_lead_template_follows_the_guides_best_practices() -> None:
    document = LEAD_GENERATION.document()
    kinds = {n["id"]: n for n in document["nodes"]}
    order = ["start"]
    successors = {(e["source"], e["sourceHandle"]): e["target"] for e in document["edges"]}
    while (order[-1], "next") in successors or (order[-1], "reply-email") in successors:
        order.append(successors.get((order[-1], "reply-email")) or successors[(order[-1], "next")])
    asks = [kinds[i]["data"] for i in order if kinds[i]["type"] == "ask"]
    # qualifying questions first, then the contact detail, then lead_submitted, then a person
    assert [a["check"] for a in asks] == ["text", "text", "text", "email"]
    assert [kinds[i]["type"] for i in order[-3:]] == ["log_event", "send_message", "handoff"]
    assert kinds[order[-3]]["data"]["event"] == "lead_submitted"
    document["nodes"][0]["data"]["label"] = "changed"  # a copy: the template stays as it was
    assert LEAD_GENERATION.document()["nodes"][0]["data"] == {}
