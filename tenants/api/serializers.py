from __future__ import annotations

from typing import Any

from django_countries import countries
from django_countries.serializer_fields import CountryField
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tenants.models import ApiKey, AuditEvent, ConnectedPage, Membership, Tenant, Transport
from tenants.permissions import API_KEY_ROLE, API_KEY_ROLE_CHOICES, Role
from tenants.transports import CUSTOM_EVENT_FATES, STATES, transport_status


class IsoCountryField(CountryField):
    """An ISO 3166-1 alpha-2 code, and nothing else.

    django-countries' own field turns any falsy input (`[]`, `0`, `false`, `{}`) into `""`
    and accepts names and dicts; a workspace's country decides which transports its Pages may
    use, so anything but a code is refused.
    """

    def to_internal_value(self, data: Any) -> str:
        code = data.strip().upper() if isinstance(data, str) else None
        if not code or code not in countries:
            shown = data if isinstance(data, str) else type(data).__name__
            raise serializers.ValidationError(
                f"{shown!r} is not an ISO 3166-1 alpha-2 country code: send the two-letter code "
                'of where the business is based, e.g. "DE" or "US".',
                code="invalid_choice",
            )
        return code


class TenantSerializer(serializers.ModelSerializer[Tenant]):
    country = IsoCountryField(  # type: ignore[no-untyped-call]
        country_dict=False, help_text="ISO 3166-1 alpha-2 code of where the business is based."
    )
    role = serializers.SerializerMethodField(help_text="Your role in this workspace.")

    class Meta:
        model = Tenant
        fields = [
            "slug",
            "name",
            "country",
            "deliver_test_events",
            "departing_member_keys",
            "role",
            "created_at",
        ]
        read_only_fields = ["slug", "created_at"]

    def get_role(self, tenant: Tenant) -> str | None:
        roles: dict[int, str] = self.context.get("roles", {})
        return roles.get(tenant.pk, self.context.get("role"))

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Give the workspace a name.")
        return value.strip()


class UserSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(source="get_full_name", read_only=True)


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = ["id", "user", "created_at"]


class MemberCreateSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(help_text="The email of an existing Pagepulse user.")
    role = serializers.ChoiceField(choices=Role.choices)


class MemberUpdateSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    display = serializers.CharField(read_only=True, help_text="The key's visible start.")
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)
    owner = serializers.EmailField(
        source="owner.email",
        read_only=True,
        default=None,
        help_text="The member the key belongs to; it stops working when they leave.",
    )
    is_active = serializers.BooleanField(read_only=True, help_text="Not revoked.")
    is_expired = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "display",
            "role",
            "owner",
            "is_active",
            "is_expired",
            "created_by",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, help_text="Which integration uses this key.")
    role = serializers.ChoiceField(
        choices=API_KEY_ROLE_CHOICES,
        default=API_KEY_ROLE,
        help_text="What the key may do; never above your own role. Keys never manage people "
        "or keys.",
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When the key stops working by itself (optional, in the future).",
    )

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Give the key a name.")
        return value.strip()


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(
        read_only=True, help_text="The secret. Shown only in this response: store it now."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "action", "target", "details", "ip_address"]
        read_only_fields = fields


class TransportStatusSerializer(serializers.Serializer[Any]):
    """What is true of a transport today (events/transport_status.py says it, in one place)."""

    transport = serializers.ChoiceField(choices=Transport.choices)
    state = serializers.ChoiceField(
        choices=list(STATES), help_text="retired once Facebook stopped serving it."
    )
    label = serializers.CharField(help_text="Its name in plain words.")  # type: ignore[assignment]
    technical = serializers.CharField(help_text="Technical name, Graph version and endpoint.")
    graph_version = serializers.CharField()
    retired_on = serializers.DateField(
        allow_null=True, help_text="The day Facebook stopped (or stops) serving it."
    )
    delivered = serializers.BooleanField(
        help_text="Whether the Graph host this Pagepulse talks to takes its events now (the "
        "Graph sandbox still serves page_activities; Facebook does not)."
    )
    selectable = serializers.BooleanField(help_text="Whether a Page may be switched to it now.")
    message = serializers.CharField(help_text="What this means, and what to do.")
    use_instead = serializers.ChoiceField(choices=Transport.choices, allow_null=True)
    custom_events = serializers.ChoiceField(
        choices=list(CUSTOM_EVENT_FATES),
        help_text="kept: custom events are kept in Pagepulse (status kept), never sent.",
    )
    custom_events_message = serializers.CharField()


class ConnectedPageSerializer(serializers.ModelSerializer[ConnectedPage]):
    connected_by = serializers.EmailField(
        source="connected_by.email", read_only=True, default=None, allow_null=True
    )
    transport_status = serializers.SerializerMethodField(
        help_text="Whether Facebook still serves the Page's transport (active or retired), with "
        "a message saying what that means and what to use instead."
    )

    class Meta:
        model = ConnectedPage
        fields = [
            "id",
            "page_id",
            "name",
            "status",
            "transport",
            "transport_status",
            "dataset_id",
            "tasks",
            "granted_scopes",
            "token_checked_at",
            "last_error",
            "connected_by",
            "connected_at",
        ]
        read_only_fields = fields

    @extend_schema_field(TransportStatusSerializer)
    def get_transport_status(self, page: ConnectedPage) -> dict[str, Any]:
        return transport_status(page.transport).as_dict()


class PageConnectSerializer(serializers.Serializer[Any]):
    page_id = serializers.RegexField(
        r"^[0-9]{1,32}$", help_text="The Facebook Page id, from `?available=1`."
    )
    transport = serializers.ChoiceField(
        choices=Transport.choices,
        required=False,
        help_text="Defaults to DEFAULT_EVENT_TRANSPORT (Conversions API in Europe and Japan).",
    )
    transfer = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Take the Page over from the workspace where it is connected now (needs an "
        "admin of that workspace, or the MANAGE task on the Page on Facebook). Without it, "
        "connecting a Page connected elsewhere is a 409.",
    )


class PageUpdateSerializer(serializers.Serializer[Any]):
    transport = serializers.ChoiceField(choices=Transport.choices, required=False)
    name = serializers.CharField(max_length=200, required=False)


class PageCandidateSerializer(serializers.Serializer[Any]):
    page_id = serializers.CharField()
    name = serializers.CharField()
    tasks = serializers.ListField(child=serializers.CharField())
    scopes = serializers.ListField(child=serializers.CharField())
    connectable = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why it cannot be connected, when it cannot.")
    connected_here = serializers.SerializerMethodField()
    connected_elsewhere = serializers.BooleanField(
        help_text="Connected in another Pagepulse workspace: it must be disconnected there "
        "first, or transferred here."
    )
    transferable = serializers.BooleanField(
        help_text='You may transfer it here (`POST pages/ {"transfer": true}`).'
    )

    def get_connected_here(self, candidate: Any) -> int | None:
        return candidate.connected_here.pk if candidate.connected_here else None
