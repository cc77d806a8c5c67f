"""The one-statement INSERT of the outbox (events.bulk.insert_rows) and what rests on it:
the same rows as bulk_create, every row or none, idempotency keys that write nothing twice,
and the 202's body (events.api.fast.logged_answer) equal to the serializer's."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from events import bulk, services
from events.api.fast import logged_answer
from events.api.serializers import EventsLoggedSerializer
from events.models import DeliveryAttempt, EventSource, EventStatus, LoggedEvent
from events.services import EventInput, PsidEvents
from tenants.models import ConnectedPage, Tenant
from tests.events.helpers import PSID, post_events
from tests.tenants.factories import api_key

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def rows(page: ConnectedPage, count: int, **extra: Any) -> list[LoggedEvent]:
    """New rows of every kind of value: JSON with text outside ASCII, values and none,
    times, statuses and reasons, a null api key."""
    return [
        LoggedEvent(
            tenant=page.tenant,
            page=page,
            psid=str(24571937185104 + n) if n != 7 else 'NULL "x", {y}',  # quoted in arrays
            event=("purchase", "lead_submitted", "table booked")[n % 3],
            params={"n": n, "note": "café ☕", "ratio": 0.5, "q": 'say "hi" \\ {x}, [y] NULL'}
            if n % 2
            else {},
            value=Decimal("19.990000") + n if n % 3 == 0 else None,
            currency="EUR" if n % 3 == 0 else "",
            logging_target="page",
            event_time=WHEN - timedelta(minutes=n),
            source=EventSource.API,
            source_ref="api_key:1",
            idempotency_index=n,
            test=n % 5 == 0,
            status=(EventStatus.PENDING, EventStatus.KEPT)[n % 2],
            last_error="" if n % 2 == 0 else f"kept {n}",
            next_attempt_at=WHEN,
            created_at=WHEN,
            **extra,
        )
        for n in range(count)
    ]


def stored(ids: list[int]) -> list[dict[str, Any]]:
    by_id = {row["id"]: row for row in LoggedEvent.objects.filter(pk__in=ids).values()}
    return [
        {k: v for k, v in by_id[pk].items() if k not in {"id", "updated_at", "idempotency_key"}}
        for pk in ids
    ]


@pytest.fixture
def postgresql() -> None:
    """PostgreSQL's own path (unnest, ``= ANY``, lengths refused): SQLite uses bulk_create."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's path; SQLite uses bulk_create")


@pytest.mark.usefixtures("postgresql")
def test_insert_rows_writes_what_bulk_create_writes_and_sets_the_ids_in_order(
    capi_page: ConnectedPage,
) -> None:
    ours = bulk.insert_rows(rows(capi_page, 30, idempotency_key="ours"))
    theirs = LoggedEvent.objects.bulk_create(rows(capi_page, 30, idempotency_key="theirs"))

    assert [row.idempotency_index for row in ours] == list(range(30))
    assert all(row.pk and not row._state.adding for row in ours)
    assert stored([row.pk for row in ours]) == stored([row.pk for row in theirs])
    # each id is the row with its own values: the order came back right
    for row in ours:
        assert LoggedEvent.objects.get(pk=row.pk).psid == row.psid
    assert all(row.updated_at is not None for row in LoggedEvent.objects.all())


@pytest.mark.usefixtures("postgresql")
def test_json_columns_go_as_one_document_and_a_nullable_ones_none_is_sql_null(
    capi_page: ConnectedPage,
) -> None:
    def attempts(outcome: str) -> list[DeliveryAttempt]:
        return [
            DeliveryAttempt(
                tenant=capi_page.tenant,
                page=capi_page,
                transport="conversions_api",
                outcome=outcome,
                request={"body": {"q": 'say "hi" \\ {x}, [y] NULL', "n": [n, None]}} if n else {},
                response=None if n % 2 else {"events_received": n, "note": "café ☕"},
            )
            for n in range(6)
        ]

    with CaptureQueriesContext(connection) as statements:
        ours = bulk.insert_rows(attempts("delivered"))
    theirs = DeliveryAttempt.objects.bulk_create(attempts("transient"))

    assert "jsonb_array_elements" in statements[0]["sql"]
    assert "jsonb[]" not in statements[0]["sql"]  # not an array psycopg escapes in Python

    def written(rows: list[DeliveryAttempt]) -> list[tuple[Any, ...]]:
        ids = [row.pk for row in rows]
        sql_null = set(
            DeliveryAttempt.objects.filter(pk__in=ids, response__isnull=True).values_list(
                "pk", flat=True
            )
        )
        stored = DeliveryAttempt.objects.filter(pk__in=ids).order_by("pk")
        return [(row.request, row.response, row.pk in sql_null) for row in stored]

    assert written(ours) == written(theirs)
    assert [is_null for _, _, is_null in written(ours)] == [False, True] * 3


def test_insert_rows_elsewhere_than_postgresql_is_bulk_create(
    capi_page: ConnectedPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with mock.patch.object(
        QuerySet, "bulk_create", autospec=True, side_effect=QuerySet.bulk_create
    ) as bulk_create:
        written = bulk.insert_rows(rows(capi_page, 3))
    bulk_create.assert_called_once()
    assert LoggedEvent.objects.count() == 3
    assert all(row.pk for row in written)


@pytest.mark.usefixtures("postgresql")  # SQLite does not refuse a text longer than its column
def test_a_bad_row_in_the_middle_writes_no_row(capi_page: ConnectedPage) -> None:
    batch = rows(capi_page, 500)
    batch[250].psid = "1" * 65  # longer than the column: PostgreSQL refuses the statement
    with pytest.raises(DataError), transaction.atomic():
        bulk.insert_rows(batch)
    assert LoggedEvent.objects.count() == 0


def test_a_repeated_idempotency_key_in_the_middle_writes_no_row(capi_page: ConnectedPage) -> None:
    [first] = bulk.insert_rows(rows(capi_page, 1, idempotency_key="k"))
    batch = rows(capi_page, 500, idempotency_key="k")[1:]  # indexes 1..499 are new...
    batch[300].idempotency_index = 0  # ...but one meets the first row's (tenant, key, 0)
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_rows(batch)
    assert list(LoggedEvent.objects.values_list("pk", flat=True)) == [first.pk]


def _log(page: ConnectedPage, count: int, key: str | None) -> list[LoggedEvent]:
    return services.log_event_batch(
        tenant=page.tenant,
        page=page,
        batch=[
            PsidEvents(psid=PSID, events=[EventInput(event="lead_submitted")] * (count // 2)),
            PsidEvents(psid="31298476510293", events=[EventInput(event="Purchase")] * (count // 2)),
        ],
        source=EventSource.API,
        idempotency_key=key,
    )


def test_a_race_lost_midway_writes_nothing_and_answers_with_the_winners_events(
    capi_page: ConnectedPage,
) -> None:
    """The loser's 500 rows meet the winner's at index 250 only: none of them is written, and
    the loser answers with what the winner logged."""
    winner = rows(capi_page, 1, idempotency_key="race")
    winner[0].idempotency_index = 250
    bulk.insert_rows(winner)
    with mock.patch.object(services, "_logged_with", side_effect=[[], list(winner)]):
        loser = _log(capi_page, 500, key="race")
    assert [row.pk for row in loser] == [winner[0].pk]
    assert LoggedEvent.objects.count() == 1


def test_a_race_lost_without_the_winners_rows_raises_and_writes_nothing(
    capi_page: ConnectedPage,
) -> None:
    bulk.insert_rows(rows(capi_page, 1, idempotency_key="race"))
    with (
        mock.patch.object(services, "_logged_with", side_effect=[[], []]),
        pytest.raises(IntegrityError),
    ):
        _log(capi_page, 500, key="race")
    assert LoggedEvent.objects.count() == 1


def test_the_outbox_write_joins_the_callers_transaction(capi_page: ConnectedPage) -> None:
    """A flow logs its events inside its step's transaction: rolled back, nothing stays."""
    counted = []

    def step() -> None:
        with transaction.atomic():
            _log(capi_page, 10, key="flow-step")
            counted.append(LoggedEvent.objects.count())
            raise RuntimeError("the step failed after logging")

    with pytest.raises(RuntimeError):
        step()
    assert counted == [10]
    assert LoggedEvent.objects.count() == 0


def test_a_retried_500_event_request_answers_the_same_and_writes_nothing(
    client_for: Callable[..., APIClient], tenant: Tenant, capi_page: ConnectedPage
) -> None:
    api = client_for(key=api_key(tenant))
    body = {
        "page_id": capi_page.page_id,
        "batch": [
            {
                "psid": str(24571937185104 + n),
                "events": [{"event": "Purchase", "value": n, "currency": "USD"}] * 5,
            }
            for n in range(100)
        ],
    }
    first = post_events(api, tenant, body, HTTP_IDEMPOTENCY_KEY="retry-me")
    assert first.status_code == 202, first.content
    assert LoggedEvent.objects.count() == 500
    again = post_events(api, tenant, body, HTTP_IDEMPOTENCY_KEY="retry-me")
    assert again.status_code == 202
    assert json.loads(again.content) == json.loads(first.content)
    assert LoggedEvent.objects.count() == 500
    ids = [event["id"] for event in first.json()["events"]]
    assert ids == sorted(ids)
    assert len(set(ids)) == 500
    assert (
        list(
            LoggedEvent.objects.filter(pk__in=ids)
            .order_by("idempotency_index")
            .values_list("pk", flat=True)
        )
        == ids
    )


def test_the_answer_is_the_serializers(capi_page: ConnectedPage) -> None:
    """New rows (status members, one created_at) and rows read back (plain text, their own
    times) give the same JSON as EventsLoggedSerializer, reasons redacted alike."""
    written = bulk.insert_rows(rows(capi_page, 12))
    written[3].last_error = "Graph said: access_token=EAAsecret123 is bad"
    read_back = list(LoggedEvent.objects.order_by("pk"))
    read_back[1].created_at = WHEN + timedelta(microseconds=123456)
    read_back[2].created_at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for events in (written, read_back):
        fast = json.loads(json.dumps(logged_answer(events)))
        slow = json.loads(json.dumps(EventsLoggedSerializer({"events": events}).data))
        assert fast == slow
    assert "EAAsecret123" not in json.dumps(logged_answer(written))


@pytest.mark.usefixtures("postgresql")
def test_pk_any_of_is_one_array_parameter(
    capi_page: ConnectedPage, django_assert_num_queries: Any
) -> None:
    written = bulk.insert_rows(rows(capi_page, 5))
    wanted = [written[1].pk, written[3].pk, 10**15]
    query = LoggedEvent.objects.filter(pk__any_of=wanted)
    assert sorted(query.values_list("pk", flat=True)) == wanted[:2]
    sql, params = query.query.sql_with_params()
    assert "= ANY(" in sql
    assert list(params) == [wanted]
    with django_assert_num_queries(0):
        assert list(LoggedEvent.objects.filter(pk__any_of=[])) == []
        assert LoggedEvent.objects.filter(pk__any_of=set()).update(status="dead") == 0
