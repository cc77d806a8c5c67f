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
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
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


class TenantMetadata(SimpleMetadata):
    """DRF's OPTIONS metadata, offering only the write forms the caller's role may use."""

    def determine_actions(self, request: Request, view: APIView) -> dict[str, Any]:
        actions: dict[str, Any] = {}
        for method in ("POST", "PUT"):
            if method not in view.allowed_methods:
                continue
            if not isinstance(view, TenantScopedMixin) or not isinstance(view, GenericAPIView):
                continue
            if not view.role_may(method):
                continue
            actions[method] = self.get_serializer_info(view.get_serializer())
        return actions


class TenantScopedMixin:
    """Resolves `self.tenant`, `self.role` and `self.actor`, and enforces `permissions`.

    `permissions` maps each viewset action (or HTTP method, lower-case, for plain views) to a
    permission of tenants/permissions.py. An action with a handler but missing from the map is
    refused (routes fail closed); a method the route does not have is a 405 with `Allow`, and
    OPTIONS answers any member with DRF's metadata. Non-members get 404 for every method.
    """

    metadata_class: Any = TenantMetadata  # the stubs type it as an instance
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

    def _action_for(self, method: str) -> str | None:
        """The action `method` runs here: "metadata" for OPTIONS, None if the route lacks it."""
        method = method.lower()
        if method == "options":
            return "metadata"
        action_map: dict[str, str] | None = getattr(self, "action_map", None)
        if action_map is not None:  # a viewset: HEAD is in the map wherever GET is
            return action_map.get(method)
        if method not in self.http_method_names or not hasattr(self, method):  # type: ignore[attr-defined]
            return None
        return "get" if method == "head" else method

    def required_permission(self, request: Request) -> str | None:
        """The permission this request needs; None for OPTIONS (any member may ask)."""
        action = self._action_for(request.method or "")
        if action is None:
            raise exceptions.MethodNotAllowed(request.method or "")
        if action == "metadata":
            return None
        try:
            return self.permissions[action]
        except KeyError:
            raise ImproperlyConfigured(
                f"{type(self).__name__} has no permission for action {action!r}"
            ) from None

    def role_may(self, method: str) -> bool:
        """Whether this request's role may send `method` a body here (OPTIONS' write forms)."""
        action = self._action_for(method)
        if action in self.bodyless_actions:
            return False
        permission = self.permissions.get(action or "")
        return permission is not None and actor_can(
            role=self.role, actor=self.actor, permission=permission
        )

    def check_role(self, permission: str | None) -> None:
        if permission is not None and not actor_can(
            role=self.role, actor=self.actor, permission=permission
        ):
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
