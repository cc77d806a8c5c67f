"""The integrator events API under /api/v1/tenants/<slug>/events/.

`GET events/` and `GET events/<id>/` read the outbox (cursor-paged, filtered by
events.filters.EventFilter); `POST events/` logs events through events.services; `POST
events/replay/` sends dead, failed and blocked events again.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.request import Request
from rest_framework.response import Response

from events import selectors
from events.api.pagination import EventCursorPagination
from events.api.serializers import LoggedEventDetailSerializer, LoggedEventSerializer
from events.filters import EventFilter
from events.models import LoggedEvent
from tenants.api.base import TenantScopedViewSet


class EventViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Events logged in the workspace, newest first: by flows, the API and the test chat."""

    queryset = LoggedEvent.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = LoggedEventSerializer
    pagination_class = EventCursorPagination
    filterset_class = EventFilter
    permissions = {
        "list": "event.view",
        "retrieve": "event.view",
    }

    def get_queryset(self) -> QuerySet[LoggedEvent]:
        return selectors.events_for_tenant(tenant=self.tenant)

    @extend_schema(responses={200: LoggedEventDetailSerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        event = selectors.event_with_attempts(tenant=self.tenant, event_id=int(kwargs["pk"]))
        if event is None:
            raise Http404
        return Response(LoggedEventDetailSerializer(event).data)
