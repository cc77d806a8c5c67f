"""The base of every API view under /api/v1/tenants/<slug>/.

It resolves the workspace from the URL, admits a member (by session) or the workspace's own
API key, and applies the role table. Anyone else gets a 404, never a 403, so the API does not
reveal which workspaces exist. A test walks every route under that prefix and fails if one is
not built on `TenantScopedMixin`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import Http404
from rest_framework import exceptions, viewsets
from rest_framework.request import Request
from rest_framework.views import APIView

from tenants.api.authentication import ApiKeyUser
from tenants.models import Tenant
from tenants.services import Actor, actor_role
from tenants.services.workspaces import actor_can

TENANT_URL_KWARG = "tenant_slug"


def request_actor(request: Request) -> Actor:
    ip = request.META.get("REMOTE_ADDR") or None
    if isinstance(request.user, ApiKeyUser):
        return Actor(user=None, api_key=request.user.api_key, ip_address=ip)
    return Actor(user=request.user if request.user.is_authenticated else None, ip_address=ip)


class TenantScopedMixin:
    """Resolves `self.tenant`, `self.role` and `self.actor`, and enforces `permissions`.

    `permissions` maps each viewset action (or HTTP method, lower-case, for plain views) to a
    permission of tenants/permissions.py. An action missing from the map is refused: routes
    fail closed.
    """

    permissions: ClassVar[dict[str, str]] = {}
    # Actions that take no request body (e.g. `POST pages/<id>/check/`): one sent is refused.
    bodyless_actions: ClassVar[frozenset[str]] = frozenset()
    tenant: Tenant
    role: str
    actor: Actor

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authenticates
        self.actor = request_actor(request)
        tenant = Tenant.objects.filter(slug=kwargs.get(TENANT_URL_KWARG, "")).first()
        role = actor_role(tenant=tenant, actor=self.actor) if tenant else None
        if tenant is None or role is None:
            raise Http404
        self.tenant, self.role = tenant, role
        self.check_role(self.required_permission(request))
        self.check_body(request)

    def check_body(self, request: Request) -> None:
        """Parse a write's body up front, so a malformed one is a 400 on every route."""
        if request.method not in {"POST", "PUT", "PATCH"}:
            return
        data = request.data
        if getattr(self, "action", None) in self.bodyless_actions and data:
            raise exceptions.ValidationError(
                {"non_field_errors": ["This endpoint takes no request body: send none."]}
            )

    def required_permission(self, request: Request) -> str:
        action = getattr(self, "action", None) or request.method.lower()  # type: ignore[union-attr]
        try:
            return self.permissions[action]
        except KeyError:
            raise ImproperlyConfigured(
                f"{type(self).__name__} has no permission for action {action!r}"
            ) from None

    def check_role(self, permission: str) -> None:
        if not actor_can(role=self.role, actor=self.actor, permission=permission):
            if self.actor.api_key is not None:
                raise exceptions.PermissionDenied(
                    f"This API key (role {self.role}) may not do this: keys never manage "
                    "people or keys, and a key's role is chosen when it is created. Sign in as "
                    "a person, or create a key with a higher role."
                )
            raise exceptions.PermissionDenied(
                f"Your role in this workspace ({self.role}) may not do this. "
                "Ask an owner or admin for a higher role."
            )

    def scoped(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Filter a tenant-owned queryset to this request's workspace."""
        return queryset.filter(tenant=self.tenant)

    def get_serializer_context(self) -> dict[str, Any]:
        context: dict[str, Any] = super().get_serializer_context()  # type: ignore[misc]
        context.update(tenant=getattr(self, "tenant", None), actor=getattr(self, "actor", None))
        return context


class TenantScopedViewSet(TenantScopedMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """A viewset under /api/v1/tenants/<slug>/ (the usual base)."""

    lookup_value_converter = "int"


class TenantScopedAPIView(TenantScopedMixin, APIView):
    """A plain view under /api/v1/tenants/<slug>/, for routes that are not resources."""
