"""GET /api/v1/event-catalog: who may read it, its shape, the transport filter and caching."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from events import catalog
from tenants.models import Tenant
from tests.tenants.factories import api_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/event-catalog"

PURCHASE_ON_PAGE_ACTIVITIES = {
    "key": "purchase",
    "label": "Purchase",
    "category": "Shopping",
    "description": "The customer bought something. Set the value to the amount paid.",
    "names": {"page_activities": "fb_mobile_purchase", "conversions_api": "Purchase"},
    "name": "fb_mobile_purchase",
    "params": [
        {
            "key": "fb_num_items",
            "label": "Number of items",
            "type": "integer",
            "requirement": "recommended",
            "choices": [],
            "description": "How many items are in the cart or order.",
            "transports": ["page_activities"],
        },
        {
            "key": "fb_content_type",
            "label": "Kind of item",
            "type": "string",
            "requirement": "recommended",
            "choices": ["product", "product_group"],
            "description": (
                "product for one item, product_group for an item that comes in variants "
                "(sizes, colours)."
            ),
            "transports": ["page_activities"],
        },
        {
            "key": "fb_content_id",
            "label": "Item ID",
            "type": "string",
            "requirement": "recommended",
            "choices": [],
            "description": "Your ID for the item, such as a SKU or an EAN barcode number.",
            "transports": ["page_activities"],
        },
        {
            "key": "fb_content",
            "label": "Items (JSON list)",
            "type": "json",
            "requirement": "recommended",
            "choices": [],
            "description": (
                "Several items at once, as a JSON list of IDs and quantities, e.g. "
                '[{"id": "1234", "quantity": 2}]. Use it instead of Item ID when there is more '
                "than one."
            ),
            "transports": ["page_activities"],
        },
    ],
    "takes_value": True,
    "takes_currency": True,
}


def _brief(transport: dict[str, Any]) -> tuple[Any, ...]:
    return (
        transport["key"],
        transport["custom_events_allowed"],
        transport["custom_events"],
        transport["status"]["state"],
    )


def test_the_whole_catalog(viewer_client: APIClient) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get(URL)
    assert response.status_code == 200
    assert len(queries) <= 2  # the session and its user; the catalog itself is not in the DB
    body = response.json()
    assert body["version"] == catalog.catalog_etag()
    assert body["transport"] is None
    assert [_brief(t) for t in body["transports"]] == [
        ("page_activities", True, "delivered", "retired"),
        ("conversions_api", False, "kept", "active"),
    ]
    assert body["categories"] == list(catalog.categories())
    assert [e["key"] for e in body["events"]] == [e.key for e in catalog.all_events()]
    assert body["events"][0]["key"] == "lead_submitted"
    assert all(e["name"] is None for e in body["events"])


def test_narrowed_to_page_activities_with_the_exact_shape_of_one_event(
    viewer_client: APIClient,
) -> None:
    body = viewer_client.get(URL, {"transport": "page_activities"}).json()
    assert body["transport"] == "page_activities"
    assert [_brief(t) for t in body["transports"]] == [
        ("page_activities", True, "delivered", "retired")
    ]
    assert "Orders" not in body["categories"]
    assert [e["key"] for e in body["events"]] == [
        e.key for e in catalog.for_transport("page_activities")
    ]
    [purchase] = [e for e in body["events"] if e["key"] == "purchase"]
    assert purchase == PURCHASE_ON_PAGE_ACTIVITIES


def test_narrowed_to_the_conversions_api(viewer_client: APIClient) -> None:
    body = viewer_client.get(URL, {"transport": "conversions_api"}).json()
    [capi] = body["transports"]
    assert _brief(capi) == ("conversions_api", False, "kept", "active")
    assert capi["custom_events_message"] == (
        "The Conversions API takes only its 14 standard events: a custom event is kept in "
        "Pagepulse (counted in the delivery log and exports) and never sent to Facebook."
    )
    assert sorted(e["name"] for e in body["events"]) == sorted(
        [
            "AddToCart",
            "CartAbandoned",
            "InitiateCheckout",
            "LeadSubmitted",
            "OrderCanceled",
            "OrderCreated",
            "OrderDelivered",
            "OrderReturned",
            "OrderShipped",
            "Purchase",
            "QualifiedLead",
            "RatingProvided",
            "ReviewProvided",
            "ViewContent",
        ]
    )
    [purchase] = [e for e in body["events"] if e["key"] == "purchase"]
    assert (purchase["name"], purchase["params"]) == ("Purchase", [])  # fb_* are App Events'


@pytest.mark.parametrize("transport", ["carrier_pigeon", "", "Page_Activities"])
def test_an_unknown_transport_is_a_400_listing_the_valid_ones(
    viewer_client: APIClient, transport: str
) -> None:
    response = viewer_client.get(URL, {"transport": transport})
    assert response.status_code == 400
    message = (
        f"Unknown transport {transport!r}: use one of page_activities, conversions_api, or "
        "leave it out for all events."
    )
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": f"The request is invalid: transport: {message}",
            "details": {"transport": [message]},
        }
    }


def test_any_workspaces_api_key_may_read_it(
    tenant: Tenant, other_tenant: Tenant, client_for: Callable[..., APIClient]
) -> None:
    for workspace in (tenant, other_tenant):
        response = client_for(key=api_key(workspace)).get(URL)
        assert response.status_code == 200
        assert len(response.json()["events"]) == len(catalog.all_events())


@pytest.mark.parametrize("headers", [{}, {"HTTP_IF_NONE_MATCH": "*"}])
def test_anonymous_requests_are_refused_with_the_error_shape(headers: dict[str, Any]) -> None:
    response = APIClient().get(URL, **headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_a_bad_key_is_refused(client_for: Callable[..., APIClient]) -> None:
    response = client_for(key="pp_deadbeef_not-a-real-key-at-all-000000").get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_caching_headers_and_304_for_the_same_etag(viewer_client: APIClient) -> None:
    first = viewer_client.get(URL)
    etag = first["ETag"]
    assert re.fullmatch(rf'"{catalog.catalog_etag()}-all-[0-9a-f]{{12}}"', etag)
    assert first["Cache-Control"] == "private, max-age=3600"
    assert first["Vary"] == "Authorization, Cookie"

    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = viewer_client.get(URL, HTTP_IF_NONE_MATCH=sent)
        assert again.status_code == 304, sent
        assert again.content == b""
        assert again["ETag"] == etag
        assert again["Cache-Control"] == "private, max-age=3600"

    assert viewer_client.get(URL, HTTP_IF_NONE_MATCH='"stale"').status_code == 200
    narrowed = viewer_client.get(URL, {"transport": "conversions_api"}, HTTP_IF_NONE_MATCH=etag)
    assert narrowed.status_code == 200  # another transport is another representation
    assert narrowed["ETag"].startswith(f'"{catalog.catalog_etag()}-conversions_api-')


def test_the_etag_changes_with_the_data(
    viewer_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    etag = viewer_client.get(URL)["ETag"]
    data = catalog.load()
    monkeypatch.setattr(catalog, "_CATALOG", data.__class__(**{**data.__dict__, "etag": "0" * 32}))
    response = viewer_client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"].startswith(f'"{"0" * 32}-all-')


def test_each_transport_says_its_status_for_the_editor(
    viewer_client: APIClient, settings: Settings
) -> None:
    # Against the sandbox (the tests' GRAPH_API_URL) page_activities is retired at Facebook
    # yet still delivered; against Facebook's real host it is not, and may not be chosen.
    sandbox = viewer_client.get(URL, {"transport": "page_activities"})
    [status] = [t["status"] for t in sandbox.json()["transports"]]
    assert (status["state"], status["delivered"], status["selectable"]) == ("retired", True, True)
    assert (status["retired_on"], status["use_instead"]) == ("2026-09-24", "conversions_api")
    assert status["message"].startswith(
        "Facebook stopped serving the Events API for Business Messaging (page_activities) on "
        "24 September 2026, when Graph API v20.0 reached its end. The Graph sandbox"
    )

    settings.GRAPH_API_URL = "https://graph.facebook.com"
    real = viewer_client.get(
        URL, {"transport": "page_activities"}, HTTP_IF_NONE_MATCH=sandbox["ETag"]
    )
    assert real.status_code == 200  # what is true changed, so the representation did
    [status] = [t["status"] for t in real.json()["transports"]]
    assert (status["state"], status["delivered"], status["selectable"]) == (
        "retired",
        False,
        False,
    )
    assert "Events of a Page on it are held in Pagepulse, not sent" in status["message"]


def test_the_schema_documents_it(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/event-catalog"]["get"]
    [transport] = operation["parameters"]
    assert transport["schema"]["enum"] == ["conversions_api", "page_activities"]
    assert set(operation["responses"]) >= {"200", "304", "400", "401"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/EventCatalog"
    )
