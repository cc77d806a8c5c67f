"""The flows pages a person sees: the list, the template gallery (new flow), the editor, and
the move of a Page to the Conversions API (it checks the Page's flows, so it lives here)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from events import selectors as event_selectors
from events.currencies import CURRENCIES
from events.delivery import delivers_test_events
from events.selectors import UnsentSummary
from events.transport_status import KEEP_CHOICE, transport_status
from flows import services, transport_move
from flows.blocks.base import SYSTEM_VARIABLES
from flows.flow_templates import TEMPLATES
from flows.forms import FlowCreateForm
from flows.models import Flow, FlowStatus, FlowVersion
from tenants.exceptions import DomainError
from tenants.models import ConnectedPage, Tenant, Transport
from tenants.params import id_param
from tenants.permissions import role_can
from tenants.views import actor_for, tenant_page


@tenant_page("flow.view")
@require_http_methods(["GET"])
def flow_list(request: HttpRequest, tenant: Tenant) -> HttpResponse:
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
        "can_edit": role_can(request.tenant_role, "flow.edit"),  # type: ignore[attr-defined]
        "pages": ConnectedPage.objects.for_tenant(tenant),
        "statuses": FlowStatus.choices,
        "page_filter": page_filter,
        "status_filter": status_filter,
    }
    return render(request, "flows/list.html", context)


@tenant_page("flow.edit")
@require_http_methods(["GET", "POST"])
def flow_new(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The template gallery: Blank, or a ready-made flow; then the editor opens."""
    form = FlowCreateForm(request.POST or None, tenant=tenant)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            flow = services.flow_create(
                tenant=tenant,
                actor=actor_for(request),
                page_id=data["page"].pk,
                name=data["name"],
                template=data["template"] or None,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"“{flow.name}” created.")
            return redirect("flows:editor", slug=tenant.slug, flow_id=flow.pk)
    gallery = [
        {
            "key": "",
            "name": "Blank",
            "description": "Only the Start block: build your own from the palette.",
            "blocks": 1,
        },
        *(
            {
                "key": template.key,
                "name": template.name,
                "description": template.description,
                "blocks": len(template.nodes),
            }
            for template in TEMPLATES.values()
        ),
    ]
    context = {"form": form, "gallery": gallery, "chosen": form["template"].value() or ""}
    return render(request, "flows/new.html", context, status=400 if form.errors else 200)


def _editor_config(request: HttpRequest, tenant: Tenant, flow: Flow) -> dict[str, object]:
    """What the editor island needs besides the REST API: who may do what, and where things are."""
    role = request.tenant_role  # type: ignore[attr-defined]
    return {
        "flowId": flow.pk,
        "tenantSlug": tenant.slug,
        "apiRoot": "/api/v1/",
        "csrfToken": get_token(request),
        "canEdit": role_can(role, "flow.edit"),
        "canPublish": role_can(role, "flow.publish"),
        # The test chat runs the flow and logs (test) events: editors and above.
        "canTestChat": role_can(role, "flow.edit"),
        "flowsUrl": reverse("flows:list", args=[tenant.slug]),
        "eventUrlTemplate": reverse("events:detail", args=[tenant.slug, 0]),
        "currencies": sorted(CURRENCIES.items()),
        "user": request.user.get_username(),
        "systemVariables": sorted(SYSTEM_VARIABLES),
        "pageTransport": flow.page.transport,
        "messengerBaseUrl": "https://m.me/",
    }


def editor_is_built() -> bool:
    """Whether the editor can be served: built (make install), or from Vite's dev server."""
    return (
        bool(settings.DJANGO_VITE["default"]["dev_mode"])
        or Path(settings.EDITOR_MANIFEST).is_file()
    )


def flow_unsent(tenant: Tenant, flow: Flow) -> UnsentSummary:
    """The flow's live events that were not sent in the last 24 h, for the banner
    (templates/events/_not_sent_banner.html) on the flow's page and the editor's."""
    version_ids = list(
        FlowVersion.objects.for_tenant(tenant).filter(flow=flow).values_list("pk", flat=True)
    )
    return event_selectors.flow_unsent_summary(tenant=tenant, version_ids=version_ids)


@tenant_page("flow.view")
def flow_editor(request: HttpRequest, tenant: Tenant, flow_id: int) -> HttpResponse:
    flow = Flow.objects.for_tenant(tenant).select_related("page").filter(pk=flow_id).first()
    if flow is None:
        raise Http404("No such flow")
    api = f"/api/v1/tenants/{tenant.slug}"
    context = {
        "flow": flow,
        "editor_config": _editor_config(request, tenant, flow),
        # The island's first requests, fetched while its script loads (it asks for exactly
        # these URLs, and the browser hands it the preloaded answers).
        "preload": [
            "/api/v1/blocks/",
            f"{api}/flows/{flow.pk}/",
            f"{api}/pages/?page=1",
            f"{api}/flows/{flow.pk}/versions/?page=1",
            "/api/v1/event-catalog",
            f"/api/v1/event-catalog?transport={flow.page.transport}",
        ],
        "editor_built": editor_is_built(),
        "deliver_test_events": delivers_test_events(tenant),
        "unsent": flow_unsent(tenant, flow),
    }
    return render(
        request, "flows/editor.html", context, status=200 if context["editor_built"] else 503
    )


# --- Moving a Page to the Conversions API (the Pages screen's guided step) ----------------------


@tenant_page("page.manage")
@require_http_methods(["GET", "POST"])
def page_move(request: HttpRequest, tenant: Tenant, page_pk: int) -> HttpResponse:
    """“Move to the Conversions API”: the dry run's list, then the move.

    GET lists what would move, reading only. POST without ``confirm`` is the dry run proper
    (it also creates or fetches the Page's dataset); POST with ``confirm`` moves, keeping
    unsendable events in Pagepulse only when ``keep_unsendable`` is ticked.
    """
    page = ConnectedPage.objects.for_tenant(tenant).filter(pk=page_pk).first()
    if page is None:
        raise Http404("No such Page")
    actor = actor_for(request)
    keep = request.POST.get("keep_unsendable") == "1"
    error = ""
    report = None
    status = 200
    try:
        if request.method == "POST":
            report = transport_move.page_move_transport(
                tenant=tenant,
                actor=actor,
                page_pk=page.pk,
                dry_run=request.POST.get("confirm") != "1",
                keep_unsendable=keep,
            )
            if report.moved:
                moved = report.events_moved
                messages.success(
                    request,
                    f"“{page.name}” now sends its events through the Conversions API."
                    + (
                        f" {moved.mapped} waiting event{'s' if moved.mapped != 1 else ''} "
                        "moved with it."
                        if moved and moved.mapped
                        else ""
                    ),
                )
                return redirect("tenants:pages", slug=tenant.slug)
        elif page.transport != Transport.CONVERSIONS_API:
            report = transport_move.page_move_report(
                tenant=tenant, page=page, target=Transport.CONVERSIONS_API
            )
    except DomainError as refused:
        error, status = refused.message, refused.status
        if page.transport != Transport.CONVERSIONS_API:
            report = transport_move.page_move_report(
                tenant=tenant, page=page, target=Transport.CONVERSIONS_API
            )
    context = {
        "page": page,
        "report": report,
        "error": error,
        "keep": keep,
        "status_from": transport_status(page.transport),
        "status_to": transport_status(Transport.CONVERSIONS_API),
        "keep_choice": KEEP_CHOICE,
    }
    return render(request, "tenants/page_move.html", context, status=status)
