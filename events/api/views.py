"""The integrator events API under /api/v1/tenants/<slug>/events/.

`GET events/` and `GET events/<id>/` read the outbox (cursor-paged, filtered by
events.filters.EventFilter); `POST events/` logs events through events.services; `POST
events/replay/` sends dead, failed, blocked and not-sent events again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, QueryDict
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from events import selectors, services
from events.api.fast import LogBody, logged_answer, read_log_body
from events.api.pagination import EventCursorPagination
from events.api.serializers import (
    EventsLoggedSerializer,
    EventsLogSerializer,
    EventsReplayedSerializer,
    EventsReplaySerializer,
    LoggedEventDetailSerializer,
    LoggedEventSerializer,
)
from events.exceptions import InvalidEvents, TooManyEvents
from events.filters import EventFilter
from events.models import EventSource, LoggedEvent
from tenants.api.authentication import ApiKeyUser
from tenants.api.base import TenantScopedViewSet
from tenants.models import ConnectedPage, PageStatus

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, e.g. a UUID

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "pattern": IDEMPOTENCY_KEY_RE.pattern, "maxLength": 255},
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID) of up to 255 visible ASCII characters. Sending the "
    "same key again (for this workspace) returns the events the first request logged and logs "
    "nothing: retry a request whose answer you did not get without logging twice.",
)
LOG_EXAMPLES = [
    OpenApiExample(
        "One user's events",
        request_only=True,
        value={
            "page_id": "104729384756102",
            "psid": "24571937185104",
            "events": [
                {"event": "lead_submitted", "params": {"fb_content_type": "form"}},
                {"event": "Purchase", "value": 57.23, "currency": "USD"},
            ],
        },
    ),
    OpenApiExample(
        "Several users' events",
        request_only=True,
        value={
            "page_id": "104729384756102",
            "batch": [
                {"psid": "24571937185104", "events": [{"event": "add_to_cart"}]},
                {
                    "psid": "31298476510293",
                    "events": [{"event": "fb_mobile_purchase", "value": 9.5, "currency": "EUR"}],
                },
            ],
        },
    ),
    OpenApiExample(
        "Accepted",
        response_only=True,
        status_codes=["202"],
        value={
            "events": [
                {
                    "id": 4812,
                    "psid": "24571937185104",
                    "event": "lead_submitted",
                    "status": "pending",
                    "test": False,
                    "created_at": "2026-12-01T10:15:02.114Z",
                }
            ]
        },
    ),
    OpenApiExample(
        "An invalid event",
        response_only=True,
        status_codes=["400"],
        value={
            "error": {
                "code": "invalid_events",
                "message": "1 event cannot be logged, so none was: events[1].event: ...",
                "details": {
                    "events": {
                        "1": [
                            {
                                "field": "event",
                                "message": "The Conversions API takes only its 14 standard "
                                "events. Pick a standard event, or use a page on page_activities.",
                                "code": "not_on_transport",
                            }
                        ]
                    }
                },
            }
        },
    ),
]


class EventViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Events logged in the workspace, newest first: by flows, the API and the test chat."""

    queryset = LoggedEvent.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = LoggedEventSerializer
    pagination_class = EventCursorPagination
    filterset_class = EventFilter
    permissions = {
        "list": "event.view",
        "retrieve": "event.view",
        "create": "event.log",
        "replay": "event.replay",
    }

    def get_queryset(self) -> QuerySet[LoggedEvent]:
        return selectors.events_for_tenant(tenant=self.tenant)

    @extend_schema(responses={200: LoggedEventDetailSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        event = selectors.event_with_attempts(tenant=self.tenant, event_id=int(kwargs["pk"]))
        if event is None:
            raise Http404
        return Response(LoggedEventDetailSerializer(event).data)

    @extend_schema(
        summary="Log events",
        description="Log events for one Messenger user (`psid` and `events`) or several "
        "(`batch`) of a connected Page, up to 1,000 in one request. Everything is validated "
        "against the Page's transport first: if one event is invalid, none is logged, and "
        "`error.details.events` says which (by its position in the request, counting across "
        "a batch) and why. Accepted events answer at once with their ids and are delivered "
        "in the background; follow them with `GET events/<id>/` or the delivery log.",
        request=EventsLogSerializer,
        responses={202: EventsLoggedSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=LOG_EXAMPLES,
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        idempotency_key = _idempotency_key(request)
        _check_count(request.data)
        body = read_log_body(request.data) or self._validated(request.data)
        page = self._page(body.page_id)
        batch = body.batch
        api_key = request.user.api_key if isinstance(request.user, ApiKeyUser) else None
        logged = services.log_event_batch(
            tenant=self.tenant,
            page=page,
            batch=batch,
            source=EventSource.API,
            idempotency_key=idempotency_key,
            api_key=api_key,
            source_ref=f"api_key:{api_key.pk}" if api_key else "",
            test=body.test,
        )
        return Response(logged_answer(logged), status=status.HTTP_202_ACCEPTED)

    def _validated(self, data: Any) -> LogBody:
        """The body through the serializers: the path of every request the plain reader
        (events.api.fast) is not sure of, and so of every error's message."""
        serializer = EventsLogSerializer(data=data)
        valid = serializer.is_valid()
        errors, problems = _split_errors(serializer.errors if not valid else {}, data)
        if errors:
            raise ValidationError(errors)
        if problems:
            # Only single events are wrong: the request's own shape is checked first.
            EventsLogSerializer.check_shape(data)
            self._page(str(data["page_id"]))
            raise InvalidEvents(problems)
        validated = serializer.validated_data
        groups = validated.get("batch", [validated])
        return LogBody(
            page_id=validated["page_id"],
            batch=[
                services.PsidEvents(
                    psid=group["psid"], events=[services.EventInput(**e) for e in group["events"]]
                )
                for group in groups
            ],
            test=validated["test"],
        )

    def _page(self, page_id: str) -> ConnectedPage:
        # Another workspace's Page answers exactly as an unknown one: no hint that it exists.
        page = selectors.page_by_facebook_id(tenant=self.tenant, page_id=page_id)
        if page is None:
            raise ValidationError(
                {
                    "page_id": [
                        f"No Page {page_id} is connected to this workspace. Connect it on "
                        "the Pages screen, or use the id of one that is (GET pages/)."
                    ]
                }
            )
        if page.status == PageStatus.DISCONNECTED:
            raise ValidationError(
                {
                    "page_id": [
                        f"The Page {page_id} was disconnected, so it cannot log events. "
                        "Connect it again on the Pages screen."
                    ]
                }
            )
        return page

    @extend_schema(
        summary="Replay events",
        description="Send dead, failed, blocked and not-sent events again: by `ids`, or every one "
        "matching `filter` (the filters of `GET events/`). Other events are left alone, and "
        "an event replayed twice is sent once. Admins only.",
        request=EventsReplaySerializer,
        responses={200: EventsReplayedSerializer},
        examples=[
            OpenApiExample("By ids", request_only=True, value={"ids": [4812, 4813]}),
            OpenApiExample(
                "By filter",
                request_only=True,
                value={"filter": {"status": ["dead", "failed"], "page": 3}},
            ),
            OpenApiExample("Replayed", response_only=True, value={"replayed": 2}),
        ],
    )
    @action(detail=False, methods=["post"])
    def replay(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = EventsReplaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "ids" in serializer.validated_data:
            count = services.events_replay(
                tenant=self.tenant, actor=self.actor, event_ids=serializer.validated_data["ids"]
            )
        else:
            filterset = selectors.events_filtered(
                tenant=self.tenant, params=_as_query(serializer.validated_data["filter"])
            )
            if not filterset.is_valid():
                raise ValidationError({"filter": filterset.errors})
            count = services.events_replay(
                tenant=self.tenant, actor=self.actor, queryset=filterset.qs
            )
        return Response(EventsReplayedSerializer({"replayed": count}).data)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise ValidationError(
            {
                IDEMPOTENCY_HEADER: [
                    "Give 1 to 255 visible ASCII characters (no spaces), e.g. a UUID."
                ]
            }
        )
    return key


def _events_of(data: Any) -> list[Any]:
    """The raw event lists of a request body (one, or one per batch item), before validation."""
    if not isinstance(data, Mapping):
        return []
    if isinstance(data.get("batch"), list):
        return [item.get("events") if isinstance(item, Mapping) else None for item in data["batch"]]
    return [data.get("events")]


def _check_count(data: Any) -> None:
    """Refuse more than 1,000 events before validating any of them."""
    total = sum(len(events) for events in _events_of(data) if isinstance(events, list))
    if total > services.MAX_EVENTS_PER_REQUEST:
        raise TooManyEvents(
            f"{total} events is too many for one request: send at most "
            f"{services.MAX_EVENTS_PER_REQUEST:,}, and the rest in further requests.",
            details={"count": total, "max": services.MAX_EVENTS_PER_REQUEST},
        )


def _flatten(errors: Any, field: str = "") -> list[dict[str, str]]:
    """DRF's error tree of one event as the catalog's problems: [{field, message, code}]."""
    if isinstance(errors, Mapping):
        found: list[dict[str, str]] = []
        for key, value in errors.items():
            name = "" if key == "non_field_errors" else f"{field}.{key}".strip(".")
            found.extend(_flatten(value, name))
        return found
    if isinstance(errors, list):
        return [problem for item in errors for problem in _flatten(item, field)]
    return [{"field": field, "message": str(errors), "code": getattr(errors, "code", "invalid")}]


def _split_errors(
    errors: Mapping[str, Any], data: Any
) -> tuple[dict[str, Any], dict[int, list[dict[str, str]]]]:
    """Separate the errors of single events (indexed across the request, like the catalog's
    problems) from the errors of the request itself."""
    rest = dict(errors)
    problems: dict[int, list[dict[str, str]]] = {}

    def take(event_errors: Any, offset: int) -> bool:
        # DRF gives {index: errors} for the items of a list; any other shape means "events"
        # itself is wrong (not a list, empty), which is the request's error.
        if not isinstance(event_errors, Mapping) or not all(
            isinstance(index, int) for index in event_errors
        ):
            return False
        for index, item in event_errors.items():
            problems[offset + index] = _flatten(item)
        return True

    if "events" in rest and take(rest["events"], 0):
        del rest["events"]
    batch = rest.get("batch")
    if isinstance(batch, Mapping) and all(isinstance(index, int) for index in batch):
        offsets, offset = [], 0
        for raw in _events_of(data):
            offsets.append(offset)
            offset += len(raw) if isinstance(raw, list) else 0
        remaining = {}
        for index, item in batch.items():
            if not isinstance(item, Mapping):  # the item itself is wrong (null): not an event's
                remaining[index] = item
                continue
            item = dict(item)
            if "events" in item and take(item["events"], offsets[index]):
                del item["events"]
            if item:
                remaining[index] = item
        if remaining:
            rest["batch"] = remaining
        else:
            del rest["batch"]
    return rest, problems


def _as_query(filters: Mapping[str, Any]) -> QueryDict:
    """A replay's `filter` object as the query parameters EventFilter reads: a list is a
    repeated parameter, and a single value may stand for a list of one."""
    query = QueryDict(mutable=True)
    for key, value in filters.items():
        values = value if isinstance(value, list) else [value]
        query.setlist(
            key, [("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]
        )
    return query
