"""events.services: validation first, idempotency, blocked Pages, test events, enqueue on commit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from events import bulk, delivery, services
from events.exceptions import InvalidEvents, NoEvents, TooManyEvents
from events.models import EventSource, EventStatus, LoggedEvent
from events.services import EventInput, PsidEvents
from tenants.exceptions import NotFound, PermissionDenied
from tenants.models import ConnectedPage, PageStatus, Tenant, Transport
from tenants.permissions import Role
from tenants.services import Actor
from tests.events.factories import LoggedEventFactory
from tests.tenants.factories import ConnectedPageFactory, TenantFactory, member

pytestmark = pytest.mark.django_db

PSID = "6543219876543210"


def _log(capi_page: ConnectedPage, events: list[Any], **kwargs: Any) -> list[LoggedEvent]:
    return services.log_events(
        tenant=capi_page.tenant,
        page=capi_page,
        psid=kwargs.pop("psid", PSID),
        events=events,
        source=kwargs.pop("source", EventSource.API),
        **kwargs,
    )


def _scheduled(callbacks: list[Callable[..., object]]) -> list[tuple[int, int]]:
    """The (tenant_id, page_id) pairs the captured on-commit callbacks would enqueue."""
    return [
        (callback.keywords["tenant_id"], callback.keywords["page_id"])
        for callback in callbacks
        if isinstance(callback, functools.partial) and callback.func is delivery._send
    ]


def test_writes_the_events_and_enqueues_delivery_on_commit(
    capi_page: ConnectedPage, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        logged = _log(
            capi_page,
            [
                EventInput(event="Purchase", value=Decimal("57.23"), currency="USD"),
                EventInput(event="lead_submitted", params={"order_id": "A-1"}),
            ],
            idempotency_key="req-1",
        )

    assert [(e.event, e.value, e.currency, e.status) for e in logged] == [
        ("purchase", Decimal("57.23"), "USD", EventStatus.PENDING),
        ("lead_submitted", None, "", EventStatus.PENDING),
    ]
    assert [e.idempotency_index for e in logged] == [0, 1]
    assert LoggedEvent.objects.filter(tenant=capi_page.tenant).count() == 2
    assert _scheduled(callbacks) == [(capi_page.tenant_id, capi_page.pk)]


def test_nothing_is_enqueued_when_the_transaction_rolls_back(
    capi_page: ConnectedPage, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    def flow_step_that_fails() -> None:
        with transaction.atomic():
            _log(capi_page, [EventInput(event="purchase", value=Decimal(1), currency="USD")])
            raise RuntimeError("the flow step failed")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        flow_step_that_fails()

    assert callbacks == []
    assert LoggedEvent.objects.count() == 0


def test_the_same_idempotency_key_returns_the_first_events_and_writes_nothing(
    capi_page: ConnectedPage, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    first = _log(
        capi_page,
        [EventInput(event="purchase", value=Decimal(5), currency="USD")],
        idempotency_key="k",
    )

    with django_capture_on_commit_callbacks() as callbacks:
        again = _log(
            capi_page,
            [EventInput(event="lead_submitted"), EventInput(event="add_to_cart")],
            idempotency_key="k",
        )

    assert [e.pk for e in again] == [e.pk for e in first]
    assert LoggedEvent.objects.count() == 1
    assert callbacks == []


def test_idempotency_keys_are_per_tenant(capi_page: ConnectedPage) -> None:
    other_page = ConnectedPageFactory.create(tenant=TenantFactory.create())
    mine = _log(capi_page, [EventInput(event="lead_submitted")], idempotency_key="shared")
    theirs = _log(other_page, [EventInput(event="lead_submitted")], idempotency_key="shared")

    assert mine[0].pk != theirs[0].pk
    assert LoggedEvent.objects.count() == 2


def test_a_racing_request_with_the_same_key_gets_the_winners_events(
    capi_page: ConnectedPage,
) -> None:
    winner = _log(capi_page, [EventInput(event="lead_submitted")], idempotency_key="race")
    # The loser checked before the winner committed: its insert meets the unique constraint.
    with mock.patch.object(services, "_logged_with", side_effect=[[], list(winner)]):
        loser = _log(capi_page, [EventInput(event="lead_submitted")], idempotency_key="race")

    assert [e.pk for e in loser] == [winner[0].pk]
    assert LoggedEvent.objects.count() == 1


def test_without_an_idempotency_key_a_constraint_error_is_not_swallowed(
    capi_page: ConnectedPage,
) -> None:
    with (
        mock.patch.object(bulk, "insert_rows", side_effect=IntegrityError("x")),
        pytest.raises(IntegrityError),
    ):
        _log(capi_page, [EventInput(event="lead_submitted")])


@pytest.mark.parametrize(
    ("event", "field", "code"),
    [
        (EventInput(event="my custom thing!"), "event", "invalid_name"),
        (EventInput(event="fb_messenger_bot_stopped"), "event", "logged_by_facebook"),
        (EventInput(event="purchase", value=Decimal(3)), "currency", "currency_required"),
        (
            EventInput(event="purchase", value=Decimal(3), currency="XXQ"),
            "currency",
            "invalid_currency",
        ),
        (
            EventInput(event="purchase", event_time=timezone.now() - timedelta(days=8)),
            "event_time",
            "too_old",
        ),
        (
            EventInput(event="purchase", event_time=timezone.now() + timedelta(hours=1)),
            "event_time",
            "in_future",
        ),
    ],
)
def test_an_invalid_event_writes_nothing_and_says_which(
    capi_page: ConnectedPage,
    event: EventInput,
    field: str,
    code: str,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    good = EventInput(event="lead_submitted")
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(InvalidEvents) as raised:
        _log(capi_page, [good, event])

    problems = raised.value.details["events"]
    assert list(problems) == ["1"]
    assert (problems["1"][0]["field"], problems["1"][0]["code"]) == (field, code)
    assert LoggedEvent.objects.count() == 0
    assert callbacks == []


def test_problems_are_indexed_across_the_whole_batch(capi_page: ConnectedPage) -> None:
    batch = [
        PsidEvents(psid=PSID, events=[EventInput(event="lead_submitted")]),
        PsidEvents(psid="not-a-psid", events=[EventInput(event="lead_submitted")]),
        PsidEvents(psid="42", events=[EventInput(event="x"), EventInput(event="bad name!")]),
    ]
    with pytest.raises(InvalidEvents) as raised:
        services.log_event_batch(tenant=capi_page.tenant, page=capi_page, batch=batch, source="api")

    problems = raised.value.details["events"]
    # "x" is a custom name: on the Conversions API it is kept, not refused.
    assert sorted(problems) == ["1", "3"]
    assert problems["1"][0]["code"] == "invalid_psid"
    assert problems["3"][0]["code"] == "invalid_name"
    assert LoggedEvent.objects.count() == 0


def test_custom_events_are_fine_on_page_activities(tenant: Tenant) -> None:
    capi_page = ConnectedPageFactory.create(tenant=tenant, transport=Transport.PAGE_ACTIVITIES)

    logged = _log(capi_page, [EventInput(event="Booked a table", params={"party": 4})])

    assert [(e.event, e.params) for e in logged] == [("Booked a table", {"party": 4})]


def test_more_than_1000_events_are_refused(capi_page: ConnectedPage) -> None:
    with pytest.raises(TooManyEvents):
        _log(capi_page, [EventInput(event="lead_submitted")] * 1001)
    with pytest.raises(NoEvents):
        _log(capi_page, [])
    assert LoggedEvent.objects.count() == 0


def test_another_tenants_page_is_not_found(capi_page: ConnectedPage) -> None:
    with pytest.raises(NotFound):
        services.log_events(
            tenant=TenantFactory.create(),
            page=capi_page,
            psid=PSID,
            events=[EventInput(event="purchase")],
            source="api",
        )


@pytest.mark.parametrize(
    ("status", "transport", "country", "reason"),
    [
        (PageStatus.NEEDS_REAUTH, Transport.CONVERSIONS_API, "US", "access token"),
        (PageStatus.MISSING_PERMISSION, Transport.CONVERSIONS_API, "US", "permission"),
        (PageStatus.DISCONNECTED, Transport.CONVERSIONS_API, "US", "disconnected"),
        (PageStatus.ACTIVE, Transport.PAGE_ACTIVITIES, "DE", "Europe or Japan"),
    ],
)
def test_a_page_that_cannot_deliver_holds_its_events_blocked_with_the_reason(
    status: PageStatus,
    transport: Transport,
    country: str,
    reason: str,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    capi_page = ConnectedPageFactory.create(
        tenant=TenantFactory.create(country=country),
        status=status,
        transport=transport,
        last_error="",
    )
    with django_capture_on_commit_callbacks() as callbacks:
        (logged,) = _log(capi_page, [EventInput(event="lead_submitted")])

    assert logged.status == EventStatus.BLOCKED
    assert reason in logged.last_error
    assert callbacks == []


def test_test_events_are_stored_but_not_sent(
    capi_page: ConnectedPage, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        (logged,) = _log(
            capi_page, [EventInput(event="lead_submitted")], test=True, source="test_chat"
        )

    assert (logged.test, logged.status) == (True, EventStatus.TEST)
    assert logged.last_error == (
        "Test event: stored in Pagepulse and not sent to Facebook. To send test events too, "
        "turn on “Send test events to Facebook” in the workspace's Settings."
    )
    assert callbacks == []


@override_settings(EVENTS_DELIVER_TEST_EVENTS=True)
def test_test_events_are_sent_when_test_delivery_is_on(
    capi_page: ConnectedPage, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        _log(capi_page, [EventInput(event="lead_submitted")], test=True, source="test_chat")

    assert _scheduled(callbacks) == [(capi_page.tenant_id, capi_page.pk)]


@pytest.mark.usefixtures("runtime_redis")
def test_the_enqueue_sends_one_task_per_page_until_it_starts(
    capi_page: ConnectedPage, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with mock.patch("events.tasks.deliver_page.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            _log(capi_page, [EventInput(event="lead_submitted")])
        with django_capture_on_commit_callbacks(execute=True):
            _log(capi_page, [EventInput(event="lead_submitted")])

    apply_async.assert_called_once_with(args=(capi_page.tenant_id, capi_page.pk))


# --- Replay -------------------------------------------------------------------------------------


@pytest.fixture
def admin(tenant: Tenant) -> Actor:
    return Actor(user=member(tenant, Role.ADMIN).user)


def test_replay_sends_dead_failed_and_blocked_events_again_once(
    capi_page: ConnectedPage,
    admin: Actor,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    replayable = [
        LoggedEventFactory.create(page=capi_page, status=status, attempts=3, last_error="no")
        for status in (EventStatus.DEAD, EventStatus.FAILED, EventStatus.BLOCKED)
    ]
    delivered = LoggedEventFactory.create(page=capi_page, status=EventStatus.DELIVERED)
    ids = [e.pk for e in [*replayable, delivered]]

    with django_capture_on_commit_callbacks() as callbacks:
        first = services.events_replay(tenant=capi_page.tenant, actor=admin, event_ids=ids)
    second = services.events_replay(tenant=capi_page.tenant, actor=admin, event_ids=ids)

    assert (first, second) == (3, 0)
    rows = {e.pk: e for e in LoggedEvent.objects.all()}
    assert [
        (rows[e.pk].status, rows[e.pk].attempts, rows[e.pk].last_error) for e in replayable
    ] == [(EventStatus.PENDING, 0, "")] * 3
    assert rows[delivered.pk].status == EventStatus.DELIVERED
    assert _scheduled(callbacks) == [(capi_page.tenant_id, capi_page.pk)]


def test_replay_by_filter_touches_only_this_tenants_rows(
    capi_page: ConnectedPage, admin: Actor
) -> None:
    mine = LoggedEventFactory.create(page=capi_page, status=EventStatus.FAILED)
    theirs = LoggedEventFactory.create(status=EventStatus.FAILED)

    count = services.events_replay(
        tenant=capi_page.tenant, actor=admin, queryset=LoggedEvent.objects.filter(status="failed")
    )

    assert count == 1
    assert LoggedEvent.objects.get(pk=mine.pk).status == EventStatus.PENDING
    assert LoggedEvent.objects.get(pk=theirs.pk).status == EventStatus.FAILED


def test_replay_needs_the_replay_permission(capi_page: ConnectedPage) -> None:
    event = LoggedEventFactory.create(page=capi_page, status=EventStatus.FAILED)
    editor = Actor(user=member(capi_page.tenant, Role.EDITOR).user)

    with pytest.raises(PermissionDenied):
        services.events_replay(tenant=capi_page.tenant, actor=editor, event_ids=[event.pk])
    assert LoggedEvent.objects.get(pk=event.pk).status == EventStatus.FAILED


def test_a_workspace_that_delivers_test_events_gets_them_sent(
    capi_page: ConnectedPage, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    capi_page.tenant.deliver_test_events = True
    capi_page.tenant.save(update_fields=["deliver_test_events"])
    with django_capture_on_commit_callbacks() as callbacks:
        (logged,) = _log(
            capi_page, [EventInput(event="lead_submitted")], test=True, source="test_chat"
        )

    assert _scheduled(callbacks) == [(capi_page.tenant_id, capi_page.pk)]
    # ... and its worker and the sweep take them, while another workspace's stay put.
    other = ConnectedPageFactory.create()
    LoggedEventFactory.create(page=other, test=True)
    assert [e.pk for e in delivery.claim(capi_page, limit=10).events] == [logged.pk]
    assert delivery.claim(other, limit=10).events == []
