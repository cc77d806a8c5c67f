from __future__ import annotations

from typing import Any

from django_countries import countries
from django_countries.serializer_fields import CountryField
from rest_framework import serializers

from tenants.models import ApiKey, AuditEvent, ConnectedPage, Membership, Tenant, Transport
from tenants.permissions import Role


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
        fields = ["slug", "name", "country", "deliver_test_events", "role", "created_at"]
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
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "display",
            "is_active",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, help_text="Which integration uses this key.")

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


class ConnectedPageSerializer(serializers.ModelSerializer[ConnectedPage]):
    connected_by = serializers.EmailField(
        source="connected_by.email", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = ConnectedPage
        fields = [
            "id",
            "page_id",
            "name",
            "status",
            "transport",
            "dataset_id",
            "tasks",
            "granted_scopes",
            "token_checked_at",
            "last_error",
            "connected_by",
            "connected_at",
        ]
        read_only_fields = fields


class PageConnectSerializer(serializers.Serializer[Any]):
    page_id = serializers.RegexField(
        r"^[0-9]{1,32}$", help_text="The Facebook Page id, from `?available=1`."
    )
    transport = serializers.ChoiceField(
        choices=Transport.choices,
        required=False,
        help_text="Defaults to DEFAULT_EVENT_TRANSPORT (Conversions API in Europe and Japan).",
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
        help_text="Connected in another Pagepulse workspace too (allowed)."
    )

    def get_connected_here(self, candidate: Any) -> int | None:
        return candidate.connected_here.pk if candidate.connected_here else None
