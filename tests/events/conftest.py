from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from events.models import LoggedEvent
from tenants.models import ConnectedPage, Tenant, Transport
from tests.tenants.factories import ConnectedPageFactory, api_key


@pytest.fixture
def capi_page(tenant: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(
        tenant=tenant, page_id="104729384756102", transport=Transport.CONVERSIONS_API
    )


@pytest.fixture
def key(tenant: Tenant) -> str:
    return api_key(tenant)


@pytest.fixture
def api(client_for: Callable[..., APIClient], key: str) -> APIClient:
    return client_for(key=key)


@pytest.fixture
def no_deferred_event_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test whose code reads a field of a LoggedEvent it did not load: delivery loads a
    claim with ``delivery.CLAIMED_FIELDS`` only, and each such read is a query per event."""
    original = LoggedEvent.refresh_from_db

    def refresh_from_db(self: LoggedEvent, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("fields"):
            raise AssertionError(f"read {kwargs['fields']} of {self!r}, which was not loaded")
        original(self, *args, **kwargs)

    monkeypatch.setattr(LoggedEvent, "refresh_from_db", refresh_from_db)
