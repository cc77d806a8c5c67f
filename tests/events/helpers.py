"""Helpers of the events API's tests: its URL, a POST of a JSON body, a refusal's error."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rest_framework.test import APIClient

from events.models import LoggedEvent
from tenants.models import Tenant

if TYPE_CHECKING:
    from tests.client_types import APIResponse


PSID = "24571937185104"


def events_url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.slug}/events/{suffix}"


def post_events(client: APIClient, tenant: Tenant, body: Any, **headers: Any) -> APIResponse:
    return client.post(
        events_url(tenant), json.dumps(body), content_type="application/json", **headers
    )


def refused(response: APIResponse, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert LoggedEvent.objects.count() == 0
    error: dict[str, Any] = response.json()["error"]
    return error
