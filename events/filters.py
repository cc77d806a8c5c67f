"""Filters over a workspace's logged events, shared by the events API and the delivery log.

One `EventFilter` serves `GET /api/v1/tenants/<slug>/events/` (through django-filter's DRF
backend, which also documents each parameter in the OpenAPI schema) and the delivery log's
form, so the two can never disagree about what "status=dead&event=Purchase" means. The
queryset it filters must already be scoped to one tenant: these filters only narrow it.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field

from events import catalog
from events.models import EventSource, EventStatus, LoggedEvent

# Facebook's rule for event names and parameter keys (reference §10), which every logged
# event's name satisfies: a filter value outside it can match nothing and is a mistake.
EVENT_NAME_PATTERN = r"^[0-9a-zA-Z_][0-9a-zA-Z _-]{0,39}$"
# Page-scoped ids are digits; the editor's test chat uses short made-up ids of word characters.
PSID_PATTERN = r"^[0-9A-Za-z_.:-]{1,64}$"
MAX_PK = 2**63 - 1


class _PositiveIntegerField(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_PK, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_PK})
class PositiveIntegerFilter(django_filters.NumberFilter):
    # django-filter builds the form field from any field_class; its stubs want a DecimalField.
    field_class = _PositiveIntegerField  # type: ignore[assignment]


@extend_schema_field({"type": "string", "pattern": EVENT_NAME_PATTERN})
class EventNameFilter(django_filters.CharFilter):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "validators",
            [
                RegexValidator(
                    EVENT_NAME_PATTERN,
                    "Give an event name of up to 40 letters, digits, spaces, _ or -, "
                    "e.g. Purchase or lead_submitted.",
                )
            ],
        )
        super().__init__(**kwargs)


@extend_schema_field({"type": "string", "pattern": PSID_PATTERN})
class PsidFilter(django_filters.CharFilter):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "validators",
            [
                RegexValidator(
                    PSID_PATTERN,
                    "Give the Messenger user's page-scoped id (PSID), e.g. 24571937185104.",
                )
            ],
        )
        super().__init__(**kwargs)


@extend_schema_field({"type": "string", "pattern": r"^[0-9]{1,32}$"})
class FacebookPageIdFilter(django_filters.CharFilter):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "validators",
            [RegexValidator(r"^[0-9]{1,32}$", "Give the Facebook Page id: digits only.")],
        )
        super().__init__(**kwargs)


class _StrictBooleanField(forms.TypedChoiceField):
    """`true` or `false`, nothing else: a typo must not silently turn the filter off."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("empty_value", None)
        super().__init__(
            choices=[("", "any"), ("true", "true"), ("false", "false")],
            coerce=lambda value: value == "true",
            empty_value=None,
            error_messages={"invalid_choice": "Give true or false."},
            **kwargs,
        )


@extend_schema_field({"type": "boolean"})
class StrictBooleanFilter(django_filters.Filter):
    field_class = _StrictBooleanField


class EventFilter(django_filters.FilterSet):
    """What the delivery log and `GET events` narrow by. Every parameter is optional."""

    status = django_filters.MultipleChoiceFilter(
        choices=EventStatus.choices,
        help_text="Only events in these states; repeat the parameter for several.",
    )
    event = EventNameFilter(
        method="filter_event",
        help_text="The event: a catalog key (lead_submitted), either transport's name for it "
        "(fb_mobile_purchase and Purchase both find purchase), or a custom name.",
    )
    page = PositiveIntegerFilter(
        field_name="page_id", help_text="The connected Page's id in Pagepulse (from GET pages/)."
    )
    page_id = FacebookPageIdFilter(field_name="page__page_id", help_text="Facebook's Page id.")
    psid = PsidFilter(help_text="The Messenger user's page-scoped id.")
    source = django_filters.ChoiceFilter(
        choices=EventSource.choices, help_text="Where the event came from."
    )
    test = StrictBooleanFilter(
        help_text="true: only test events (the editor's test chat, or logged with "
        '"test": true); false or absent: leave them out.'
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="Logged at or after this time (ISO 8601, e.g. 2026-11-25T07:00:00Z).",
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text="Logged before this time (ISO 8601).",
    )

    class Meta:
        model = LoggedEvent
        fields: list[str] = []

    def filter_event(
        self, queryset: QuerySet[LoggedEvent], name: str, value: str
    ) -> QuerySet[LoggedEvent]:
        # Events are stored by their logical key, whichever name they were logged with.
        return queryset.filter(event=catalog.canonical_event(value))

    def filter_queryset(self, queryset: QuerySet[LoggedEvent]) -> QuerySet[LoggedEvent]:
        filtered: QuerySet[LoggedEvent] = super().filter_queryset(queryset)
        # Test events stay out of every list unless asked for (test=true, or their own
        # status "test"): they are not real customers.
        asked = self.form.cleaned_data.get("status") or []
        if self.form.cleaned_data.get("test") is None and EventStatus.TEST not in asked:
            filtered = filtered.filter(test=False)
        return filtered


# The parameters that choose events (the delivery log keeps them across its links and forms).
FILTER_PARAMETERS = tuple(EventFilter.base_filters)
