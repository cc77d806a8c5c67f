"""The OpenAPI schema and its docs, and schemathesis over the schema."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.tenants.factories import TenantFactory, api_key
from tests.tenants.routes import world

pytestmark = pytest.mark.django_db


def test_schema_describes_the_api(client: Client) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "/api/v1/tenants/{tenant_slug}/members/" in paths
    assert "/api/v1/tenants/{tenant_slug}/api-keys/" in paths
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    created = paths["/api/v1/tenants/{tenant_slug}/api-keys/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/ApiKeyCreated")


def _schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema: dict[str, Any] = response.json()
    return schema


def test_who_changed_a_row_may_be_nobody(client: Client) -> None:
    # A flow written by an API key or a template, a Page connected by a login that was
    # removed, an open handoff: these are null, and the schema says so.
    components = _schema(client)["components"]["schemas"]
    assert components["FlowSummary"]["properties"]["updated_by"]["nullable"] is True
    assert components["Flow"]["properties"]["updated_by"]["nullable"] is True
    assert components["ConnectedPage"]["properties"]["connected_by"]["nullable"] is True
    assert components["Handoff"]["properties"]["resolved_at"]["nullable"] is True
    assert components["Handoff"]["properties"]["resolved_by"]["nullable"] is True


def test_available_pages_are_a_plain_list_as_served(client: Client) -> None:
    operation = _schema(client)["paths"]["/api/v1/tenants/{tenant_slug}/pages/available/"]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"type": "array", "items": {"$ref": "#/components/schemas/PageCandidate"}}


def test_every_error_status_of_every_operation_has_the_error_shape(client: Client) -> None:
    missing = [
        (path, method, status)
        for path, operations in _schema(client)["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
        and response.get("content", {}).get("application/json", {}).get("schema")
        != {"$ref": "#/components/schemas/Error"}
    ]
    assert missing == []


def test_schema_generates_without_warnings() -> None:
    # A warning (an unnamed enum collision, a view spectacular cannot read) is a schema that
    # integrators get with guessed names; `--fail-on-warn` turns each into an error.
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=StringIO())


def test_docs_page_serves_its_assets_locally(client: Client) -> None:
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    asset.close()
    assert asset.status_code == 200


# Schemathesis 4 over the whole schema, as an integrator with an API key sees the API: every
# operation, in the examples, coverage (boundary values, missing and wrong parameters, methods
# the schema does not list) and fuzzing phases, judged by the five checks below and no others.
# Seeded, with a bounded number of examples and no example database, so two runs send the same
# requests and the test stays near a minute.
SCHEMATHESIS_SEED = 20261204
SCHEMATHESIS_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "unsupported_method",
]
SCHEMATHESIS_CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SCHEMATHESIS_SEED,
        # The workspace the API key belongs to, so routes reach real rows and role checks.
        "parameters": {"tenant_slug": "fuzz"},
        "checks": {
            "enabled": False,
            **{name: {"enabled": True} for name in SCHEMATHESIS_CHECKS},
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "generation": {"max-examples": 10, "database": "none"},
    }
)
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", get_wsgi_application(), config=SCHEMATHESIS_CONFIG
)


@pytest.fixture
def bearer(db: None) -> Iterator[dict[str, str]]:
    tenant = TenantFactory.create(slug="fuzz")
    world(tenant)
    # Django's test client keeps the test's database connection open across requests; calling
    # the WSGI app directly must too, or the request-finished signal closes it mid-test.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Bearer {api_key(tenant)}"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any], bearer: dict[str, str]) -> None:
    case.call_and_validate(headers=bearer)


def test_the_flow_stats_route_and_its_fields_are_in_the_schema(client: Client) -> None:
    schema = _schema(client)
    operation = schema["paths"]["/api/v1/tenants/{tenant_slug}/flows/{id}/stats/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "version"}
    components = schema["components"]["schemas"]
    assert set(components["FlowStats"]["properties"]) == {
        "flow",
        "version",
        "versions",
        "started",
        "nodes",
        "from",
        "to",
    }
    assert set(components["NodeStats"]["properties"]) == {
        "node_id",
        "entered",
        "exited",
        "ended",
        "handed_off",
        "exits",
        "events",
    }
    assert set(components["NodeEvents"]["properties"]) == {
        "delivered",
        "failed",
        "not_sent",
        "pending",
        "last_error",
        "last_error_at",
    }


def test_a_logged_events_flow_source_and_ad_are_in_the_schema(client: Client) -> None:
    properties = _schema(client)["components"]["schemas"]["LoggedEvent"]["properties"]
    assert {"source_flow_version", "source_node", "ad_id"} <= set(properties)
    assert properties["source_flow_version"]["nullable"] is True
