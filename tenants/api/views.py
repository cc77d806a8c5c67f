from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from tenants import services
from tenants.api.authentication import ApiKeyUser
from tenants.api.base import TenantScopedViewSet, request_actor
from tenants.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuditEventSerializer,
    MemberCreateSerializer,
    MembershipSerializer,
    MemberUpdateSerializer,
    TenantSerializer,
)
from tenants.models import ApiKey, AuditEvent, Membership, Tenant
from tenants.permissions import API_KEY_ROLE


class TenantCollectionViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Tenant]
):
    """The workspaces you belong to; create a new one (you become its owner)."""

    serializer_class = TenantSerializer

    def get_queryset(self) -> QuerySet[Tenant]:
        if isinstance(self.request.user, ApiKeyUser):
            return Tenant.objects.filter(pk=self.request.user.api_key.tenant_id)
        return Tenant.objects.filter(membership__user=cast(User, self.request.user)).order_by(
            "name"
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if isinstance(self.request.user, ApiKeyUser):
            context["role"] = API_KEY_ROLE
        else:
            context["roles"] = dict(
                Membership.objects.filter(user=cast(User, self.request.user)).values_list(
                    "tenant_id", "role"
                )
            )
        return context

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if isinstance(request.user, ApiKeyUser):
            raise PermissionDenied("API keys cannot create workspaces; sign in as a person.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant = services.tenant_create(
            owner=cast(User, request.user),
            actor=request_actor(request),
            **serializer.validated_data,
        )
        body = TenantSerializer(tenant, context={"role": "owner"}).data
        return Response(body, status=status.HTTP_201_CREATED)


class TenantDetailViewSet(TenantScopedViewSet):
    """One workspace: read it; admins rename it or change its country."""

    serializer_class = TenantSerializer
    permissions = {
        "retrieve": "tenant.view",
        "update": "tenant.update",
        "partial_update": "tenant.update",
    }

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "role": getattr(self, "role", None)}

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.tenant).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.tenant, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        tenant = services.tenant_update(
            tenant=self.tenant, actor=self.actor, **serializer.validated_data
        )
        return Response(self.get_serializer(tenant).data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """People in the workspace and their roles. The last owner stays an owner."""

    serializer_class = MembershipSerializer
    permissions = {
        "list": "member.view",
        "retrieve": "member.view",
        "create": "member.manage",
        "partial_update": "member.manage",
        "destroy": "member.manage",
    }

    def get_queryset(self) -> QuerySet[Membership]:
        return Membership.objects.for_tenant(self.tenant).select_related("user")

    @extend_schema(request=MemberCreateSerializer, responses={201: MembershipSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = MemberCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.member_add(
            tenant=self.tenant, actor=self.actor, **serializer.validated_data
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberUpdateSerializer, responses={200: MembershipSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.member_change_role(
            tenant=self.tenant,
            actor=self.actor,
            membership_id=self.get_object().pk,
            role=serializer.validated_data["role"],
        )
        return Response(MembershipSerializer(membership).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.member_remove(
            tenant=self.tenant, actor=self.actor, membership_id=self.get_object().pk
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """API keys for integrations. The secret is returned once, by create; DELETE revokes."""

    serializer_class = ApiKeySerializer
    permissions = {
        "list": "api_key.view",
        "retrieve": "api_key.view",
        "create": "api_key.manage",
        "destroy": "api_key.manage",
    }

    def get_queryset(self) -> QuerySet[ApiKey]:
        return ApiKey.objects.for_tenant(self.tenant).select_related("created_by")

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = services.api_key_create(
            tenant=self.tenant, actor=self.actor, name=serializer.validated_data["name"]
        )
        key.key = secret  # type: ignore[attr-defined]  # rendered once, never stored
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.api_key_revoke(tenant=self.tenant, actor=self.actor, key_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Who changed members, roles and API keys, newest first (admins)."""

    serializer_class = AuditEventSerializer
    permissions = {"list": "audit.view"}
    filterset_fields = ["action"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.for_tenant(self.tenant)
