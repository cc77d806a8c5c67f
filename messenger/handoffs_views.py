"""The handoffs page, /t/<slug>/handoffs/: Messenger threads a handoff block handed to a person,
and a "Resolved" button that lets the flow go on (messenger.runtime does both)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from flows.blocks.base import SYSTEM_VARIABLES
from flows.models import Conversation
from messenger.runtime import handoff_resolve
from tenants.exceptions import DomainError
from tenants.models import Tenant
from tenants.views import actor_for, tenant_page

PER_PAGE = 50
SYSTEM = SYSTEM_VARIABLES


def gathered(conversation: Conversation) -> list[tuple[str, str]]:
    """The variables the flow gathered, answers first, without empty ones."""
    variables = conversation.variables
    answers = sorted(name for name in variables if name not in SYSTEM)
    return [
        (name, str(variables[name])) for name in [*answers, "ref", "ad_id"] if variables.get(name)
    ]


@tenant_page("handoff.view")
def handoff_list(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The Handoffs screen became the inbox's "Needs a person" filter (and "Resolved" its
    "Closed"): old links and bookmarks land there."""
    state = "closed" if request.GET.get("state") == "resolved" else "needs"
    return redirect(reverse("inbox:list", kwargs={"slug": tenant.slug}) + f"?state={state}")


@tenant_page("handoff.resolve")
@require_POST
def handoff_resolve_view(
    request: HttpRequest, tenant: Tenant, conversation_id: int
) -> HttpResponse:
    if (
        not Conversation.objects.for_tenant(tenant)
        .filter(pk=conversation_id, is_test=False)
        .exists()
    ):
        raise Http404("No such conversation")
    try:
        conversation = handoff_resolve(
            tenant=tenant, actor=actor_for(request), conversation_id=conversation_id
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"Resolved: the bot answers {conversation.psid} on {conversation.page.name} again.",
        )
    return redirect("handoffs:list", slug=tenant.slug)
