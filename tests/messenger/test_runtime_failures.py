"""A stored delivery that fails to parse or route ends, with its error kept, and blocks nothing."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from django.conf import settings
from django.test import Client

from flows.models import Conversation, Flow, TriggerKind
from messenger import runtime
from messenger.models import WebhookDelivery
from tenants.api.parsers import MAX_JSON_DEPTH
from tenants.models import ConnectedPage, Tenant
from tests.flows.factories import published_flow
from tests.messenger.runtime_support import (
    InlineWorker,
    encode,
    entry,
    envelope,
    text,
)
from tests.sandbox_fixtures import ADA_PAGE as PAGE
from tests.tenants.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runtime_redis")]

POISONED_PSID = "6100000000000666"
TOKEN = "EAAB" + "x" * 40


@pytest.fixture(autouse=True)
def default_flow(tenant: Tenant, ada_page: ConnectedPage) -> Flow:
    """Every conversation of the Page has a flow to run."""
    return published_flow(
        tenant, page=ada_page, trigger_kind=TriggerKind.DEFAULT, trigger_keywords=[]
    )


@pytest.fixture
def poisoned_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every turn of POISONED_PSID raises, with a token in its message (as a client error may)."""
    handle = runtime._handle

    def failing(
        page: ConnectedPage, item: Any, *, delivery_id: int, sends: list[Conversation]
    ) -> object:
        if item.psid == POISONED_PSID:
            raise RuntimeError(f"Graph said no to access_token={TOKEN}")
        return handle(page, item, delivery_id=delivery_id, sends=sends)

    monkeypatch.setattr(runtime, "_handle", failing)


def test_a_deeply_nested_signed_delivery_ends_at_once_with_the_reason(
    client: Client, worker: InlineWorker, ada_page: ConnectedPage
) -> None:
    body = b'{"object": "page", "entry": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    response = worker.post(client, body)
    worker.drain()

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.processed_at is not None
    assert delivery.attempts == 1
    assert f"more than {MAX_JSON_DEPTH} levels deep" in delivery.error
    assert worker.queued == []


def test_a_failing_turn_retries_with_back_off_and_is_given_up_with_its_error(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    ada_page: ConnectedPage,
    poisoned_turn: None,
) -> None:
    payload = envelope(entry(PAGE, text(PAGE, POISONED_PSID, "hi"), text(PAGE, "61001", "hello")))

    worker.deliver(client, payload)

    delivery = WebhookDelivery.objects.get()
    assert delivery.processed_at is not None
    assert delivery.attempts == runtime.MAX_DELIVERY_ATTEMPTS
    assert delivery.error == (
        f"Gave up after {runtime.MAX_DELIVERY_ATTEMPTS} attempts. "
        "Last error: RuntimeError: Graph said no to access_token=[redacted]"
    )
    assert TOKEN not in delivery.error
    retries = [countdown for name, _, countdown in worker.ran if countdown]
    assert len(retries) == runtime.MAX_DELIVERY_ATTEMPTS - 1
    assert retries[:4] == [2, 4, 8, 16]
    assert max(retries) == settings.CELERY_MAX_COUNTDOWN_SECONDS
    # The other person's turn ran once, on the first attempt.
    assert list(Conversation.objects.values_list("psid", flat=True)) == ["61001"]


def test_the_error_is_recorded_while_the_delivery_retries(
    tenant: Tenant, ada_page: ConnectedPage, worker: InlineWorker, poisoned_turn: None
) -> None:
    delivery = WebhookDelivery.objects.create(
        body=encode(envelope(entry(PAGE, text(PAGE, POISONED_PSID))))
    )

    with worker.capture(execute=True):
        report = runtime.delivery_process(delivery_id=delivery.pk)

    assert report.failed == 1
    delivery.refresh_from_db()
    assert delivery.processed_at is None
    assert delivery.error == "RuntimeError: Graph said no to access_token=[redacted]"
    assert worker.queued == [("flows.tasks.process_delivery", (delivery.pk,), 2)]


def test_a_poisoned_delivery_does_not_hold_up_the_next_one(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    ada_page: ConnectedPage,
    poisoned_turn: None,
) -> None:
    worker.post(client, encode(envelope(entry(PAGE, text(PAGE, POISONED_PSID)))))
    worker.post(client, encode(envelope(entry(PAGE, text(PAGE, "61002")))))

    worker.drain(max_runs=2)  # the first run of each

    poisoned, healthy = WebhookDelivery.objects.order_by("pk")
    assert healthy.processed_at is not None
    assert healthy.error == ""
    assert poisoned.processed_at is None
    assert Conversation.objects.get().psid == "61002"


def test_a_failure_outside_any_turn_is_bounded_too(
    tenant: Tenant, ada_page: ConnectedPage, worker: InlineWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(page_id: str) -> None:
        raise LookupError("routing broke")

    monkeypatch.setattr(runtime, "_route_page", broken)
    delivery = WebhookDelivery.objects.create(body=encode(envelope(entry(PAGE, text(PAGE)))))

    for _ in range(runtime.MAX_DELIVERY_ATTEMPTS):
        with worker.capture(execute=True):
            runtime.delivery_process(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.processed_at is not None
    assert delivery.error.endswith("Last error: LookupError: routing broke")
    # Given up: neither the task nor the sweep runs it again.
    assert runtime.delivery_process(delivery_id=delivery.pk).ran == 0
    assert runtime.runtime_sweep() == 0


def test_admins_see_failed_deliveries_and_their_errors(
    client: Client, tenant: Tenant, ada_page: ConnectedPage, poisoned_turn: None
) -> None:
    failed = WebhookDelivery.objects.create(
        body=b"not json", processed_at="2026-01-02T03:04:05Z", error="RuntimeError: boom"
    )
    WebhookDelivery.objects.create(body=b"{}", processed_at="2026-01-02T03:04:05Z")
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))

    page_html = client.get("/admin/messenger/webhookdelivery/?outcome=failed").content.decode()

    assert "RuntimeError: boom" in page_html
    assert "1 webhook delivery" in page_html
    detail = client.get(f"/admin/messenger/webhookdelivery/{failed.pk}/change/")
    assert detail.status_code == 200
    assert "not json" in detail.content.decode()
