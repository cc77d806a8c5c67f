"""The workspace pages a person sees: list and create, overview, members, API keys, audit."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from tenants import selectors, services
from tenants.confirm import Confirmation, confirm_page, is_confirmed
from tenants.crypto import decrypt_token, encrypt_token
from tenants.exceptions import DomainError
from tenants.forms import (
    ApiKeyForm,
    AuditFilterForm,
    MemberAddForm,
    MemberRoleForm,
    WorkspaceForm,
    WorkspaceSettingsForm,
)
from tenants.models import (
    ApiKey,
    AuditEvent,
    ConnectedPage,
    Membership,
    PageGrant,
    PageStatus,
    Tenant,
    Transport,
)
from tenants.permissions import role_can
from tenants.pipeline import SESSION_MISSING_SCOPES, SESSION_RENEWED_PAGES, SESSION_WORKSPACE
from tenants.services.pages import PageCandidate, default_transport
from tenants.transports import transport_status

View = Callable[..., HttpResponse]


def actor_for(request: HttpRequest) -> services.Actor:
    return services.Actor(
        user=cast(User, request.user), ip_address=request.META.get("REMOTE_ADDR") or None
    )


def redirect_back(request: HttpRequest, tenant: Tenant, *, fallback: str) -> HttpResponse:
    """Redirect to the form's `next` if it is a page of this workspace, else to `fallback`.

    `next` comes from the request, so it is never handed to `redirect()` (which takes a bare
    word for a URL name: "3" raised NoReverseMatch) and never leaves this workspace's pages.
    """
    target = request.POST.get("next", "") or request.GET.get("next", "")
    if (
        target.startswith(f"/t/{tenant.slug}/")
        and "\\" not in target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return HttpResponseRedirect(target)
    return redirect(fallback, slug=tenant.slug)


def tenant_page(permission: str) -> Callable[[View], View]:
    """Resolve /t/<slug>/ for a member (404 for anyone else) and require `permission`."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            tenant = Tenant.objects.filter(slug=slug).first()
            role = services.role_of(tenant=tenant, user=request.user) if tenant else None
            if tenant is None or role is None:
                raise Http404("No such workspace")
            if not role_can(role, permission):
                raise PermissionDenied(
                    f"Your role ({role}) may not open this page; ask an admin of {tenant.name}."
                )
            request.tenant, request.tenant_role = tenant, role  # type: ignore[attr-defined]
            if request.session.get(SESSION_WORKSPACE) != tenant.slug:
                # Entering a workspace (after sign-in, or from another one) is what the next
                # sign-in remembers; pages within it cost no write.
                services.membership_mark_used(tenant=tenant, user=cast(User, request.user))
            request.session[SESSION_WORKSPACE] = tenant.slug
            return view(request, tenant, *args, **kwargs)

        return wrapper

    return decorator


def sign_in_locked_out(
    request: HttpRequest, response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """django-axes' lockout answer (settings.AXES_LOCKOUT_CALLABLE): a 429 page that says what
    happened, for how long, and who can lift it."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on their own (a 404 there is a console error)."""
    return redirect(static("img/logo.svg"))


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    slug = request.session.get(SESSION_WORKSPACE)
    if slug and Membership.objects.filter(tenant__slug=slug, user=request.user).exists():
        return redirect("insights:overview", slug=slug)
    # After sign-in (a new session): the workspace this person used last, on any device.
    last = selectors.last_used_workspace(user=request.user)
    if last is not None:
        return redirect("insights:overview", slug=last.slug)
    return redirect("tenants:workspace_list")


# --- What each destructive action says before it happens (tenants/confirm.py) ---------------


def deletion_date(tenant: Tenant) -> str:
    """The day a scheduled workspace deletion happens, as people write it ("11 December 2026")."""
    when = tenant.delete_after or timezone.now() + services.workspace_deletion_grace()
    return f"{timezone.localdate(when):%-d %B %Y}"


def disconnect_confirmation(page: ConnectedPage) -> Confirmation:
    seconds = settings.PAGE_DISCONNECT_UNDO_SECONDS
    return Confirmation(
        title=f"Disconnect “{page.name}”?",
        lost=[
            "Pagepulse stops receiving this Page's messages, so its flows stop answering there.",
            "Its new events are no longer sent to Facebook.",
        ],
        kept=[
            "Its flows, past events and delivery log stay in this workspace.",
            f"For {seconds} seconds you can Undo; after that its token is forgotten and "
            "connecting it again needs Continue with Facebook.",
        ],
        button="Disconnect Page",
    )


def transport_confirmation(page: ConnectedPage) -> Confirmation:
    return Confirmation(
        title=f"Change how “{page.name}” sends its events to Facebook?",
        lost=["From now on its events go to Facebook the way you chose."],
        kept=[
            "Events already sent stay as they are in Facebook.",
            "You can switch back here at any time.",
        ],
        button="Change",
    )


def member_remove_confirmation(tenant: Tenant, membership: Membership) -> Confirmation:
    keys = (
        "Their API keys stop working at once."
        if tenant.departing_member_keys == "revoke"
        else "Their API keys are handed to you and keep working."
    )
    who = membership.user.email or membership.user.username
    undo = (
        "Their keys stay revoked."
        if tenant.departing_member_keys == "revoke"
        else "Their keys become theirs again."
    )
    return Confirmation(
        title=f"Remove {who} from {tenant.name}?",
        lost=[f"They can no longer open {tenant.name}.", keys],
        kept=[
            "What they did stays in the audit log.",
            f"For {settings.MEMBER_REMOVE_UNDO_SECONDS} seconds you can Undo: they come back "
            f"as {membership.get_role_display()}. {undo}",
        ],
        button="Remove member",
    )


def api_key_revoke_confirmation(key: ApiKey) -> Confirmation:
    return Confirmation(
        title=f"Revoke the API key “{key.name}”?",
        lost=[
            "Every integration that uses it is refused from now on.",
            "This cannot be undone: a revoked key never works again.",
        ],
        kept=["Its history stays in the audit log. Create a new key to replace it."],
        button="Revoke key",
        typed=key.name,
    )


def workspace_delete_confirmation(tenant: Tenant) -> Confirmation:
    grace = services.workspace_deletion_grace()
    when = timezone.localdate(timezone.now() + grace)
    return Confirmation(
        title=f"Delete the workspace “{tenant.name}”?",
        lost=[
            f"On {when:%-d %B %Y}, {grace.days} days from now, the workspace and everything in it "
            "are removed for good: Pages, flows, events, members, API keys and the audit log.",
        ],
        kept=[
            "Until then everything keeps working, and any owner can restore it in Settings.",
        ],
        button="Delete workspace",
        typed=tenant.name,
    )


@login_required
@require_http_methods(["GET", "POST"])
def workspace_list(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tenant = services.tenant_create(
            name=form.cleaned_data["name"],
            country=form.cleaned_data["country"],
            owner=cast(User, request.user),
            actor=actor_for(request),
        )
        messages.success(request, f"Workspace “{tenant.name}” created. You are its owner.")
        return redirect("insights:overview", slug=tenant.slug)
    memberships = (
        Membership.objects.filter(user=cast(User, request.user))
        .select_related("tenant")
        .order_by("tenant__name")
    )
    return render(
        request,
        "tenants/workspace_list.html",
        {"memberships": memberships, "form": form},
        status=400 if form.errors else 200,
    )


@tenant_page("tenant.view")
def overview(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    context = {
        "member_count": Membership.objects.for_tenant(tenant).count(),
        "active_key_count": ApiKey.objects.for_tenant(tenant).filter(revoked_at=None).count(),
        "recent_audit": AuditEvent.objects.for_tenant(tenant)[:5]
        if role_can(request.tenant_role, "audit.view")  # type: ignore[attr-defined]
        else None,
    }
    return render(request, "tenants/overview.html", context)


@tenant_page("tenant.update")
@require_http_methods(["GET", "POST"])
def workspace_settings(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    initial = {
        "name": tenant.name,
        "country": str(tenant.country),
        "deliver_test_events": tenant.deliver_test_events,
        "departing_member_keys": tenant.departing_member_keys,
        "transcript_retention_days": tenant.transcript_retention_days,
    }
    form = WorkspaceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.tenant_update(tenant=tenant, actor=actor_for(request), **form.cleaned_data)
        messages.success(request, "Workspace settings saved.")
        return redirect("tenants:settings", slug=tenant.slug)
    return render(
        request,
        "tenants/settings.html",
        {
            "form": form,
            "delete_confirmation": workspace_delete_confirmation(tenant),
            "delete_grace_days": settings.WORKSPACE_DELETION_GRACE_DAYS,
            "can_delete": role_can(request.tenant_role, "tenant.delete"),  # type: ignore[attr-defined]
        },
        status=400 if form.errors else 200,
    )


@tenant_page("tenant.delete")
@require_POST
def workspace_delete(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    confirmation = workspace_delete_confirmation(tenant)
    if not is_confirmed(request, confirmation):
        return confirm_page(
            request, confirmation, cancel_url=reverse("tenants:settings", args=[tenant.slug])
        )
    tenant = services.tenant_schedule_deletion(
        tenant=tenant, actor=actor_for(request), confirm_name=request.POST.get("confirm_text", "")
    )
    messages.warning(
        request,
        f"“{tenant.name}” will be deleted on {deletion_date(tenant)}. "
        "Until then any owner can restore it here.",
    )
    return redirect("tenants:settings", slug=tenant.slug)


@tenant_page("tenant.delete")
@require_POST
def workspace_restore(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    services.tenant_restore(tenant=tenant, actor=actor_for(request))
    messages.success(request, f"“{tenant.name}” is restored: it will not be deleted.")
    return redirect("tenants:settings", slug=tenant.slug)


@tenant_page("member.view")
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    form = MemberAddForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                membership = services.member_add(
                    tenant=tenant, actor=actor_for(request), **form.cleaned_data
                )
            except DomainError as error:
                form.add_error("email", error.message)
            else:
                messages.success(
                    request, f"Added {membership.user.email} as {membership.get_role_display()}."
                )
                return redirect("tenants:members", slug=tenant.slug)
        status = 400
    rows = list(
        Membership.objects.for_tenant(tenant).select_related("user").order_by("user__email")
    )
    for row in rows:
        row.remove_confirmation = member_remove_confirmation(tenant, row)  # type: ignore[attr-defined]
    window = services.member_remove_undo_window()
    undoable = (
        [
            (removal, removal.created_at + window)
            for removal in services.member_removals_undoable(tenant=tenant)
        ]
        if role_can(request.tenant_role, "member.manage")  # type: ignore[attr-defined]
        else []
    )
    return render(
        request,
        "tenants/members.html",
        {"rows": rows, "form": form, "role_form": MemberRoleForm(), "undoable": undoable},
        status=status,
    )


@tenant_page("member.manage")
@require_POST
def member_role(request: HttpRequest, tenant: Tenant, membership_id: int) -> HttpResponse:
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick one of the roles: owner, admin, editor or viewer.")
        return redirect("tenants:members", slug=tenant.slug)
    try:
        membership, keys = services.member_change_role(
            tenant=tenant,
            actor=actor_for(request),
            membership_id=membership_id,
            role=form.cleaned_data["role"],
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        done = f"{membership.user.email} is now {membership.get_role_display()}."
        messages.success(request, f"{done} {keys.message}".strip())
    return redirect("tenants:members", slug=tenant.slug)


@tenant_page("member.manage")
@require_POST
def member_remove(request: HttpRequest, tenant: Tenant, membership_id: int) -> HttpResponse:
    membership = (
        Membership.objects.for_tenant(tenant)
        .select_related("user")
        .filter(pk=membership_id)
        .first()
    )
    if membership is None:
        raise Http404("No such member in this workspace")
    confirmation = member_remove_confirmation(tenant, membership)
    if not is_confirmed(request, confirmation):
        return confirm_page(
            request, confirmation, cancel_url=reverse("tenants:members", args=[tenant.slug])
        )
    try:
        keys = services.member_remove(
            tenant=tenant, actor=actor_for(request), membership_id=membership_id
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Member removed. {keys.message}".strip())
    return redirect("tenants:members", slug=tenant.slug)


@tenant_page("member.manage")
@require_POST
def member_remove_undo(request: HttpRequest, tenant: Tenant, user_id: int) -> HttpResponse:
    try:
        membership = services.member_remove_undo(
            tenant=tenant, actor=actor_for(request), user_id=user_id
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        who = membership.user.email or membership.user.username
        messages.success(request, f"{who} is a member again, as {membership.get_role_display()}.")
    return redirect("tenants:members", slug=tenant.slug)


NEW_API_KEY_SESSION_KEY = "new_api_key"


@tenant_page("api_key.view")
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST":
        if not role_can(request.tenant_role, "api_key.manage"):  # type: ignore[attr-defined]
            raise PermissionDenied
        if form.is_valid():
            try:
                key, secret = services.api_key_create(
                    tenant=tenant,
                    actor=actor_for(request),
                    name=form.cleaned_data["name"],
                    role=form.cleaned_data["role"],
                    expires_at=form.expires_at,
                )
            except DomainError as error:
                field = {"expires_at": "expires_on"}.get(next(iter(error.details), ""), "name")
                form.add_error(field if field in form.fields else "name", error.message)
            else:
                # Post/redirect/get, so a reload cannot create a second key. The secret rides
                # to the next page encrypted in the session and is shown there once.
                request.session[NEW_API_KEY_SESSION_KEY] = [key.pk, encrypt_token(secret)]
                return redirect("tenants:api_keys", slug=tenant.slug)
    created: tuple[ApiKey, str] | None = None
    pending = request.session.pop(NEW_API_KEY_SESSION_KEY, None)
    if pending:
        key_id, ciphertext = pending
        new_key = ApiKey.objects.for_tenant(tenant).filter(pk=key_id).first()
        if new_key is not None:
            created = (new_key, decrypt_token(ciphertext))
    keys = selectors.api_keys_with_status(tenant=tenant)
    for row in keys:
        row.key.revoke_confirmation = api_key_revoke_confirmation(row.key)  # type: ignore[attr-defined]
    response = render(
        request,
        "tenants/api_keys.html",
        {"keys": keys, "form": form, "created": created},
        status=400 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


@tenant_page("api_key.manage")
@require_POST
def api_key_revoke(request: HttpRequest, tenant: Tenant, key_id: int) -> HttpResponse:
    target = ApiKey.objects.for_tenant(tenant).filter(pk=key_id).first()
    if target is None:
        raise Http404("No such API key in this workspace")
    confirmation = api_key_revoke_confirmation(target)
    if not is_confirmed(request, confirmation):
        return confirm_page(
            request, confirmation, cancel_url=reverse("tenants:api_keys", args=[tenant.slug])
        )
    try:
        key = services.api_key_revoke(tenant=tenant, actor=actor_for(request), key_id=key_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Key “{key.name}” revoked. It stopped working at once.")
    return redirect("tenants:api_keys", slug=tenant.slug)


@tenant_page("audit.view")
def audit(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    events = AuditEvent.objects.for_tenant(tenant)
    actors = sorted(set(events.values_list("actor_label", flat=True).distinct()))
    params = request.GET.copy()
    params.pop("page", None)
    form = AuditFilterForm(params if any(params.values()) else None, actors=actors)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["actor"]:
            events = events.filter(actor_label=data["actor"])
        if data["action"]:
            events = events.filter(action=data["action"])
        if start := form.start():
            events = events.filter(created_at__gte=start)
        if end := form.end():
            events = events.filter(created_at__lt=end)
    elif form.is_bound:
        events = events.none()
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "tenants/audit.html",
        {"page": page, "form": form, "query": params.urlencode(), "filtered": form.is_bound},
        status=400 if form.errors else 200,
    )


# --- Facebook Pages ------------------------------------------------------------------------


@login_required
def facebook_done(request: HttpRequest) -> HttpResponse:
    """Where Facebook Login lands: the workspace's Pages screen, with what the login renewed."""
    slug = request.session.get(SESSION_WORKSPACE)
    user = cast(User, request.user)
    membership = (
        Membership.objects.filter(user=user, tenant__slug=slug).select_related("tenant").first()
        or Membership.objects.filter(user=user).select_related("tenant").first()
    )
    if membership is None:
        return redirect("tenants:workspace_list")
    for name in request.session.pop(SESSION_RENEWED_PAGES, []):
        messages.success(request, f"“{name}” is connected again with a fresh token.")
    return redirect("tenants:pages", slug=membership.tenant.slug)


PAGES_PER_SCREEN = 20
"""Pages from a login shown at once: a person with 60 Pages pages through them."""

CANDIDATE_FILTERS: dict[str, tuple[str, Callable[[PageCandidate], bool]]] = {
    "all": ("All", lambda c: True),
    "connectable": ("Can connect", lambda c: c.connectable),
    "blocked": ("Can't connect", lambda c: not c.connectable),
}


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort "Shop #2" before "Shop #10": digit runs compare as numbers, text without case."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.casefold())
        for part in re.split(r"(\d+)", name)
        if part
    )


def _matches(query: str, *values: str) -> bool:
    folded = query.casefold()
    return any(folded in value.casefold() for value in values)


@tenant_page("page.view")
def pages(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    user = cast(User, request.user)
    connected = sorted(
        ConnectedPage.objects.for_tenant(tenant).select_related("connected_by"),
        key=lambda p: natural_key(p.name),
    )
    candidates = services.page_candidates(tenant=tenant, user=user)
    statuses = {value: transport_status(value) for value in Transport.values}
    allowed = services.region_allows_page_activities(tenant)
    for page in connected:
        page.transport_info = statuses.get(page.transport)  # type: ignore[attr-defined]
        page.disconnect_confirmation = disconnect_confirmation(page)  # type: ignore[attr-defined]
        page.transport_confirmation = transport_confirmation(page)  # type: ignore[attr-defined]
    window = timedelta(seconds=settings.PAGE_DISCONNECT_UNDO_SECONDS)
    to_connect = sorted(
        (
            c
            for c in candidates
            if c.connected_here is None or c.connected_here.status != PageStatus.ACTIVE
        ),
        key=lambda c: natural_key(c.name),
    )
    query = request.GET.get("q", "").strip()[:100]
    shown = request.GET.get("show", "all")
    if shown not in CANDIDATE_FILTERS:
        shown = "all"
    searched = [c for c in to_connect if not query or _matches(query, c.name, c.page_id)]
    filters = [
        {
            "value": value,
            "label": label,
            "count": sum(1 for c in searched if keep(c)),
            "current": value == shown,
        }
        for value, (label, keep) in CANDIDATE_FILTERS.items()
    ]
    keep = CANDIDATE_FILTERS[shown][1]
    screen = Paginator([c for c in searched if keep(c)], PAGES_PER_SCREEN).get_page(
        request.GET.get("page")
    )
    context = {
        "connected": [p for p in connected if p.status != PageStatus.DISCONNECTED],
        "disconnected": [p for p in connected if p.status == PageStatus.DISCONNECTED],
        "transferred_away": [
            p for p in connected if p.transferred_at and p.status == PageStatus.DISCONNECTED
        ],
        "transport_options": [
            status
            for status in statuses.values()
            if status.transport != Transport.PAGE_ACTIVITIES or allowed
        ],
        "candidates": screen,
        "candidates_total": len(to_connect),
        "bulk_connectable": any(c.connectable and not c.transferable for c in screen),
        "query": query,
        "shown": shown,
        "filters": filters,
        "missing_scopes": request.session.get(SESSION_MISSING_SCOPES, []),
        "has_grants": bool(candidates),
        "page_activities_allowed": allowed,
        "default_transport": default_transport(tenant),
        "can_manage": role_can(request.tenant_role, "page.manage"),  # type: ignore[attr-defined]
        "undoable": [
            (p, p.disconnected_at + window)
            for p in connected
            if services.page_can_undo_disconnect(p) and p.disconnected_at is not None
        ],
    }
    return render(request, "tenants/pages.html", context)


def _page_action(
    request: HttpRequest, tenant: Tenant, action: Callable[[], ConnectedPage], done: str
) -> HttpResponse:
    try:
        page = action()
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done.format(name=page.name))
    return redirect("tenants:pages", slug=tenant.slug)


@tenant_page("page.manage")
@require_POST
def page_connect(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    return _page_action(
        request,
        tenant,
        lambda: services.page_connect(
            tenant=tenant,
            actor=actor_for(request),
            page_id=request.POST.get("page_id", ""),
            transport=request.POST.get("transport") or None,
            transfer=request.POST.get("transfer") == "1",
        ),
        "“{name}” is connected. Its events will be delivered to Facebook."
        if request.POST.get("transfer") != "1"
        else "“{name}” is transferred here and connected; the other workspace's admins are told.",
    )


MAX_BULK_CONNECT = 100
"""Pages connected in one go: each is a few Graph calls, made while the person waits."""


@tenant_page("page.manage")
@require_POST
def page_connect_selected(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """Connect every Page ticked on the screen, each on its own: one Facebook refusal does not
    undo the others, and each Page that could not be connected is named with why."""
    page_ids = list(dict.fromkeys(request.POST.getlist("page_id")))
    back = redirect_back(request, tenant, fallback="tenants:pages")
    if not page_ids:
        messages.error(request, "Tick the Pages to connect first, then press Connect selected.")
        return back
    if len(page_ids) > MAX_BULK_CONNECT:
        messages.error(
            request,
            f"{len(page_ids)} Pages are ticked; connect at most {MAX_BULK_CONNECT} at a time.",
        )
        return back
    transport = request.POST.get("transport") or None
    names = dict(
        PageGrant.objects.filter(user=cast(User, request.user), page_id__in=page_ids).values_list(
            "page_id", "name"
        )
    )
    connected: list[str] = []
    refused: list[str] = []
    for page_id in page_ids:
        try:
            page = services.page_connect(
                tenant=tenant, actor=actor_for(request), page_id=page_id, transport=transport
            )
        except DomainError as error:
            refused.append(f"“{names.get(page_id, page_id)}”: {error.message}")
        else:
            connected.append(page.name)
    if connected:
        listed = ", ".join(f"“{name}”" for name in connected)
        messages.success(
            request,
            f"{len(connected)} Page{'s are' if len(connected) > 1 else ' is'} connected: "
            f"{listed}. Their events will be delivered to Facebook.",
        )
    for reason in refused:
        messages.error(request, f"Not connected {reason}")
    return back


@tenant_page("page.manage")
@require_POST
def page_transport(request: HttpRequest, tenant: Tenant, page_pk: int) -> HttpResponse:
    page = _tenant_page_or_404(tenant, page_pk)
    if request.POST.get("transport") != page.transport and not is_confirmed(
        request, transport_confirmation(page)
    ):
        return confirm_page(
            request,
            transport_confirmation(page),
            cancel_url=reverse("tenants:pages", args=[tenant.slug]),
        )
    return _page_action(
        request,
        tenant,
        lambda: services.page_update(
            tenant=tenant,
            actor=actor_for(request),
            page_pk=page_pk,
            transport=request.POST.get("transport", ""),
        ),
        "“{name}” now sends its events to Facebook the new way.",
    )


@tenant_page("page.manage")
@require_POST
def page_check(request: HttpRequest, tenant: Tenant, page_pk: int) -> HttpResponse:
    page = ConnectedPage.objects.for_tenant(tenant).filter(pk=page_pk).first()
    if page is None:
        raise Http404("No such Page")
    try:
        page = services.page_check_token(page=page)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("tenants:pages", slug=tenant.slug)
    if page.status == PageStatus.ACTIVE:
        messages.success(request, f"“{page.name}”: Facebook accepts its token.")
    else:
        messages.warning(request, f"“{page.name}”: {page.last_error}")
    return redirect("tenants:pages", slug=tenant.slug)


@tenant_page("page.manage")
@require_POST
def page_disconnect(request: HttpRequest, tenant: Tenant, page_pk: int) -> HttpResponse:
    page = _tenant_page_or_404(tenant, page_pk)
    confirmation = disconnect_confirmation(page)
    if not is_confirmed(request, confirmation):
        return confirm_page(
            request, confirmation, cancel_url=reverse("tenants:pages", args=[tenant.slug])
        )
    return _page_action(
        request,
        tenant,
        lambda: services.page_disconnect(tenant=tenant, actor=actor_for(request), page_pk=page_pk),
        "“{name}” is disconnected.",
    )


@tenant_page("page.manage")
@require_POST
def page_disconnect_undo(request: HttpRequest, tenant: Tenant, page_pk: int) -> HttpResponse:
    return _page_action(
        request,
        tenant,
        lambda: services.page_disconnect_undo(
            tenant=tenant, actor=actor_for(request), page_pk=page_pk
        ),
        "“{name}” is connected again with the token it had.",
    )


def _tenant_page_or_404(tenant: Tenant, page_pk: int) -> ConnectedPage:
    page = ConnectedPage.objects.for_tenant(tenant).filter(pk=page_pk).first()
    if page is None:
        raise Http404("No such Page")
    return page
