"""People: the Messenger users who wrote to a workspace's Pages (issue 15).

- ``person_seen``: every inbound message upserts its Person (first and last seen) in one
  statement, inside the turn's transaction (messenger/transcripts.py).
- ``people_list``: search (name, PSID, anything a flow gathered such as an email address) and
  filters (Page, tag, has a lead, came from an ad, seen in the last N days).
- ``person_tag_add`` / ``person_tag_remove``: the team's labels (editors and above).
- ``person_name_keep``: the name the User Profile API gave, kept for search.
- ``person_delete``: a person's data deleted at the team's request (admins and owners): their
  transcript, conversations (with the variables flows gathered), tags and cached profile go; the
  PSID is removed from their events and the requests recorded for them, which stay so counts
  and revenue stay true; events not sent yet are kept unsent, with the reason; the webhook
  deliveries that carried their messages (processed ones) and a waiting ad referral go too.
  Audited.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast
from django.utils import timezone
from redis.exceptions import RedisError

from events.models import LoggedEvent
from events.services import events_forget_person
from flows.models import Conversation
from graph_api.types import UserProfile
from messenger import intake
from messenger.models import Message, Person, Tag
from tenants.exceptions import DomainError, NotFound
from tenants.models import AuditAction, ConnectedPage, Tenant
from tenants.profiles import profile_key
from tenants.services import Actor
from tenants.services.workspaces import audit_record, require_permission

logger = logging.getLogger(__name__)

LEAD_EVENTS = ("lead_submitted", "LeadSubmitted")
MAX_TAG_CHARS = 40

_UPSERT = """
INSERT INTO messenger_person
    (tenant_id, page_id, psid, name, first_seen_at, last_seen_at, created_at, updated_at)
VALUES (%s, %s, %s, '', %s, %s, %s, %s)
ON CONFLICT (tenant_id, page_id, psid) DO UPDATE SET
    first_seen_at = {least}(messenger_person.first_seen_at, EXCLUDED.first_seen_at),
    last_seen_at = {greatest}(messenger_person.last_seen_at, EXCLUDED.last_seen_at),
    updated_at = EXCLUDED.updated_at
"""


def person_seen(*, page: ConnectedPage, psid: str, at: datetime) -> None:
    """The person wrote at ``at``: one INSERT ... ON CONFLICT (deliveries may come out of
    order, so first and last seen only ever widen)."""
    postgres = connection.vendor == "postgresql"
    sql = _UPSERT.format(
        least="LEAST" if postgres else "MIN", greatest="GREATEST" if postgres else "MAX"
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(sql, [page.tenant_id, page.pk, psid, at, at, now, now])


def person_name_keep(person: Person, profile: UserProfile | None) -> None:
    """Keep the name Facebook gave for search (refreshed whenever the profile is fetched)."""
    if profile is None:
        return
    name = f"{profile.first_name} {profile.last_name}".strip()[:200]
    if name and name != person.name:
        Person.objects.filter(pk=person.pk).update(name=name)
        person.name = name


def person_for(tenant: Tenant, page_id: int, psid: str) -> Person | None:
    return Person.objects.for_tenant(tenant).filter(page_id=page_id, psid=psid).first()


def people_list(
    tenant: Tenant,
    *,
    query: str = "",
    page_pk: int | None = None,
    tag: str = "",
    lead: bool = False,
    from_ad: bool = False,
    days: int | None = None,
) -> QuerySet[Person]:
    """The workspace's people, most recently seen first, with ``has_lead`` and ``ad_id``."""
    conversations = Conversation.objects.filter(
        tenant=tenant, page_id=OuterRef("page_id"), psid=OuterRef("psid"), is_test=False
    )
    leads = LoggedEvent.objects.filter(
        tenant=tenant, page_id=OuterRef("page_id"), psid=OuterRef("psid"), event__in=LEAD_EVENTS
    )
    rows = (
        Person.objects.for_tenant(tenant)
        .select_related("page")
        .prefetch_related("tags")
        .annotate(
            has_lead=Exists(leads),
            ad_id=Subquery(
                conversations.exclude(ad_id="").order_by("-created_at").values("ad_id")[:1]
            ),
        )
    )
    query = query.strip()
    if query:
        gathered = conversations.annotate(text=Cast("variables", CharField())).filter(
            text__icontains=query
        )
        rows = rows.filter(Q(name__icontains=query) | Q(psid=query) | Exists(gathered))
    if page_pk is not None:
        rows = rows.filter(page_id=page_pk)
    if tag:
        rows = rows.filter(tags__name__iexact=tag)
    if lead:
        rows = rows.filter(has_lead=True)
    if from_ad:
        rows = rows.filter(Exists(conversations.exclude(ad_id="")))
    if days is not None:
        rows = rows.filter(last_seen_at__gte=timezone.now() - timedelta(days=days))
    return rows.order_by("-last_seen_at", "-id")


def person_get(tenant: Tenant, person_id: int) -> Person:
    person = (
        Person.objects.for_tenant(tenant)
        .select_related("page")
        .prefetch_related("tags")
        .filter(pk=person_id)
        .first()
    )
    if person is None:
        raise NotFound("No such person in this workspace.")
    return person


def person_conversations(person: Person) -> QuerySet[Conversation]:
    return (
        Conversation.objects.for_tenant(person.tenant)
        .filter(page_id=person.page_id, psid=person.psid, is_test=False)
        .select_related("flow")
        .order_by("-created_at", "-pk")
    )


# --- Tags -------------------------------------------------------------------------------------


def person_tag_add(*, tenant: Tenant, actor: Actor, person_id: int, name: str) -> Tag:
    """Give the person a tag, reusing the workspace's tag of that name whatever its case."""
    require_permission(tenant=tenant, actor=actor, permission="people.tag")
    name = " ".join(name.split())
    if not name:
        raise DomainError("Type a tag first, such as “vip” or “wholesale”.")
    if len(name) > MAX_TAG_CHARS:
        raise DomainError(
            f"A tag has at most {MAX_TAG_CHARS} characters; this one has {len(name)}."
        )
    person = person_get(tenant, person_id)
    with transaction.atomic():
        tag = Tag.objects.for_tenant(tenant).filter(name__iexact=name).first()
        if tag is None:
            tag = Tag.objects.create(tenant=tenant, name=name)
        person.tags.add(tag)
    return tag


def person_tag_remove(*, tenant: Tenant, actor: Actor, person_id: int, tag_id: int) -> None:
    require_permission(tenant=tenant, actor=actor, permission="people.tag")
    person = person_get(tenant, person_id)
    tag = Tag.objects.for_tenant(tenant).filter(pk=tag_id).first()
    if tag is None:
        raise NotFound("No such tag in this workspace.")
    person.tags.remove(tag)


# --- Deleting a person's data -----------------------------------------------------------------


def person_delete(*, tenant: Tenant, actor: Actor, person_id: int) -> dict[str, int]:
    """Delete what Pagepulse holds about one Messenger user (see the module docstring); returns
    what was removed. All or nothing: one transaction."""
    require_permission(tenant=tenant, actor=actor, permission="people.delete")
    person = person_get(tenant, person_id)
    page, psid = person.page, person.psid
    with transaction.atomic():
        messages, _ = Message.objects.for_tenant(tenant).filter(page=page, psid=psid).delete()
        conversations = Conversation.objects.for_tenant(tenant).filter(page=page, psid=psid)
        conversation_count = conversations.count()
        conversations.delete()  # their outbound messages go with them
        events = events_forget_person(tenant=tenant, page_id=page.pk, psid=psid)
        deliveries = intake.deliveries_forget_person(page_id=page.page_id, psid=psid)
        person.delete()
        counts = {
            "messages": messages,
            "conversations": conversation_count,
            "webhook_deliveries": deliveries,
            **events,
        }
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.PERSON_DELETED,
            target=f"A Messenger user of {page.name}",
            details=counts,
        )
    try:
        cache.delete(profile_key(page.page_id, psid))
    except Exception:
        logger.warning("messenger.people.profile_cache_unavailable", exc_info=True)
    from messenger import runtime  # the runtime imports this module (through transcripts)

    try:
        runtime.pending_ad_forget(page, psid)
    except RedisError:  # it expires by itself within 24 hours (runtime.PENDING_AD_SECONDS)
        logger.warning("messenger.people.pending_ad_not_forgotten", exc_info=True)
    logger.info("messenger.people.deleted", extra={"page_id": page.pk, **counts})
    return counts
