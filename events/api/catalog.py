"""GET /api/v1/event-catalog: the standard-event catalog for the flow editor and integrators.

Any signed-in person or API key may read it (it holds no workspace's data). It changes only
when the catalog data does, so it carries an ETag and may be cached privately.
"""

from __future__ import annotations

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


class CatalogTransportSerializer(serializers.Serializer[Any]):
    key = serializers.ChoiceField(choices=catalog.TRANSPORTS)
    custom_events_allowed = serializers.BooleanField(
        help_text="Whether events outside the catalog (custom names) can be sent."
    )


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


def catalog_body(transport: str | None) -> dict[str, Any]:
    """The catalog as the API serves it, narrowed to `transport` when one is given."""
    events = catalog.for_transport(transport) if transport else catalog.all_events()
    transports = (transport,) if transport else catalog.TRANSPORTS
    return {
        "version": catalog.catalog_etag(),
        "transport": transport,
        "transports": [
            {"key": t, "custom_events_allowed": catalog.custom_events_allowed(t)}
            for t in transports
        ],
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
            "to the events that transport carries. Send `If-None-Match` with the last `ETag` "
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
        etag = quote_etag(f"{catalog.catalog_etag()}-{transport or 'all'}")
        if _matches(request.headers.get("If-None-Match", ""), etag):
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            body = EventCatalogSerializer(catalog_body(transport)).data
            response = Response(body)
        response["ETag"] = etag
        response["Cache-Control"] = CACHE_CONTROL
        patch_vary_headers(response, ("Authorization", "Cookie"))
        return response
