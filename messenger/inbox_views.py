"""The inbox, /t/<slug>/inbox/: conversations and a conversation's transcript, with the reply
box and the thread's actions (messenger/inbox.py does the work). Both pages keep themselves
current: static/js/inbox.js asks for their live part with the cursor it has, and gets 204
when nothing changed or the part drawn again (within 2 s of a message arriving)."""

from __future__ import annotations

import re
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from flows.models import ConversationStatus
from messenger import inbox
from messenger.models import Tag
from messenger.people import person_for, person_name_keep
from tenants.exceptions import DomainError
from tenants.models import ConnectedPage, Membership, Tenant
from tenants.permissions import role_can
from tenants.profiles import people_profile
from tenants.views import actor_for, tenant_page

PER_PAGE = 50
POLL_SECONDS = 1.5
LIVE = "live"  # ?live=<cursor>: the live part only, 204 when the cursor is still current


def _filters(request: HttpRequest, tenant: Tenant) -> dict[str, Any]:
    state = request.GET.get("state", inbox.NEEDS)
    if state not in inbox.STATES:
        state = inbox.NEEDS
    page_pk = request.GET.get("page_id", "")
    page = (
        ConnectedPage.objects.for_tenant(tenant).filter(pk=int(page_pk)).first()
        if re.fullmatch(r"[0-9]{1,18}", page_pk)
        else None
    )
    return {"state": state, "page": page, "tag": request.GET.get("tag", "").strip()[:40]}


def _query(filters: dict[str, Any], **changes: Any) -> str:
    values = {**filters, **changes}
    parts = [f"state={values['state']}"]
    if values["page"] is not None:
        parts.append(f"page_id={values['page'].pk}")
    if values["tag"]:
        parts.append(f"tag={values['tag']}")
    return "?" + "&".join(parts)


@tenant_page("conversation.view")
def inbox_list(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    cursor = inbox.inbox_cursor(tenant)
    if request.GET.get(LIVE) == cursor:
        return HttpResponse(status=204)
    filters = _filters(request, tenant)
    rows = inbox.inbox_conversations(
        tenant,
        state=filters["state"],
        page_pk=filters["page"].pk if filters["page"] else None,
        tag=filters["tag"],
    )
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("p"))
    conversations = list(page)
    names = inbox.cached_names(conversations)
    counts = inbox.inbox_counts(tenant)
    context: dict[str, Any] = {
        "cursor": cursor,
        "page": page,
        "rows": [(c, names.get((c.page.page_id, c.psid))) for c in conversations],
        "filters": filters,
        "states": [
            (key, label, _query(filters, state=key), counts[key])
            for key, label in inbox.STATES.items()
        ],
        "query": _query(filters),
    }
    if LIVE in request.GET:
        return render(request, "messenger/_inbox_list.html", context)
    membership = Membership.objects.for_tenant(tenant).filter(user=cast(User, request.user)).first()
    context |= {
        "pages": ConnectedPage.objects.for_tenant(tenant).order_by("name"),
        "tags": Tag.objects.for_tenant(tenant).order_by("name"),
        "membership": membership,
        "can_notify": membership is not None and membership.role in inbox.NOTIFY_ROLES,
        "poll_seconds": POLL_SECONDS,
    }
    return render(request, "messenger/inbox.html", context)


def _conversation_context(
    request: HttpRequest, tenant: Tenant, conversation_id: int
) -> dict[str, Any]:
    conversation = inbox.conversation_for_inbox(tenant, conversation_id)
    return {
        "conversation": conversation,
        "cursor": inbox.transcript_cursor(conversation),
        "lines": inbox.transcript(conversation),
        "gathered": inbox.gathered(conversation),
        "flow_at": inbox.where_the_flow_is(conversation),
        "window": inbox.reply_window(conversation),
        "newer": inbox._newer_conversation(conversation),
        "can_answer": role_can(request.tenant_role, "conversation.answer"),  # type: ignore[attr-defined]
        "needs_person": conversation.status == ConversationStatus.HANDED_OFF,
        "taken_over": bool(conversation.paused_status),
        "closed": conversation.status == ConversationStatus.ENDED,
    }


@tenant_page("conversation.view")
def conversation_view(request: HttpRequest, tenant: Tenant, conversation_id: int) -> HttpResponse:
    return _conversation_page(request, tenant, conversation_id)


def _conversation_page(
    request: HttpRequest,
    tenant: Tenant,
    conversation_id: int,
    *,
    reply: str = "",
    status: int = 200,
) -> HttpResponse:
    try:
        context = _conversation_context(request, tenant, conversation_id)
    except DomainError as error:
        raise Http404(error.message) from None
    if LIVE in request.GET:
        if request.GET[LIVE] == context["cursor"]:
            return HttpResponse(status=204)
        return render(request, "messenger/_conversation_live.html", context)
    conversation = context["conversation"]
    profile = people_profile(conversation.page, conversation.psid)
    person = person_for(tenant, conversation.page_id, conversation.psid)
    if person is not None:
        person_name_keep(person, profile)
    context |= {
        "profile": profile,
        "person": person,
        "reply": reply,
        "poll_seconds": POLL_SECONDS,
    }
    return render(request, "messenger/conversation.html", context, status=status)


def _back(tenant: Tenant, conversation_id: int) -> HttpResponse:
    return redirect("inbox:conversation", slug=tenant.slug, conversation_id=conversation_id)


@tenant_page("conversation.answer")
@require_POST
def conversation_reply(request: HttpRequest, tenant: Tenant, conversation_id: int) -> HttpResponse:
    text = request.POST.get("text", "")
    try:
        inbox.inbox_reply(
            tenant=tenant, actor=actor_for(request), conversation_id=conversation_id, text=text
        )
    except DomainError as error:
        if error.status == 404:
            raise Http404(error.message) from None
        messages.error(request, error.message)
        # The page again with what was typed, so nothing the agent wrote is lost.
        return _conversation_page(request, tenant, conversation_id, reply=text, status=error.status)
    messages.success(
        request, "Sent. The bot stays quiet in this conversation until you hand it back."
    )
    return _back(tenant, conversation_id)


@tenant_page("conversation.answer")
@require_POST
def conversation_hand_back(
    request: HttpRequest, tenant: Tenant, conversation_id: int
) -> HttpResponse:
    try:
        conversation = inbox.inbox_hand_back(
            tenant=tenant, actor=actor_for(request), conversation_id=conversation_id
        )
    except DomainError as error:
        if error.status == 404:
            raise Http404(error.message) from None
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            "Handed back: the bot answers this person again."
            if conversation.status != ConversationStatus.ENDED
            else "Handed back: the flow had nothing after this, so the conversation is closed.",
        )
    return _back(tenant, conversation_id)


@tenant_page("conversation.answer")
@require_POST
def conversation_close(request: HttpRequest, tenant: Tenant, conversation_id: int) -> HttpResponse:
    try:
        inbox.inbox_close(tenant=tenant, actor=actor_for(request), conversation_id=conversation_id)
    except DomainError as error:
        if error.status == 404:
            raise Http404(error.message) from None
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            "Closed. The next time this person writes, whatever flow their message starts "
            "answers them.",
        )
    return _back(tenant, conversation_id)


@tenant_page("conversation.view")
@require_POST
def inbox_notifications(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    notify = request.POST.get("notify") == "on"
    try:
        inbox.membership_notify_set(tenant=tenant, actor=actor_for(request), notify=notify)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            "You will get an email each time a conversation needs a person."
            if notify
            else "No more emails on new handoffs.",
        )
    return redirect(reverse("inbox:list", kwargs={"slug": tenant.slug}))
