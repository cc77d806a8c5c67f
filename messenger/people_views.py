"""People, /t/<slug>/people/: the Messenger users who wrote to the workspace's Pages, a person's
page with what flows gathered, their conversations, leads and events, tags, and deleting their
data (messenger/people.py does the work)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from events import catalog
from events.models import LoggedEvent
from messenger import inbox, people
from messenger.models import Person, Tag
from tenants.confirm import Confirmation, confirm_page, is_confirmed
from tenants.exceptions import DomainError
from tenants.models import ConnectedPage, Tenant
from tenants.permissions import role_can
from tenants.profiles import people_profile
from tenants.views import actor_for, tenant_page

PER_PAGE = 50
EVENTS_SHOWN = 50
DAYS = (7, 30, 90)
_ID = re.compile(r"[0-9]{1,18}")


def _filters(request: HttpRequest, tenant: Tenant) -> dict[str, Any]:
    page_pk = request.GET.get("page_id", "")
    days = request.GET.get("days", "")
    return {
        "q": request.GET.get("q", "").strip()[:200],
        "page": ConnectedPage.objects.for_tenant(tenant).filter(pk=int(page_pk)).first()
        if _ID.fullmatch(page_pk)
        else None,
        "tag": request.GET.get("tag", "").strip()[:40],
        "lead": request.GET.get("lead") == "1",
        "from_ad": request.GET.get("from_ad") == "1",
        "days": int(days) if days in {str(d) for d in DAYS} else None,
    }


@tenant_page("people.view")
def people_list_view(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    filters = _filters(request, tenant)
    rows = people.people_list(
        tenant,
        query=filters["q"],
        page_pk=filters["page"].pk if filters["page"] else None,
        tag=filters["tag"],
        lead=filters["lead"],
        from_ad=filters["from_ad"],
        days=filters["days"],
    )
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("p"))
    query = request.GET.copy()
    query.pop("p", None)
    context = {
        "page": page,
        "people": list(page),
        "filters": filters,
        "pages": ConnectedPage.objects.for_tenant(tenant).order_by("name"),
        "tags": Tag.objects.for_tenant(tenant).order_by("name"),
        "days_choices": DAYS,
        "query": query.urlencode(),
        "filtered": any(filters[key] for key in ("q", "page", "tag", "lead", "from_ad", "days")),
    }
    return render(request, "messenger/people.html", context)


def delete_confirmation(person: Person) -> Confirmation:
    who = person.name or "this Messenger user"
    return Confirmation(
        title=f"Delete everything Pagepulse holds about {who}?",
        lost=[
            "Their messages (both ways, and the webhook deliveries Facebook brought them in), "
            "their conversations with what the flows gathered "
            "(email addresses, phone numbers, answers), their tags and their cached name.",
            "Their PSID on their events and in the requests recorded for them. Events not sent "
            "yet are kept unsent, with the reason.",
            "This cannot be undone.",
        ],
        kept=[
            "Their events stay, without the PSID, so counts, leads and revenue stay true.",
            "What was already sent to Facebook stays in Ads Manager; Facebook keeps it.",
            "If they write again, they start afresh as someone new to Pagepulse.",
        ],
        button="Delete their data",
    )


@tenant_page("people.view")
def person_view(request: HttpRequest, tenant: Tenant, person_id: int) -> HttpResponse:
    try:
        person = people.person_get(tenant, person_id)
    except DomainError as error:
        raise Http404(error.message) from None
    profile = people_profile(person.page, person.psid)
    people.person_name_keep(person, profile)
    conversations = list(people.person_conversations(person)[:20])
    latest = conversations[0] if conversations else None
    events = list(
        LoggedEvent.objects.for_tenant(tenant)
        .filter(page=person.page, psid=person.psid)
        .order_by("-created_at", "-pk")[:EVENTS_SHOWN]
    )
    role = request.tenant_role  # type: ignore[attr-defined]
    context = {
        "person": person,
        "profile": profile,
        "conversations": conversations,
        "gathered": inbox.gathered(latest) if latest else [],
        "ad_id": next((c.ad_id for c in conversations if c.ad_id), ""),
        "events": [(e, _label(e.event)) for e in events],
        "leads": sum(1 for e in events if e.event in people.LEAD_EVENTS),
        "can_tag": role_can(role, "people.tag"),
        "can_delete": role_can(role, "people.delete"),
        "confirmation": delete_confirmation(person),
    }
    return render(request, "messenger/person.html", context)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _label(event: str) -> str:
    """A standard event's label in plain words ("Lead submitted"), else its custom name."""
    found = catalog.get(event)
    return found.label if found else event


def _back(tenant: Tenant, person_id: int) -> HttpResponse:
    return redirect("people:person", slug=tenant.slug, person_id=person_id)


@tenant_page("people.tag")
@require_POST
def person_tag_add(request: HttpRequest, tenant: Tenant, person_id: int) -> HttpResponse:
    try:
        tag = people.person_tag_add(
            tenant=tenant,
            actor=actor_for(request),
            person_id=person_id,
            name=request.POST.get("name", ""),
        )
    except DomainError as error:
        if error.status == 404:
            raise Http404(error.message) from None
        messages.error(request, error.message)
    else:
        messages.success(request, f"Tagged “{tag.name}”.")
    return _back(tenant, person_id)


@tenant_page("people.tag")
@require_POST
def person_tag_remove(
    request: HttpRequest, tenant: Tenant, person_id: int, tag_id: int
) -> HttpResponse:
    try:
        people.person_tag_remove(
            tenant=tenant, actor=actor_for(request), person_id=person_id, tag_id=tag_id
        )
    except DomainError as error:
        raise Http404(error.message) from None
    messages.success(request, "Tag removed.")
    return _back(tenant, person_id)


@tenant_page("people.delete")
@require_POST
def person_delete(request: HttpRequest, tenant: Tenant, person_id: int) -> HttpResponse:
    try:
        person = people.person_get(tenant, person_id)
    except DomainError as error:
        raise Http404(error.message) from None
    confirmation = delete_confirmation(person)
    if not is_confirmed(request, confirmation):
        return confirm_page(
            request,
            confirmation,
            cancel_url=reverse("people:person", args=[tenant.slug, person_id]),
        )
    counts = people.person_delete(tenant=tenant, actor=actor_for(request), person_id=person_id)
    messages.success(
        request,
        f"Deleted: {_count(counts['messages'], 'message')}, "
        f"{_count(counts['conversations'], 'conversation')}; the PSID is gone from "
        f"{_count(counts['events'], 'event')}.",
    )
    return redirect("people:list", slug=tenant.slug)
