"""Factories and fixtures for the events app's tests.

Fixtures live here (not in a conftest shared with other helpers' tests); a test module uses
them by importing them: ``from tests.events.factories import delivery_redis  # noqa: F401``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import factory
import pytest
import redis
from django.utils import timezone

from events import ratelimit
from events.models import AttemptOutcome, DeliveryAttempt, EventSource, EventStatus, LoggedEvent
from tests.redis_db import empty_namespace
from tests.tenants.factories import ConnectedPageFactory


class LoggedEventFactory(factory.django.DjangoModelFactory):
    """A pending purchase for a Messenger user of a new connected Page."""

    class Meta:
        model = LoggedEvent

    page = factory.SubFactory(ConnectedPageFactory)
    tenant = factory.LazyAttribute(lambda event: event.page.tenant)
    psid = factory.Sequence(lambda n: str(6_000_000_000_000_000 + n))
    event = "purchase"
    params: Any = factory.LazyFunction(dict)
    value = Decimal("57.23")
    currency = "USD"
    source = EventSource.API
    status = EventStatus.PENDING
    event_time = factory.LazyFunction(timezone.now)
    next_attempt_at = factory.LazyFunction(timezone.now)


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    """A delivered Conversions API call for one event (pass ``events=[...]``)."""

    class Meta:
        model = DeliveryAttempt
        skip_postgeneration_save = True

    page = factory.SubFactory(ConnectedPageFactory)
    tenant = factory.LazyAttribute(lambda attempt: attempt.page.tenant)
    transport = "conversions_api"
    outcome = AttemptOutcome.DELIVERED
    http_status = 200
    duration_ms = 12
    request: Any = factory.LazyFunction(
        lambda: {"method": "POST", "path": "v25.0/700000000000/events", "body": {"data": []}}
    )
    response: Any = factory.LazyFunction(lambda: {"events_received": 1, "messages": []})

    @factory.post_generation
    def events(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.events.add(*extracted)


def delivered_event(**fields: Any) -> LoggedEvent:
    """A delivered event with the attempt that delivered it."""
    event = LoggedEventFactory(
        status=EventStatus.DELIVERED, attempts=1, delivered_at=timezone.now(), **fields
    )
    DeliveryAttemptFactory(page=event.page, tenant=event.tenant, events=[event])
    return event


@pytest.fixture
def delivery_redis() -> Iterator[redis.Redis]:
    """Real Redis: the run's namespace (tests/redis_db.py), emptied before and after the test."""
    client = ratelimit.redis_client()
    empty_namespace(client)
    yield client
    empty_namespace(client)
