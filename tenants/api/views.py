from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
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
    ConnectedPageSerializer,
    MemberCreateSerializer,
    MembershipSerializer,
    MemberUpdateSerializer,
    PageCandidateSerializer,
    PageConnectSerializer,
    PageUpdateSerializer,
    TenantSerializer,
)
from tenants.models import ApiKey, AuditEvent, ConnectedPage, Membership, Tenant


class TenantCollectionViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Tenant]
):
    """The workspaces you belong to; create a new one (you become its owner)."""

    queryset = Tenant.objects.none()  # the model, for the schema; get_queryset scopes
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
            context["role"] = self.request.user.api_key.role
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

    queryset = Membership.objects.none()  # the model, for the schema; get_queryset scopes
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
        membership, _ = services.member_change_role(
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
    """API keys for integrations. The secret is returned once, by create; DELETE revokes.

    A key belongs to the admin who made it and acts with the role chosen then (viewer, editor
    or admin, never above its creator's); it stops working when it expires, is revoked, or its
    owner is removed or demoted below admin (the workspace may hand such keys over instead).
    """

    queryset = ApiKey.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = ApiKeySerializer
    permissions = {
        "list": "api_key.view",
        "retrieve": "api_key.view",
        "create": "api_key.manage",
        "destroy": "api_key.manage",
    }

    def get_queryset(self) -> QuerySet[ApiKey]:
        return ApiKey.objects.for_tenant(self.tenant).select_related("created_by", "owner")

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = services.api_key_create(
            tenant=self.tenant, actor=self.actor, **serializer.validated_data
        )
        key.key = secret  # type: ignore[attr-defined]  # rendered once, never stored
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.api_key_revoke(tenant=self.tenant, actor=self.actor, key_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """Who changed members, roles and API keys, newest first (admins)."""

    queryset = AuditEvent.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = AuditEventSerializer
    permissions = {"list": "audit.view"}
    filterset_fields = ["action"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.for_tenant(self.tenant)


class ConnectedPageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Facebook Pages connected to the workspace.

    `GET ?available=1` (or `GET available/`) lists the Pages the signed-in person's last
    Facebook Login found, each saying whether it can be connected here and, if not, why.
    `POST {"page_id", "transport"}` connects one of those; `DELETE` disconnects (unsubscribes
    the app and forgets the token); `POST <id>/check/` asks Facebook whether the token works.
    """

    queryset = ConnectedPage.objects.none()  # the model, for the schema; get_queryset scopes
    serializer_class = ConnectedPageSerializer
    permissions = {
        "list": "page.view",
        "available": "page.view",
        "retrieve": "page.view",
        "create": "page.manage",
        "partial_update": "page.manage",
        "destroy": "page.manage",
        "check": "page.manage",
    }
    filterset_fields = ["status", "transport"]
    bodyless_actions = frozenset({"check"})

    def get_queryset(self) -> QuerySet[ConnectedPage]:
        return ConnectedPage.objects.for_tenant(self.tenant).select_related("connected_by")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if request.query_params.get("available") in {"1", "true"}:
            return self._available(request)
        return super().list(request, *args, **kwargs)

    # A short list, never paginated: the schema says so (pagination_class=None).
    @extend_schema(responses={200: PageCandidateSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)
    def available(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._available(request)

    def _available(self, request: Request) -> Response:
        if isinstance(request.user, ApiKeyUser):
            return Response([])  # an API key has no Facebook Login of its own
        candidates = services.page_candidates(tenant=self.tenant, user=cast(User, request.user))
        return Response(PageCandidateSerializer(candidates, many=True).data)

    @extend_schema(request=PageConnectSerializer, responses={201: ConnectedPageSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PageConnectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        page = services.page_connect(
            tenant=self.tenant, actor=self.actor, **serializer.validated_data
        )
        return Response(ConnectedPageSerializer(page).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PageUpdateSerializer, responses={200: ConnectedPageSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PageUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        page = services.page_update(
            tenant=self.tenant,
            actor=self.actor,
            page_pk=self.get_object().pk,
            **serializer.validated_data,
        )
        return Response(ConnectedPageSerializer(page).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.page_disconnect(tenant=self.tenant, actor=self.actor, page_pk=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: ConnectedPageSerializer})
    @action(detail=True, methods=["post"])
    def check(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = services.page_check_token(page=self.get_object())
        return Response(ConnectedPageSerializer(page).data)
