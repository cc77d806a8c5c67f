"""Factories for the events app's tests. (Their Redis is ``runtime_redis``, a fixture of the
whole suite: tests/flows/runtime_support.py.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from events.models import AttemptOutcome, DeliveryAttempt, EventSource, EventStatus, LoggedEvent
from tenants.models import ConnectedPage, Tenant
from tests.tenants.factories import ConnectedPageFactory


class LoggedEventFactory(factory.django.DjangoModelFactory[LoggedEvent]):
    """A pending purchase for a Messenger user of a new connected Page."""

    class Meta:
        model = LoggedEvent

    page: factory.SubFactory[LoggedEvent, ConnectedPage] = factory.SubFactory(ConnectedPageFactory)
    tenant: factory.LazyAttribute[LoggedEvent, Tenant] = factory.LazyAttribute(
        lambda event: event.page.tenant
    )
    psid: factory.Sequence[str] = factory.Sequence(lambda n: str(6_000_000_000_000_000 + n))
    event = "purchase"
    params: Any = factory.LazyFunction(dict)
    value = Decimal("57.23")
    currency = "USD"
    source = EventSource.API
    status = EventStatus.PENDING
    event_time = factory.LazyFunction(timezone.now)
    next_attempt_at = factory.LazyFunction(timezone.now)


class DeliveryAttemptFactory(factory.django.DjangoModelFactory[DeliveryAttempt]):
    """A delivered Conversions API call for one event (pass ``events=[...]``)."""

    class Meta:
        model = DeliveryAttempt
        skip_postgeneration_save = True

    page: factory.SubFactory[DeliveryAttempt, ConnectedPage] = factory.SubFactory(
        ConnectedPageFactory
    )
    tenant: factory.LazyAttribute[DeliveryAttempt, Tenant] = factory.LazyAttribute(
        lambda attempt: attempt.page.tenant
    )
    transport = "conversions_api"
    outcome = AttemptOutcome.DELIVERED
    http_status = 200
    duration_ms = 12
    request: Any = factory.LazyFunction(
        lambda: {"method": "POST", "path": "v25.0/700000000000/events", "body": {"data": []}}
    )
    response: Any = factory.LazyFunction(lambda: {"events_received": 1, "messages": []})

    @factory.post_generation
    def events(attempt: DeliveryAttempt, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            attempt.events.add(*extracted)


def delivered_event(**fields: Any) -> LoggedEvent:
    """A delivered event with the attempt that delivered it."""
    event = LoggedEventFactory.create(
        status=EventStatus.DELIVERED, attempts=1, delivered_at=timezone.now(), **fields
    )
    DeliveryAttemptFactory.create(page=event.page, tenant=event.tenant, events=[event])
    return event
