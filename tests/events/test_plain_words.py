"""Plain words where a marketer reads (issue #16, item 4): the delivery log, an event and the
events overview name events by the catalog's words with the key in small print, say
"Messenger user" with the PSID small, show value and currency, keep the raw JSON behind
"Show what was sent", and never add amounts in different currencies together."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from events import stats
from events.models import EventStatus, LoggedEvent
from tenants.models import ConnectedPage, Tenant
from tenants.permissions import Role
from tests.events.factories import DeliveryAttemptFactory, LoggedEventFactory
from tests.tenants.factories import ConnectedPageFactory, member

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)


@pytest.fixture
def shop(tenant: Tenant) -> ConnectedPage:
    return ConnectedPageFactory.create(tenant=tenant, name="Acme Shop")


@pytest.fixture
def visitor(tenant: Tenant) -> Client:
    client = Client()
    client.force_login(member(tenant, Role.VIEWER).user)
    return client


def test_value_by_currency_keeps_currencies_apart_and_says_what_was_delivered(
    tenant: Tenant, shop: ConnectedPage
) -> None:
    def event(
        value: str, currency: str, status: str = EventStatus.DELIVERED, **fields: Any
    ) -> LoggedEvent:
        return LoggedEventFactory.create(
            page=shop,
            value=Decimal(value),
            currency=currency,
            status=status,
            created_at=NOW - timedelta(hours=2),
            **fields,
        )

    event("10.50", "EUR")
    event("4.50", "EUR", EventStatus.FAILED)
    event("100", "USD")
    event("7", "USD", test=True, status=EventStatus.TEST)  # a test event: left out
    LoggedEventFactory.create(
        page=shop, value=None, currency="", created_at=NOW - timedelta(hours=1)
    )
    LoggedEventFactory.create(
        value=Decimal(999), currency="USD", created_at=NOW
    )  # another workspace
    LoggedEventFactory.create(
        page=shop, value=Decimal(5), currency="EUR", created_at=NOW - timedelta(days=9)
    )

    totals = stats.value_by_currency(tenant=tenant, period=stats.PERIODS["7d"], now=NOW)

    assert totals == [
        stats.CurrencyTotal("USD", Decimal(100), 1, Decimal(100)),
        stats.CurrencyTotal("EUR", Decimal("15.00"), 2, Decimal("10.50")),
    ]


def test_the_overview_shows_value_by_currency_and_events_in_plain_words(
    tenant: Tenant, shop: ConnectedPage, visitor: Client
) -> None:
    LoggedEventFactory.create(page=shop, event="purchase", value=Decimal("12.5"), currency="EUR")
    LoggedEventFactory.create(page=shop, event="lead_submitted", value=None, currency="")
    html = visitor.get(f"/t/{tenant.slug}/events/overview/").content.decode()
    value = html.split('id="value-title">Value logged</h2>', 1)[1].split("</section>", 1)[0]
    assert "<strong>12.5 EUR</strong>" in value
    by_event = html.split("<h2>By event</h2>", 1)[1]
    assert re.search(r">Purchase</a>", by_event)
    assert re.search(r">Lead submitted</a>", by_event)
    assert "<code>lead_submitted</code>" not in html


def test_the_log_names_events_in_plain_words_with_value_and_the_psid_small(
    tenant: Tenant, shop: ConnectedPage, visitor: Client
) -> None:
    LoggedEventFactory.create(
        page=shop, event="purchase", value=Decimal("57.23"), currency="USD", psid="6100000000000042"
    )
    LoggedEventFactory.create(page=shop, event="table_booked", value=None, currency="")
    html = visitor.get(f"/t/{tenant.slug}/events/").content.decode()
    assert '<th>Messenger user <small class="technical">PSID</small></th>' in html
    assert "<strong>Purchase</strong>" in html
    assert '<small class="technical">purchase</small>' in html
    assert "<strong>table_booked</strong>" in html
    assert '<small class="technical">custom event</small>' in html
    assert ">57.23 USD</td>" in html


def test_an_event_reads_as_a_summary_with_the_raw_request_behind_a_click(
    tenant: Tenant, shop: ConnectedPage, visitor: Client
) -> None:
    event = LoggedEventFactory.create(
        page=shop,
        event="purchase",
        value=Decimal("57.23"),
        currency="USD",
        status=EventStatus.DELIVERED,
        params={"content_name": "Sourdough", "contents": [{"id": "sku-1", "quantity": 2}]},
    )
    DeliveryAttemptFactory.create(page=shop, events=[event])
    html = visitor.get(f"/t/{tenant.slug}/events/{event.pk}/").content.decode()
    assert "<h1>Purchase <span" in html
    assert "57.23 USD · from a Messenger user of Acme Shop" in html
    assert "<dt>content_name</dt><dd>Sourdough</dd>" in html
    assert (
        "<dt>contents</dt><dd>[{&quot;id&quot;: &quot;sku-1&quot;, &quot;quantity&quot;: 2}]</dd>"
        in html
    )
    assert "<details><summary>Show what was sent" in html
    assert "<details><summary>Show Facebook's answer</summary>" in html
    assert "Logging target" not in html
