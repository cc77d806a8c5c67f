"""Every API route under /api/v1/tenants/<slug>/, found by walking the URL resolver.

Routes added later are covered without editing the tests that use this module. To turn a
route into concrete requests, each `<pk>`-style argument is filled with the id of a row of the
model behind the route (its serializer's model) that belongs to the given tenant; `world`
creates one row of every tenant-owned model, and a test fails loudly if it lacks one. Arguments
that are not such an id (a flow's version `<number>`) are filled from `URL_ARGUMENTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver

from flows.models import Flow, FlowVersion
from tenants import services
from tenants.models import ConnectedPage, Tenant
from tenants.permissions import Role
from tests.events.factories import delivered_event
from tests.flows.factories import handed_off, published_flow
from tests.tenants.factories import ConnectedPageFactory, member

TENANT_ROUTE_PREFIX = "api/v1/tenants/<slug:tenant_slug>/"
WRITE_METHODS = {"post", "put", "patch", "delete"}


def _version_number(tenant: Tenant) -> int:
    version = FlowVersion.objects.filter(tenant=tenant).order_by("pk").first()
    assert version is not None, f"world() made no FlowVersion for {tenant}; add one"
    return version.number


def _flow_id(tenant: Tenant) -> int:
    flow = Flow.objects.filter(tenant=tenant).order_by("pk").first()
    assert flow is not None, f"world() made no Flow for {tenant}; add one"
    return flow.pk


def _page_id(tenant: Tenant) -> int:
    page = ConnectedPage.objects.filter(tenant=tenant).order_by("pk").first()
    assert page is not None, f"world() made no ConnectedPage for {tenant}; add one"
    return page.pk


# URL arguments that are not an id of the route's model, and how to fill them for a tenant.
URL_ARGUMENTS: dict[str, Callable[[Tenant], Any]] = {
    "flow_id": _flow_id,  # flows/<flow_id>/test-chat/
    "page_id": _page_id,  # pages/<page_id>/move-transport/
    "number": _version_number,  # flows/<pk>/versions/<number>/
    "other": _version_number,  # flows/<pk>/versions/<number>/diff/<other>/
}


@dataclass(frozen=True)
class Route:
    pattern: str  # e.g. "api/v1/tenants/<slug:tenant_slug>/members/<pk>/"
    view_class: type[Any]  # a DRF view or viewset: its `permissions`, `bodyless_actions`
    method: str  # lower-case HTTP method
    action: str  # viewset action, or the method for plain views

    def __str__(self) -> str:
        return f"{self.method.upper()} /{self.pattern}"

    @property
    def model(self) -> type[models.Model] | None:
        serializer = getattr(self.view_class, "serializer_class", None)
        meta = getattr(serializer, "Meta", None)
        return getattr(meta, "model", None)

    def url(self, tenant: Tenant, *, object_tenant: Tenant | None = None) -> str:
        """The concrete URL for `tenant`'s slug, with object ids from `object_tenant`'s rows."""
        path = "/" + self.pattern.replace("<slug:tenant_slug>", tenant.slug)
        while "<" in path:
            start, end = path.index("<"), path.index(">")
            name = path[start + 1 : end].split(":")[-1]
            owner = object_tenant or tenant
            value = URL_ARGUMENTS[name](owner) if name in URL_ARGUMENTS else self.object_id(owner)
            path = path[:start] + str(value) + path[end + 1 :]
        return path

    def object_id(self, tenant: Tenant) -> Any:
        model = self.model
        assert model is not None, f"{self}: cannot tell which model its <pk> names"
        row = model._default_manager.filter(tenant=tenant).order_by("pk").first()
        assert row is not None, f"{self}: world() made no {model.__name__} for {tenant}; add one"
        return row.pk


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def tenant_routes() -> list[Route]:
    routes: list[Route] = []
    for pattern, entry in _walk(get_resolver().url_patterns):
        if not pattern.startswith(TENANT_ROUTE_PREFIX) or "(?P<format>" in pattern:
            continue
        callback = entry.callback
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        actions: dict[str, str] | None = getattr(callback, "actions", None)
        if actions is None:
            assert view_class is not None, f"/{pattern} is not a class-based view"
            actions = {
                method: method
                for method in view_class.http_method_names
                if hasattr(view_class, method) and method not in {"options", "head"}
            }
        assert view_class is not None, f"/{pattern} is not a class-based view"
        for method, action in actions.items():
            routes.append(Route(pattern, view_class, method, action))
    return routes


def world(tenant: Tenant) -> None:
    """At least one row of every tenant-owned model in `tenant` (extend as models appear)."""
    member(tenant, Role.VIEWER)  # first, so routes with a member id name a non-owner
    owner = member(tenant, Role.OWNER)
    services.api_key_create(tenant=tenant, actor=services.Actor(user=owner.user), name="CRM sync")
    page = ConnectedPageFactory.create(tenant=tenant, name=f"{tenant.name} Page")
    flow = published_flow(tenant, page=page, name=f"{tenant.name} welcome flow")
    # A conversation a handoff block flagged, for the handoffs routes.
    handed_off(tenant=tenant, page=page, flow_version=flow.versions.get(), psid="24571937185104")
    # A delivered event with its DeliveryAttempt, for the delivery log's routes.
    delivered_event(page=page, psid="24571937185104")
