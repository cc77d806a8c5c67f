"""Helpers of the events API's tests: its URL, a POST of a JSON body, a refusal's error."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.test import APIClient

from events.models import LoggedEvent

PSID = "24571937185104"


def events_url(tenant, suffix: str = "") -> str:
    return f"/api/v1/tenants/{tenant.slug}/events/{suffix}"


def post_events(client: APIClient, tenant, body: Any, **headers: str):
    return client.post(
        events_url(tenant), json.dumps(body), content_type="application/json", **headers
    )


def refused(response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert LoggedEvent.objects.count() == 0
    error: dict[str, Any] = response.json()["error"]
    return error
