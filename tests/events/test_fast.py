"""The plain reader of `POST events/` bodies (events.api.fast) against the serializers.

Its promise: for any body it either steps aside (None: the serializers answer, with their own
errors) or gives exactly what the serializers validate. Each row below runs both on the same
body; the well-formed bodies a client sends must take the plain path, and every bad one must
step aside so that its error is the serializers' word for word.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from events.api.fast import LogBody, read_log_body
from events.api.serializers import EventsLogSerializer
from events.models import LoggedEvent
from events.services import EventInput, PsidEvents
from tenants.models import ConnectedPage, Tenant
from tests.events.helpers import PSID, post_events

PAGE = "104729384756102"
OTHER_PSID = "31298476510293"


def single(*events: Any, **extra: Any) -> dict[str, Any]:
    return {"page_id": PAGE, "psid": PSID, "events": list(events), **extra}


def through_serializers(body: Any) -> LogBody | None:
    """What the serializers make of ``body`` (None when they refuse it), as a LogBody."""
    serializer = EventsLogSerializer(data=copy.deepcopy(body))
    if not serializer.is_valid():
        return None
    data = serializer.validated_data
    return LogBody(
        page_id=data["page_id"],
        batch=[
            PsidEvents(psid=group["psid"], events=[EventInput(**e) for e in group["events"]])
            for group in data.get("batch", [data])
        ],
        test=data["test"],
    )


def exactly(body: LogBody) -> list[Any]:
    """Every value of ``body`` with its type and repr, so 19.99 and 19.990000, or a str and
    an enum member, are not taken for the same."""

    def typed(value: Any) -> tuple[str, str]:
        return (type(value).__name__, repr(value))

    return [
        typed(body.page_id),
        typed(body.test),
        [
            (
                typed(group.psid),
                [
                    (
                        typed(e.event),
                        [(typed(k), typed(v)) for k, v in e.params.items()],
                        typed(e.value),
                        typed(e.currency),
                        typed(e.logging_target),
                        typed(e.event_time),
                    )
                    for e in group.events
                ],
            )
            for group in body.batch
        ],
    ]


WELL_FORMED = {
    "one event": single({"event": "Purchase"}),
    "every field": single(
        {
            "event": "purchase",
            "params": {"fb_content_type": "product", "n": 3, "ratio": 0.5},
            "value": 19.99,
            "currency": "USD",
            "logging_target": "app_and_page",
            "event_time": "2026-12-01T10:15:02Z",
        }
    ),
    "value as text": single({"event": "Purchase", "value": "57.23", "currency": "EUR"}),
    "value as a whole number": single({"event": "Purchase", "value": 5, "currency": "EUR"}),
    "value 0.1 (a float)": single({"event": "Purchase", "value": 0.1, "currency": "EUR"}),
    "value with 20 digits": single({"event": "Purchase", "value": "12345678901234.123456"}),
    "value null": single({"event": "Purchase", "value": None, "event_time": None}),
    "value empty text": single({"event": "Purchase", "value": ""}),
    "event_time with an offset": single(
        {"event": "Purchase", "event_time": "2026-12-01T12:15:02.123+02:00"}
    ),
    "event_time without a zone": single({"event": "Purchase", "event_time": "2026-12-01T10:15"}),
    "empty currency": single({"event": "Purchase", "currency": ""}),
    "test event": single({"event": "Purchase"}, test=True),
    "not a test event": single({"event": "Purchase"}, test=False),
    "unknown keys are ignored": {**single({"event": "Purchase", "colour": "red"}), "x": 1},
    # Valid in shape; the catalog and services.log_event_batch judge them after.
    "a name the catalog refuses": single({"event": "bad name!"}),
    "a psid that is no psid": single({"event": "Purchase"}) | {"psid": "alice"},
    "an odd parameter value": single({"event": "Purchase", "params": {"_x": [1], "y": None}}),
    "a batch": {
        "page_id": PAGE,
        "batch": [
            {"psid": PSID, "events": [{"event": "add_to_cart"}, {"event": "Purchase"}]},
            {"psid": OTHER_PSID, "events": [{"event": "lead_submitted", "params": {}}]},
        ],
    },
}

BAD = {
    # the request's shape
    "not an object": ["not", "an", "object"],
    "null": None,
    "both shapes": {**single({"event": "Purchase"}), "batch": [{"psid": PSID, "events": []}]},
    "neither shape": {"page_id": PAGE},
    "events without psid": {"page_id": PAGE, "events": [{"event": "Purchase"}]},
    "psid without events": {"page_id": PAGE, "psid": PSID},
    "no page": {"psid": PSID, "events": [{"event": "Purchase"}]},
    "page_id not digits": single({"event": "Purchase"}) | {"page_id": "my-page"},
    "page_id too long": single({"event": "Purchase"}) | {"page_id": "1" * 33},
    "page_id null": single({"event": "Purchase"}) | {"page_id": None},
    "test not a boolean": single({"event": "Purchase"}, test="maybe"),
    "test null": single({"event": "Purchase"}, test=None),
    "empty events": single(),
    "events not a list": single() | {"events": {"event": "Purchase"}},
    "events null": single() | {"events": None},
    "psid null": single({"event": "Purchase"}) | {"psid": None},
    "psid empty": single({"event": "Purchase"}) | {"psid": ""},
    "psid with NUL": single({"event": "Purchase"}) | {"psid": "12\x003"},
    "empty batch": {"page_id": PAGE, "batch": []},
    "batch not a list": {"page_id": PAGE, "batch": {"psid": PSID}},
    "batch item null": {"page_id": PAGE, "batch": [None]},
    "batch item without events": {"page_id": PAGE, "batch": [{"psid": PSID}]},
    "batch item without psid": {"page_id": PAGE, "batch": [{"events": [{"event": "Purchase"}]}]},
    "batch item with empty events": {"page_id": PAGE, "batch": [{"psid": PSID, "events": []}]},
    # single events
    "event not an object": single({"event": "Purchase"}, "Purchase"),
    "event null": single(None),
    "no event name": single({"params": {}}),
    "event name empty": single({"event": ""}),
    "event name null": single({"event": None}),
    "event name a number": single({"event": 5}) | {"events": [{"event": 5}, {"event": []}]},
    "event name a list": single({"event": ["Purchase"]}),
    "event name with NUL": single({"event": "Purch\x00ase"}),
    "params not an object": single({"event": "Purchase", "params": "x"}),
    "params a list": single({"event": "Purchase", "params": [1]}),
    "params null": single({"event": "Purchase", "params": None}),
    "value not a number": single({"event": "Purchase", "value": "x"}),
    "value true": single({"event": "Purchase", "value": True}),
    "value a list": single({"event": "Purchase", "value": [1]}),
    "value an object": single({"event": "Purchase", "value": {"amount": 1}}),
    "value too many decimals": single({"event": "Purchase", "value": 1.1234567}),
    "value too many digits": single({"event": "Purchase", "value": 123456789012345.5}),
    "value infinite": single({"event": "Purchase", "value": "Infinity"}),
    "value NaN": single({"event": "Purchase", "value": "NaN"}),
    "currency null": single({"event": "Purchase", "currency": None}),
    "currency a list": single({"event": "Purchase", "currency": ["USD"]}),
    "logging_target unknown": single({"event": "Purchase", "logging_target": "everywhere"}),
    "logging_target null": single({"event": "Purchase", "logging_target": None}),
    "logging_target a number": single({"event": "Purchase", "logging_target": 1}),
    "event_time not a date": single({"event": "Purchase", "event_time": "yesterday"}),
    "event_time a number": single({"event": "Purchase", "event_time": 1764583200}),
    "event_time empty": single({"event": "Purchase", "event_time": ""}),
    "a bad event in a batch": {
        "page_id": PAGE,
        "batch": [
            {"psid": PSID, "events": [{"event": "Purchase"}]},
            {"psid": OTHER_PSID, "events": [{"event": "Purchase", "value": "x"}]},
        ],
    },
}

# Valid for the serializers, but the plain reader leaves them to the serializers (they convert
# what the reader does not): the answer is the same either way.
LEFT_TO_THE_SERIALIZERS = {
    "page_id a number": single({"event": "Purchase"}) | {"page_id": 104729384756102},
    "psid a number": single({"event": "Purchase"}) | {"psid": 24571937185104},
    "test as text": single({"event": "Purchase"}, test="true"),
    "currency a number": single({"event": "Purchase", "currency": 5}),
    "currency to trim": single({"event": "Purchase", "currency": " USD "}),
    "a name not in ASCII": single({"event": "café"}),
    "event name a number": single({"event": 5}),
}


@pytest.mark.parametrize("body", WELL_FORMED.values(), ids=WELL_FORMED.keys())
def test_a_well_formed_body_takes_the_plain_path_and_reads_as_the_serializers_read_it(
    body: Any,
) -> None:
    expected = through_serializers(body)
    assert expected is not None, "the table's body should be valid"
    read = read_log_body(copy.deepcopy(body))
    assert read is not None, "a well-formed body should not need the serializers"
    assert exactly(read) == exactly(expected)


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
def test_a_bad_body_is_left_to_the_serializers(body: Any) -> None:
    assert through_serializers(body) is None, "the table's body should be refused"
    assert read_log_body(copy.deepcopy(body)) is None


@pytest.mark.parametrize(
    "body", LEFT_TO_THE_SERIALIZERS.values(), ids=LEFT_TO_THE_SERIALIZERS.keys()
)
def test_what_the_reader_is_unsure_of_goes_to_the_serializers(body: Any) -> None:
    assert through_serializers(body) is not None
    assert read_log_body(copy.deepcopy(body)) is None


@pytest.mark.django_db
def test_a_well_formed_request_never_runs_the_serializers(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the serializers ran")

    monkeypatch.setattr(EventsLogSerializer, "is_valid", refuse)
    body = single(
        {"event": "Purchase", "value": 5, "currency": "USD"},
        {"event": "add_to_cart", "params": {"n": 3}},
    )
    response = post_events(api, tenant, body)
    assert response.status_code == 202, response.content
    assert [e["event"] for e in response.json()["events"]] == ["purchase", "add_to_cart"]
    assert LoggedEvent.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["value not a number", "event_time not a date", "empty events"])
def test_a_bad_request_answers_with_the_serializers_error(
    client_for: Callable[..., APIClient],
    key: str,
    tenant: Tenant,
    capi_page: ConnectedPage,
    name: str,
) -> None:
    """The error a client gets is what the serializers say about the body, nothing else."""
    body = BAD[name]
    serializer = EventsLogSerializer(data=copy.deepcopy(body))
    assert not serializer.is_valid()
    response = post_events(client_for(key=key), tenant, body)
    assert response.status_code == 400
    error = response.json()["error"]
    if name == "empty events":
        assert error["details"] == {"events": serializer.errors["events"]}
    else:
        [problem] = error["details"]["events"]["0"]
        field = problem["field"]
        assert problem["message"] == str(serializer.errors["events"][0][field][0])
    assert LoggedEvent.objects.count() == 0
