"""The flows pages a person sees: the list (and create), and the read-only canvas placeholder."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from events.delivery import delivers_test_events
from flows import services
from flows.blocks import REGISTRY
from flows.forms import FlowCreateForm
from flows.models import Flow, FlowStatus, FlowVersion
from tenants.exceptions import DomainError
from tenants.models import ConnectedPage, Tenant
from tenants.params import id_param
from tenants.permissions import role_can
from tenants.views import actor_for, tenant_page

# A new empty flow starts with its Start block, so the canvas has something to connect to.
START_ONLY = {
    "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}}],
    "edges": [],
}


@tenant_page("flow.view")
@require_http_methods(["GET", "POST"])
def flow_list(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    can_edit = role_can(request.tenant_role, "flow.edit")  # type: ignore[attr-defined]
    form = FlowCreateForm(request.POST or None, tenant=tenant)
    if request.method == "POST":
        if not can_edit:
            messages.error(request, "Your role may not create flows; ask an admin for editor.")
            return redirect("flows:list", slug=tenant.slug)
        if form.is_valid():
            data = form.cleaned_data
            try:
                flow = services.flow_create(
                    tenant=tenant,
                    actor=actor_for(request),
                    page_id=data["page"].pk,
                    name=data["name"],
                    template=data["template"] or None,
                    document=None if data["template"] else START_ONLY,
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"“{flow.name}” created.")
                return redirect("flows:canvas", slug=tenant.slug, flow_id=flow.pk)
    flows = (
        Flow.objects.for_tenant(tenant)
        .select_related("page", "updated_by")
        .annotate(
            latest_version=Max("versions__number"), last_published=Max("versions__published_at")
        )
        .order_by("name", "id")
    )
    page_filter, status_filter = request.GET.get("page_id", ""), request.GET.get("status", "")
    page_pk = id_param(page_filter)
    if page_pk is not None:
        flows = flows.filter(page_id=page_pk)
    if status_filter in FlowStatus.values:
        flows = flows.filter(status=status_filter)
    context = {
        "flows": flows,
        "form": form,
        "can_edit": can_edit,
        "pages": ConnectedPage.objects.for_tenant(tenant),
        "statuses": FlowStatus.choices,
        "page_filter": page_filter,
        "status_filter": status_filter,
    }
    return render(request, "flows/list.html", context, status=400 if form.errors else 200)


def _summary(node: dict[str, object]) -> str:
    """One line saying what a block does, for the read-only list."""
    data = node.get("data") if isinstance(node.get("data"), dict) else {}
    assert isinstance(data, dict)  # noqa: S101  # for the type checker
    for key in ("text", "question", "event", "note", "label"):
        if data.get(key):
            return str(data[key])
    rules = data.get("rules")
    if isinstance(rules, list):
        return f"{data.get('match', 'all')} of {len(rules)} rule{'s' if len(rules) != 1 else ''}"
    return ""


@tenant_page("flow.view")
def flow_canvas(request: HttpRequest, tenant: Tenant, flow_id: int) -> HttpResponse:
    flow = Flow.objects.for_tenant(tenant).select_related("page").filter(pk=flow_id).first()
    if flow is None:
        raise Http404("No such flow")
    document = flow.document
    targets: dict[str, list[tuple[str, str]]] = {}
    for edge in document.get("edges", []):
        targets.setdefault(edge.get("source"), []).append(
            (edge.get("sourceHandle") or "next", edge.get("target"))
        )
    blocks = [
        {
            "id": node.get("id"),
            "type": node.get("type"),
            "label": REGISTRY[node["type"]].label
            if node.get("type") in REGISTRY
            else node.get("type"),
            "summary": _summary(node),
            "next": targets.get(node.get("id"), []),
        }
        for node in document.get("nodes", [])
    ]
    context = {
        "flow": flow,
        "blocks": blocks,
        "problems": services.flow_validate(flow=flow),
        "versions": FlowVersion.objects.for_tenant(tenant)
        .filter(flow=flow)
        .select_related("published_by")
        .order_by("-number")[:10],
        # The test chat runs the flow (and logs test events): editors and above.
        "can_test_chat": role_can(request.tenant_role, "flow.edit"),  # type: ignore[attr-defined]
        "deliver_test_events": delivers_test_events(tenant),
    }
    return render(request, "flows/canvas.html", context)
