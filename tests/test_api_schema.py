"""The OpenAPI schema and its docs, and schemathesis over the schema."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from tenants.permissions import Role
from tests.tenants.factories import TenantFactory, api_key, member

pytestmark = pytest.mark.django_db


def test_schema_describes_the_api(client):
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


def test_schema_generates_without_warnings():
    # A warning (an unnamed enum collision, a view spectacular cannot read) is a schema that
    # integrators get with guessed names; `--fail-on-warn` turns each into an error.
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=StringIO())


def test_docs_page_serves_its_assets_locally(client):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    asset.close()
    assert asset.status_code == 200


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def bearer(db) -> Iterator[dict[str, str]]:
    tenant = TenantFactory(slug="fuzz")
    member(tenant, Role.OWNER)
    # Django's test client keeps the test's database connection open across requests; calling
    # the WSGI app directly must too, or the request-finished signal closes it mid-test.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Bearer {api_key(tenant)}"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, bearer):
    case.call_and_validate(headers=bearer)
