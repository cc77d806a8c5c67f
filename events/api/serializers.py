"""Shapes of the integrator events API: what `POST events` takes, and what the reads return.

The request serializers check only the JSON's shape (types, required keys, sizes); whether an
event's name, parameters, value and currency are right for its Page is the catalog's
validation, applied by `events.services.log_events`, so the API and the flow editor can never
disagree about what is valid.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from events.models import DeliveryAttempt, LoggedEvent, LoggingTarget
from events.scrub import scrubbed
from events.services import MAX_EVENTS_PER_REQUEST
from graph_api.redaction import redact

# --- reads ---------------------------------------------------------------------------------


class DeliveryAttemptSerializer(serializers.ModelSerializer[DeliveryAttempt]):
    request = serializers.SerializerMethodField(
        help_text="What was sent to Facebook, with every token and appsecret_proof removed."
    )
    response = serializers.SerializerMethodField(help_text="What Facebook answered.")
    error_message = serializers.SerializerMethodField()

    class Meta:
        model = DeliveryAttempt
        fields = [
            "id",
            "created_at",
            "transport",
            "outcome",
            "http_status",
            "graph_code",
            "graph_subcode",
            "fbtrace_id",
            "duration_ms",
            "error_class",
            "error_message",
            "request",
            "response",
        ]
        read_only_fields = fields

    def get_request(self, attempt: DeliveryAttempt) -> dict[str, Any]:
        request: dict[str, Any] = scrubbed(attempt.request)
        return request

    def get_response(self, attempt: DeliveryAttempt) -> dict[str, Any] | list[Any] | None:
        response: dict[str, Any] | list[Any] | None = scrubbed(attempt.response)
        return response

    def get_error_message(self, attempt: DeliveryAttempt) -> str:
        return redact(attempt.error_message)


class LoggedEventSerializer(serializers.ModelSerializer[LoggedEvent]):
    page_id = serializers.CharField(
        source="page.page_id", read_only=True, help_text="Facebook's id of the Page."
    )
    value = serializers.DecimalField(
        max_digits=20, decimal_places=6, coerce_to_string=False, read_only=True, allow_null=True
    )
    last_error = serializers.SerializerMethodField(
        help_text="Why the last try did not deliver it (empty once delivered)."
    )
    replayable = serializers.BooleanField(
        source="is_replayable",
        read_only=True,
        help_text="Dead, failed and blocked events can be replayed (POST events/replay/).",
    )

    class Meta:
        model = LoggedEvent
        fields = [
            "id",
            "page",
            "page_id",
            "psid",
            "event",
            "params",
            "value",
            "currency",
            "logging_target",
            "event_time",
            "source",
            "source_ref",
            "source_flow_version",
            "source_node",
            "ad_id",
            "api_key",
            "test",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "replayable",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields

    def get_last_error(self, event: LoggedEvent) -> str:
        return redact(event.last_error)


class LoggedEventDetailSerializer(LoggedEventSerializer):
    delivery_attempts = DeliveryAttemptSerializer(
        many=True, read_only=True, help_text="Every try to deliver it, oldest first."
    )

    class Meta(LoggedEventSerializer.Meta):
        fields = [*LoggedEventSerializer.Meta.fields, "delivery_attempts"]
        read_only_fields = fields


# --- writes --------------------------------------------------------------------------------

FACEBOOK_ID_RE = r"^[0-9]{1,32}$"


class EventInputSerializer(serializers.Serializer[dict[str, Any]]):
    """One event as an integration sends it. Its name and parameters are checked by the catalog."""

    event = serializers.CharField(
        trim_whitespace=False,
        help_text="A catalog key (purchase, lead_submitted), either transport's Facebook name "
        "for it (fb_mobile_purchase or Purchase), or a custom name (page_activities only).",
    )
    params = serializers.DictField(
        required=False,
        default=dict,
        help_text='Parameters, e.g. {"fb_content_type": "product"}: strings or numbers.',
    )
    value = serializers.DecimalField(
        max_digits=20,
        decimal_places=6,
        required=False,
        allow_null=True,
        default=None,
        coerce_to_string=False,
        help_text="The value to sum (e.g. a purchase's amount); give `currency` with it.",
    )
    currency = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="ISO 4217 code of `value`, e.g. USD.",
    )
    logging_target = serializers.ChoiceField(
        choices=LoggingTarget.choices,
        default=LoggingTarget.PAGE,
        help_text="page_activities' logging_target (the guide: `page`, the default).",
    )
    event_time = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it happened (ISO 8601 with a timezone); default: now. Not in the future; "
        "on the Conversions API not older than 7 days.",
    )


class PsidEventsSerializer(serializers.Serializer[dict[str, Any]]):
    psid = serializers.CharField(
        trim_whitespace=False, help_text="The Messenger user's page-scoped id (PSID): digits."
    )
    events = EventInputSerializer(many=True, allow_empty=False)


class EventsLogSerializer(serializers.Serializer[dict[str, Any]]):
    """`POST events/`: one user's events (`psid` and `events`) or many users' (`batch`)."""

    page_id = serializers.RegexField(
        FACEBOOK_ID_RE, help_text="Facebook's id of a Page connected to this workspace."
    )
    psid = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text="The Messenger user's page-scoped id (PSID, digits), with `events`.",
    )
    events = EventInputSerializer(  # type: ignore[call-arg]  # stubs lack ListSerializer's max_length
        many=True,
        required=False,
        allow_empty=False,
        max_length=MAX_EVENTS_PER_REQUEST,
        help_text=f"Up to {MAX_EVENTS_PER_REQUEST:,} events for `psid`.",
    )
    batch = PsidEventsSerializer(  # type: ignore[call-arg]  # stubs lack ListSerializer's max_length
        many=True,
        required=False,
        allow_empty=False,
        max_length=MAX_EVENTS_PER_REQUEST,
        help_text=f"Events for several users, instead of `psid` and `events` (up to "
        f"{MAX_EVENTS_PER_REQUEST:,} events in all).",
    )
    test = serializers.BooleanField(
        default=False,
        help_text="A test event: stored and shown under the delivery log's test events, "
        "not delivered to Facebook.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self.check_shape(attrs)
        return attrs

    @staticmethod
    def check_shape(given: Any) -> None:
        """One user's events or a batch, never both nor neither (`given`: the keys sent)."""
        single = "psid" in given or "events" in given
        if single and "batch" in given:
            raise serializers.ValidationError(
                "Send either `psid` with `events` (one user) or `batch` (several users), not both."
            )
        if not single and "batch" not in given:
            raise serializers.ValidationError(
                "Send `psid` with `events` (one user), or `batch`: [{psid, events}] (several)."
            )
        if single and ("psid" not in given or "events" not in given):
            missing = "psid" if "psid" not in given else "events"
            raise serializers.ValidationError(
                {missing: ["This field is required with `psid`/`events` (or send `batch`)."]}
            )


class LoggedEventBriefSerializer(serializers.ModelSerializer[LoggedEvent]):
    reason = serializers.SerializerMethodField(
        help_text="Why the event is not (yet) sent: status kept, test or blocked; empty otherwise."
    )

    class Meta:
        model = LoggedEvent
        fields = ["id", "psid", "event", "status", "reason", "test", "created_at"]
        read_only_fields = fields

    def get_reason(self, event: LoggedEvent) -> str:
        return redact(event.last_error)


class EventsLoggedSerializer(serializers.Serializer[dict[str, Any]]):
    """The answer to `POST events/`: every event accepted, in the order sent."""

    events = LoggedEventBriefSerializer(many=True, read_only=True)


class EventsReplaySerializer(serializers.Serializer[dict[str, Any]]):
    """`POST events/replay/`: by `ids`, or every event matching `filter`."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        allow_empty=False,
        max_length=MAX_EVENTS_PER_REQUEST,
        help_text="Ids of events to replay; those not dead, failed, blocked or not sent are left alone.",
    )
    filter = serializers.DictField(
        required=False,
        help_text='The filters of GET events/ (e.g. {"status": ["dead"], "page": 3}): '
        "every dead, failed, blocked or not-sent event matching them is replayed. {} means all of them.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError("Send either `ids` or `filter`, one of the two.")
        return attrs


class EventsReplayedSerializer(serializers.Serializer[dict[str, Any]]):
    replayed = serializers.IntegerField(
        help_text="How many events went back to pending (already replayed ones are not counted)."
    )
