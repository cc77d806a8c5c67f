"""GET /api/v1/event-catalog: the standard-event catalog for the flow editor and integrators.

Any signed-in person or API key may read it (it holds no workspace's data). It changes only
when the catalog data does, so it carries an ETag and may be cached privately.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events import catalog
from events.transport_status import transport_status
from tenants.transports import CUSTOM_EVENT_FATES, STATES

CACHE_CONTROL = "private, max-age=3600"


class CatalogParamSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="The parameter's key, as Facebook gets it.")
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    type = serializers.ChoiceField(
        choices=catalog.PARAM_TYPES, help_text="`flag` takes 1 (yes) or 0 (no)."
    )
    requirement = serializers.ChoiceField(choices=catalog.REQUIREMENTS)
    choices = serializers.ListField(
        child=serializers.CharField(), help_text="The only values allowed, when not empty."
    )
    description = serializers.CharField()
    transports = serializers.ListField(
        child=serializers.ChoiceField(choices=catalog.TRANSPORTS),
        help_text="The transports that carry this parameter.",
    )


class CatalogEventNamesSerializer(serializers.Serializer[Any]):
    page_activities = serializers.CharField(allow_null=True)
    conversions_api = serializers.CharField(allow_null=True)


class CatalogEventSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="The logical key flows and the events API use.")
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    category = serializers.CharField()
    description = serializers.CharField()
    names = CatalogEventNamesSerializer(
        help_text="Facebook's name for the event on each transport; null where it cannot go."
    )
    name = serializers.CharField(
        allow_null=True,
        help_text="With `?transport=`: the event's name on that transport; otherwise null.",
    )
    params = CatalogParamSerializer(many=True)
    takes_value = serializers.BooleanField()
    takes_currency = serializers.BooleanField()


class CatalogTransportStatusSerializer(serializers.Serializer[Any]):
    """What is true of the transport today (events/transport_status.py)."""

    state = serializers.ChoiceField(
        choices=list(STATES), help_text="retired once Facebook stopped serving it."
    )
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    technical = serializers.CharField()
    graph_version = serializers.CharField()
    retired_on = serializers.DateField(allow_null=True)
    delivered = serializers.BooleanField(
        help_text="Whether this Pagepulse's Graph host takes its events now."
    )
    selectable = serializers.BooleanField(help_text="Whether a Page may be switched to it now.")
    message = serializers.CharField(help_text="What this means, and what to do.")
    use_instead = serializers.ChoiceField(choices=catalog.TRANSPORTS, allow_null=True)


class CatalogTransportSerializer(serializers.Serializer[Any]):
    key = serializers.ChoiceField(choices=catalog.TRANSPORTS)
    custom_events_allowed = serializers.BooleanField(
        help_text="Whether events outside the catalog (custom names) can be sent."
    )
    custom_events = serializers.ChoiceField(
        choices=list(CUSTOM_EVENT_FATES),
        help_text="What becomes of a custom event there: delivered, or kept in Pagepulse "
        "(status kept: counted in the delivery log and exports, never sent).",
    )
    custom_events_message = serializers.CharField(
        help_text="The same in words, for the editor's log-event form."
    )
    status = CatalogTransportStatusSerializer()


class CatalogReservedSerializer(serializers.Serializer[Any]):
    logged_by_facebook_prefixes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Names starting with these (any case) Facebook logs itself; never sent.",
    )
    internal_names = serializers.ListField(
        child=serializers.CharField(),
        help_text="Names Facebook's SDKs log internally; they cannot be sent from a bot.",
    )


class EventCatalogSerializer(serializers.Serializer[Any]):
    version = serializers.CharField(help_text="Changes whenever the catalog does.")
    transport = serializers.ChoiceField(choices=catalog.TRANSPORTS, allow_null=True)
    transports = CatalogTransportSerializer(many=True)
    categories = serializers.ListField(child=serializers.CharField())
    reserved = CatalogReservedSerializer(help_text="Names no event may have.")
    events = CatalogEventSerializer(many=True)


def _param(param: catalog.Param) -> dict[str, Any]:
    return {
        "key": param.key,
        "label": param.label,
        "type": param.type,
        "requirement": param.requirement,
        "choices": list(param.choices),
        "description": param.description,
        "transports": list(param.transports),
    }


def _transport(transport: str) -> dict[str, Any]:
    status = transport_status(transport).as_dict()
    return {
        "key": transport,
        "custom_events_allowed": catalog.custom_events_allowed(transport),
        "custom_events": status.pop("custom_events"),
        "custom_events_message": status.pop("custom_events_message"),
        "status": status,
    }


def _etag(transport: str | None) -> str:
    """Changes with the catalog data and with what is true of the transports (a date passing,
    another GRAPH_API_URL)."""
    statuses = [_transport(t) for t in ((transport,) if transport else catalog.TRANSPORTS)]
    said = hashlib.sha256(json.dumps(statuses, sort_keys=True).encode()).hexdigest()[:12]
    return quote_etag(f"{catalog.catalog_etag()}-{transport or 'all'}-{said}")


def catalog_body(transport: str | None) -> dict[str, Any]:
    """The catalog as the API serves it, narrowed to `transport` when one is given."""
    events = catalog.for_transport(transport) if transport else catalog.all_events()
    transports = (transport,) if transport else catalog.TRANSPORTS
    return {
        "version": catalog.catalog_etag(),
        "transport": transport,
        "transports": [_transport(t) for t in transports],
        "categories": [c for c in catalog.categories() if any(e.category == c for e in events)],
        "reserved": {
            "logged_by_facebook_prefixes": list(catalog.reserved_prefixes()),
            "internal_names": sorted(catalog.internal_names()),
        },
        "events": [
            {
                "key": event.key,
                "label": event.label,
                "category": event.category,
                "description": event.description,
                "names": dict(event.names),
                "name": event.name_for(transport) if transport else None,
                "params": [
                    _param(p) for p in (event.params_for(transport) if transport else event.params)
                ],
                "takes_value": event.takes_value,
                "takes_currency": event.takes_currency,
            }
            for event in events
        ],
    }


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match uses it."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.removeprefix("W/") == etag for tag in parse_etags(if_none_match))


class EventCatalogView(APIView):
    """Facebook's standard events, grouped and labelled, with their names on each transport."""

    @extend_schema(
        operation_id="event_catalog_retrieve",
        tags=["event-catalog"],
        summary="The standard-event catalog",
        description=(
            "Every standard event with its label, category, name on each transport, standard "
            "parameters, and whether it takes a value and a currency. `?transport=` narrows it "
            "to the events that transport carries. Each transport says its status (active, or "
            "retired by Facebook, with a message and what to use instead) and whether a custom "
            "event on it is delivered or kept in Pagepulse. Send `If-None-Match` with the last `ETag` "
            "to get 304 when nothing changed."
        ),
        parameters=[
            OpenApiParameter(
                "transport",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                enum=list(catalog.TRANSPORTS),
                description="Only the events this transport carries, with their names there.",
            ),
        ],
        responses={
            200: EventCatalogSerializer,
            304: OpenApiResponse(description="Not modified: the catalog has the sent ETag."),
        },
    )
    def get(self, request: Request) -> Response:
        transport = request.query_params.get("transport")
        if transport is not None and transport not in catalog.TRANSPORTS:
            raise ValidationError(
                {
                    "transport": [
                        f"Unknown transport {transport!r}: use one of "
                        f"{', '.join(catalog.TRANSPORTS)}, or leave it out for all events."
                    ]
                }
            )
        etag = _etag(transport)
        if _matches(request.headers.get("If-None-Match", ""), etag):
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            body = EventCatalogSerializer(catalog_body(transport)).data
            response = Response(body)
        response["ETag"] = etag
        response["Cache-Control"] = CACHE_CONTROL
        patch_vary_headers(response, ("Authorization", "Cookie"))
        return response
