"""Everything that writes flows and their versions.

Every function takes the tenant explicitly and looks rows up within it, so an id from a request
can never reach another workspace's flow or page (that is a NotFound, a 404). Saving the draft
checks the revision the editor loaded: a stale one is a RevisionConflict (409) that writes
nothing and says the current revision.
"""

from __future__ import annotations

import copy
import logging
import re
import secrets
from collections.abc import Mapping
from datetime import UTC
from typing import Any, cast

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from flows.blocks.base import ERROR, WARNING, Problem
from flows.diff import document_diff
from flows.exceptions import FlowInvalid, InvalidImport, RevisionConflict
from flows.flow_templates import TEMPLATES
from flows.models import (
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    REF_PATTERN,
    Flow,
    FlowStatus,
    FlowVersion,
    TriggerKind,
    starter_document,
)
from flows.validation import document_problems, graph_problems, has_errors
from tenants.exceptions import DomainError, NotFound
from tenants.models import AuditAction, ConnectedPage, PageStatus, Tenant
from tenants.services import Actor, audit_record
from tenants.services.workspaces import require_permission

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "pagepulse.flow"
EXPORT_FORMAT_VERSION = 1


class InvalidDocument(DomainError):
    code = "invalid_document"


# --- lookups within a tenant -----------------------------------------------------------------


def _page(tenant: Tenant, page_id: int) -> ConnectedPage:
    page = ConnectedPage.objects.for_tenant(tenant).filter(pk=page_id).first()
    if page is None:
        raise NotFound("No such Page in this workspace. Pick one from GET …/pages/.")
    return page


def _flow(tenant: Tenant, flow_id: int, *, lock: bool = False) -> Flow:
    rows = Flow.objects.for_tenant(tenant).select_related("page")
    if lock:
        rows = rows.select_for_update(of=("self",))
    flow = rows.filter(pk=flow_id).first()
    if flow is None:
        raise NotFound("No such flow in this workspace.")
    return flow


def flow_version_get(*, tenant: Tenant, flow_id: int, number: int) -> FlowVersion:
    version = (
        FlowVersion.objects.for_tenant(tenant)
        .select_related("published_by", "published_by_api_key__owner")
        .filter(flow_id=flow_id, number=number)
        .first()
    )
    if version is None:
        raise NotFound(f"This flow has no version {number}. See GET …/versions/.")
    return version


def _audit(flow: Flow, actor: Actor, action: AuditAction, **details: Any) -> None:
    audit_record(
        tenant=flow.tenant,
        actor=actor,
        action=action,
        target=flow.name,
        details={"flow_id": flow.pk, **details},
    )


# --- input rules -----------------------------------------------------------------------------


def _clean_trigger(trigger: Mapping[str, Any]) -> dict[str, Any]:
    """The model fields for a trigger, or a DomainError saying what to fix."""
    kind = trigger.get("kind", TriggerKind.KEYWORDS)
    if kind not in TriggerKind.values:
        raise DomainError(
            f"Unknown trigger {kind!r}: use one of {', '.join(TriggerKind.values)}.",
            details={"trigger.kind": ["invalid_choice"]},
        )
    keywords: list[str] = []
    for word in trigger.get("keywords") or []:
        word = str(word).strip()
        if word and word.casefold() not in {k.casefold() for k in keywords}:
            keywords.append(word)
    ref = str(trigger.get("ref") or "").strip()
    if kind == TriggerKind.KEYWORDS:
        if not keywords:
            raise DomainError(
                "A keyword trigger needs at least one keyword.",
                details={"trigger.keywords": ["required"]},
            )
        if len(keywords) > MAX_KEYWORDS or any(len(k) > MAX_KEYWORD_LENGTH for k in keywords):
            raise DomainError(
                f"At most {MAX_KEYWORDS} keywords of at most {MAX_KEYWORD_LENGTH} characters.",
                details={"trigger.keywords": ["too_long"]},
            )
    if kind == TriggerKind.REF and not re.fullmatch(REF_PATTERN, ref):
        raise DomainError(
            "A ref is 1 to 100 letters, digits, -, _ or = (Messenger allows nothing else).",
            details={"trigger.ref": ["invalid_format"]},
        )
    return {
        "trigger_kind": kind,
        "trigger_keywords": keywords if kind == TriggerKind.KEYWORDS else [],
        "trigger_ref": ref if kind == TriggerKind.REF else "",
    }


def _clean_document(document: object) -> dict[str, Any]:
    problems = document_problems(document)
    if problems:
        first = problems[0]
        raise InvalidDocument(
            "The document is not a flow document: "
            + (f"{first.field}: " if first.field else "")
            + first.message,
            details={"problems": [p.as_dict() for p in problems]},
        )
    return copy.deepcopy(cast(dict[str, Any], document))


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the flow a name.", details={"name": ["blank"]})
    return name[:200]


# --- writing ---------------------------------------------------------------------------------


@transaction.atomic
def flow_create(
    *,
    tenant: Tenant,
    actor: Actor,
    page_id: int,
    name: str = "",
    description: str = "",
    trigger: Mapping[str, Any] | None = None,
    document: object = None,
    template: str | None = None,
) -> Flow:
    """Create a draft flow for one of the tenant's pages, empty or from a template."""
    require_permission(tenant=tenant, actor=actor, permission="flow.edit")
    page = _page(tenant, page_id)
    if template is not None:
        chosen = TEMPLATES.get(template)
        if chosen is None:
            raise DomainError(
                f"No template {template!r}: use one of {', '.join(TEMPLATES)}.",
                details={"template": ["invalid_choice"]},
            )
        name = name or chosen.name
        description = description or chosen.description
        trigger = trigger if trigger is not None else chosen.trigger
        document = document if document is not None else chosen.document()
    flow = Flow.objects.create(
        tenant=tenant,
        page=page,
        name=_clean_name(name),
        description=description,
        document=_clean_document(document if document is not None else starter_document()),
        updated_by=actor.user,
        updated_by_api_key=actor.api_key,
        **_clean_trigger(trigger or {"kind": TriggerKind.DEFAULT}),
    )
    _audit(flow, actor, AuditAction.FLOW_CREATED, page=page.name, template=template or "")
    logger.info("flows.flow.created", extra={"tenant_id": tenant.pk, "flow_id": flow.pk})
    return flow


def _check_revision(flow: Flow, revision: int | None) -> None:
    """A stale `revision` is a RevisionConflict whose details say who saved the flow since,
    when, and its name now, so the editor can offer to load theirs or keep its own."""
    if revision is not None and revision != flow.revision:
        raise RevisionConflict(
            f"Someone saved this flow since you loaded it (revision {revision}; it is now "
            f"{flow.revision}). Load it again and reapply your change; nothing was written.",
            details={
                "current_revision": flow.revision,
                "your_revision": revision,
                "updated_by": flow.updated_by_label,
                "updated_at": flow.updated_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "name": flow.name,
            },
        )


def _saved_by(flow: Flow, actor: Actor) -> None:
    """Record who saved this revision: a person, or an API key (which has no person)."""
    flow.updated_by = actor.user
    flow.updated_by_api_key = actor.api_key


@transaction.atomic
def flow_update_draft(
    *,
    tenant: Tenant,
    actor: Actor,
    flow_id: int,
    revision: int,
    name: str | None = None,
    description: str | None = None,
    page_id: int | None = None,
    trigger: Mapping[str, Any] | None = None,
    document: object = None,
    status: str | None = None,
) -> Flow:
    """Save changes to the draft if `revision` is still the flow's revision; bump it."""
    require_permission(tenant=tenant, actor=actor, permission="flow.edit")
    flow = _flow(tenant, flow_id, lock=True)
    _check_revision(flow, revision)
    settings_before = _flow_settings(flow)
    if name is not None:
        flow.name = _clean_name(name)
    if description is not None:
        flow.description = description
    if page_id is not None:
        flow.page = _page(tenant, page_id)
    if trigger is not None:
        for field, value in _clean_trigger(trigger).items():
            setattr(flow, field, value)
    if document is not None:
        flow.document = _clean_document(document)
    if status is not None:
        if status not in FlowStatus.values:
            raise DomainError(f"Unknown status {status!r}.", details={"status": ["invalid"]})
        if status == FlowStatus.PUBLISHED and not flow.versions.exists():
            raise DomainError(
                "This flow has never been published: POST …/publish/ to publish it.",
                details={"status": ["never_published"]},
            )
        flow.status = status
    live_change = page_id is not None or trigger is not None or status is not None
    if flow.status == FlowStatus.PUBLISHED and live_change:
        _check_live(flow)
    flow.revision += 1
    _saved_by(flow, actor)
    flow.save()
    # The settings (name, description, Page, trigger, status) are audited; the draft's blocks
    # are not, each autosave would be a row: publishing freezes them, and that is audited.
    changed = {
        field: [before, after]
        for (field, before), after in zip(
            settings_before.items(), _flow_settings(flow).values(), strict=True
        )
        if before != after
    }
    if changed:
        audit_record(
            tenant=tenant,
            actor=actor,
            action=AuditAction.FLOW_UPDATED,
            target=flow.name,
            details={"flow_id": flow.pk, **changed},
        )
    return flow


def _flow_settings(flow: Flow) -> dict[str, Any]:
    return {
        "name": flow.name,
        "description": flow.description,
        "page": flow.page.name,
        "trigger": [flow.trigger_kind, *flow.trigger_keywords, flow.trigger_ref],
        "status": flow.status,
    }


def _check_live(flow: Flow) -> None:
    """The page and trigger of a published flow route Messenger users now, not at the next
    publish: such a change must pass what publishing checks of them (no other published flow
    of the page answering the same trigger; the live version deliverable on the page)."""
    live = flow.versions.order_by("-number").only("document").first()
    problems = [
        *_page_problems(flow.page),
        *_trigger_problems(flow),
        *(graph_problems(live.document, transport=flow.page.transport) if live else []),
    ]
    if has_errors(problems):
        raise FlowInvalid(
            "This flow is published, so its page and trigger take effect at once, and this "
            "change would break it; details.problems says why.",
            details={"problems": [p.as_dict() for p in problems if p.severity == ERROR]},
        )


@transaction.atomic
def flow_delete(*, tenant: Tenant, actor: Actor, flow_id: int) -> None:
    """Delete a flow with all its versions."""
    require_permission(tenant=tenant, actor=actor, permission="flow.edit")
    flow = _flow(tenant, flow_id, lock=True)
    _audit(flow, actor, AuditAction.FLOW_DELETED, versions=flow.versions.count())
    flow.delete()


def _trigger_problems(flow: Flow) -> list[Problem]:
    """A trigger another published flow of the same page already answers."""
    others = (
        Flow.objects.for_tenant(flow.tenant)
        .filter(page_id=flow.page_id, status=FlowStatus.PUBLISHED, trigger_kind=flow.trigger_kind)
        .exclude(pk=flow.pk)
        .only("name", "trigger_keywords", "trigger_ref")
    )
    problems = []
    for other in others:
        clash = ""
        if flow.trigger_kind in {TriggerKind.DEFAULT, TriggerKind.GET_STARTED}:
            clash = flow.get_trigger_kind_display()
        elif flow.trigger_kind == TriggerKind.REF and other.trigger_ref == flow.trigger_ref:
            clash = f"the ref {flow.trigger_ref}"
        elif flow.trigger_kind == TriggerKind.KEYWORDS:
            mine = {k.casefold() for k in flow.trigger_keywords}
            shared = sorted(k for k in other.trigger_keywords if k.casefold() in mine)
            clash = ("the keywords " + ", ".join(shared)) if shared else ""
        if clash:
            message = (
                f"The published flow “{other.name}” on this page already answers {clash}: "
                "change this trigger, or archive that flow."
            )
            problems.append(Problem(None, "trigger", message, "trigger_conflict"))
    return problems


def _page_problems(page: ConnectedPage) -> list[Problem]:
    if page.status == PageStatus.DISCONNECTED:
        message = f"The page {page.name} is disconnected: connect it again, or pick another page."
        return [Problem(None, "page", message, "page_disconnected", ERROR)]
    if page.status != PageStatus.ACTIVE:
        message = (
            f"The page {page.name} needs attention ({page.get_status_display()}): its events "
            "wait until an admin reconnects it."
        )
        return [Problem(None, "page", message, "page_needs_attention", WARNING)]
    return []


def flow_validate(*, flow: Flow) -> list[Problem]:
    """Every error and warning publishing would report for the current draft."""
    return [
        *_page_problems(flow.page),
        *_trigger_problems(flow),
        *graph_problems(flow.document, transport=flow.page.transport),
    ]


@transaction.atomic
def flow_publish(
    *, tenant: Tenant, actor: Actor, flow_id: int, note: str = "", revision: int | None = None
) -> tuple[FlowVersion, list[Problem]]:
    """Validate the draft and freeze it as the next version; returns it and the warnings.

    With errors nothing is written and FlowInvalid lists every problem. `revision`, when
    given, must be the draft's: the person publishes what they saw.
    """
    require_permission(tenant=tenant, actor=actor, permission="flow.publish")
    flow = _flow(tenant, flow_id, lock=True)
    _check_revision(flow, revision)
    problems = flow_validate(flow=flow)
    if has_errors(problems):
        errors = sum(p.severity == ERROR for p in problems)
        raise FlowInvalid(
            f"The flow has {errors} error{'s' if errors != 1 else ''} to fix before it can be "
            "published; details.problems says where.",
            details={"problems": [p.as_dict() for p in problems]},
        )
    latest = flow.versions.aggregate(n=Max("number"))["n"] or 0
    version = FlowVersion.objects.create(
        tenant=tenant,
        flow=flow,
        number=latest + 1,
        document=copy.deepcopy(flow.document),
        note=note[:500],
        published_by=actor.user,
        published_by_api_key=actor.api_key,
        published_at=timezone.now(),
    )
    flow.status = FlowStatus.PUBLISHED
    flow.published_revision = flow.revision
    flow.save(update_fields=["status", "published_revision", "updated_at"])
    _audit(flow, actor, AuditAction.FLOW_PUBLISHED, version=version.number)
    logger.info(
        "flows.flow.published",
        extra={"tenant_id": tenant.pk, "flow_id": flow.pk, "version": version.number},
    )
    return version, problems


@transaction.atomic
def flow_restore(
    *, tenant: Tenant, actor: Actor, flow_id: int, number: int, revision: int | None = None
) -> Flow:
    """Copy version `number`'s document into the draft (a new revision; versions unchanged)."""
    require_permission(tenant=tenant, actor=actor, permission="flow.edit")
    flow = _flow(tenant, flow_id, lock=True)
    _check_revision(flow, revision)
    version = flow_version_get(tenant=tenant, flow_id=flow.pk, number=number)
    flow.document = copy.deepcopy(version.document)
    flow.revision += 1
    _saved_by(flow, actor)
    flow.save()
    _audit(flow, actor, AuditAction.FLOW_RESTORED, version=number)
    return flow


@transaction.atomic
def flow_duplicate(*, tenant: Tenant, actor: Actor, flow_id: int, name: str = "") -> Flow:
    """A new draft with the same page, trigger and draft document (no versions)."""
    require_permission(tenant=tenant, actor=actor, permission="flow.edit")
    source = _flow(tenant, flow_id)
    flow = Flow.objects.create(
        tenant=tenant,
        page=source.page,
        name=_clean_name(name or f"{source.name} (copy)"),
        description=source.description,
        trigger_kind=source.trigger_kind,
        trigger_keywords=list(source.trigger_keywords),
        trigger_ref=source.trigger_ref,
        document=copy.deepcopy(source.document),
        updated_by=actor.user,
        updated_by_api_key=actor.api_key,
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action=AuditAction.FLOW_DUPLICATED,
        target=flow.name,
        details={"flow_id": flow.pk, "from": source.name},
    )
    return flow


def flow_export(*, flow: Flow) -> dict[str, Any]:
    """The flow as portable JSON: its draft and trigger, nothing tied to this workspace."""
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "name": flow.name,
        "description": flow.description,
        "trigger": flow.trigger,
        "document": copy.deepcopy(flow.document),
        "source_page": {"name": flow.page.name, "transport": flow.page.transport},
    }


def _remap_ids(document: Mapping[str, Any]) -> dict[str, Any]:
    """Fresh node and edge ids (edges follow their nodes), so imports never collide."""
    renamed = {node["id"]: f"{node['type']}-{secrets.token_hex(4)}" for node in document["nodes"]}
    nodes = [{**node, "id": renamed[node["id"]]} for node in document["nodes"]]
    edges = [
        {
            **edge,
            "id": f"e-{secrets.token_hex(4)}",
            "source": renamed.get(edge["source"], edge["source"]),
            "target": renamed.get(edge["target"], edge["target"]),
        }
        for edge in document["edges"]
    ]
    return {**copy.deepcopy(dict(document)), "nodes": nodes, "edges": edges}


@transaction.atomic
def flow_import(
    *, tenant: Tenant, actor: Actor, page_id: int, data: Mapping[str, Any], name: str = ""
) -> Flow:
    """Create a draft from `flow_export` output, on a page of this tenant the importer picks."""
    if data.get("format") != EXPORT_FORMAT or data.get("format_version") != EXPORT_FORMAT_VERSION:
        raise InvalidImport(
            f"This is not a Pagepulse flow export (format {EXPORT_FORMAT}, version "
            f"{EXPORT_FORMAT_VERSION}): export the flow again with GET …/flows/<id>/export/.",
            details={"flow": ["invalid_format"]},
        )
    trigger = data.get("trigger")
    flow = flow_create(
        tenant=tenant,
        actor=actor,
        page_id=page_id,
        name=name or str(data.get("name") or ""),
        description=str(data.get("description") or ""),
        trigger=trigger if isinstance(trigger, Mapping) else None,
        document=_remap_ids(_clean_document(data.get("document"))),
    )
    _audit(flow, actor, AuditAction.FLOW_IMPORTED)
    return flow


def flow_versions_diff(*, tenant: Tenant, flow_id: int, a: int, b: int) -> dict[str, Any]:
    """What changed from version `a` to version `b` of a flow."""
    before = flow_version_get(tenant=tenant, flow_id=flow_id, number=a)
    after = flow_version_get(tenant=tenant, flow_id=flow_id, number=b)
    return {"from_version": a, "to_version": b, **document_diff(before.document, after.document)}


def flow_version_draft_diff(*, tenant: Tenant, flow_id: int, number: int) -> dict[str, Any]:
    """What changed from version `number` of a flow to its draft as it is now."""
    flow = _flow(tenant, flow_id)
    before = flow_version_get(tenant=tenant, flow_id=flow.pk, number=number)
    return {
        "from_version": number,
        "to_version": "draft",
        "draft_revision": flow.revision,
        **document_diff(before.document, flow.document),
    }
