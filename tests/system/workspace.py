"""A workspace for the system tests, with Pages connected through a Facebook Login, and the
events the tests log through the integrator API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count
from rest_framework.test import APIClient

from events.models import LoggedEvent
from tenants import services
from tenants.models import ConnectedPage, Membership, Tenant
from tenants.pipeline import discover_pages
from tests.sandbox_fixtures import ADA, GraphSandbox
from tests.system.harness import Cluster, wait_for

# Ada's Pages in graph_api/sandbox/seed.json (every task granted).
PAGE_A = "300000000000001"
PAGE_B = "300000000000002"


class _Session:
    """The bit of social-auth's strategy that tenants.pipeline.discover_pages uses."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def session_set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def session_get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@dataclass
class Workspace:
    """A tenant, its owner, an API key, and the test's view of its events."""

    tenant: Tenant
    owner: Membership
    sandbox: GraphSandbox
    client: APIClient
    admin: APIClient
    pages: dict[str, ConnectedPage] = field(default_factory=dict)

    def facebook_login(self, user_id: str = ADA) -> dict[str, Any]:
        """Log in with Facebook as a sandbox test user, as the login pipeline does: it records
        the Pages found and puts back to active every Page this login renewed."""
        token = self.sandbox.login(user_id)
        session = _Session()
        discover_pages(
            backend=None, strategy=session, user=self.owner.user, response={"access_token": token}
        )
        return session.data

    def connect(self, page_id: str, transport: str) -> ConnectedPage:
        page = services.page_connect(
            tenant=self.tenant,
            actor=services.Actor(user=self.owner.user),
            page_id=page_id,
            transport=transport,
        )
        self.pages[page_id] = page
        return page

    @property
    def events_url(self) -> str:
        return f"/api/v1/tenants/{self.tenant.slug}/events/"

    def post(self, body: Mapping[str, Any], **headers: Any) -> Any:
        response = self.client.post(self.events_url, body, format="json", **headers)
        assert response.status_code == 202, response.content
        return response.json()

    def log(self, page_id: str, psid: str, events: Sequence[Mapping[str, Any]]) -> list[int]:
        """POST events for one Messenger user; returns their ids."""
        return event_ids(self.post({"page_id": page_id, "psid": psid, "events": list(events)}))

    def log_batch(
        self, page_id: str, batch: Mapping[str, Sequence[Mapping[str, Any]]]
    ) -> list[int]:
        """POST events for several Messenger users ({psid: events}); returns their ids."""
        body = {
            "page_id": page_id,
            "batch": [{"psid": psid, "events": list(events)} for psid, events in batch.items()],
        }
        return event_ids(self.post(body))

    def replay(self, ids: Sequence[int]) -> int:
        """POST events/replay/ as the workspace's owner (replaying is for admins)."""
        response = self.admin.post(f"{self.events_url}replay/", {"ids": list(ids)}, format="json")
        assert response.status_code == 200, response.content
        return int(response.json()["replayed"])

    def counts(self) -> dict[str, int]:
        rows = LoggedEvent.objects.filter(tenant=self.tenant).values("status")
        return {row["status"]: row["n"] for row in rows.annotate(n=Count("id")).order_by()}

    def wait_until_all(
        self, status: str, total: int, *, timeout: float, cluster: Cluster | None = None
    ) -> None:
        """Poll until ``total`` events of the workspace have ``status``."""
        wait_for(
            lambda: self.counts().get(status, 0) == total,
            timeout=timeout,
            interval=0.2,
            what=f"{total} events {status}",
            on_timeout=lambda: f"counts: {self.counts()}\n{cluster.logs() if cluster else ''}",
        )


def event_ids(answer: Any) -> list[int]:
    """The ids in a 202 answer of POST events/."""
    return [int(event["id"]) for event in answer["events"]]


def purchase(ref: str, value: str = "12.50", currency: str = "USD") -> dict[str, Any]:
    """A purchase event carrying a unique ``ref`` parameter, to find it at the sandbox."""
    return {
        "event": "purchase",
        "value": float(Decimal(value)),
        "currency": currency,
        "params": {"ref": ref},
    }


def lead(ref: str) -> dict[str, Any]:
    return {"event": "lead_submitted", "params": {"ref": ref}}
