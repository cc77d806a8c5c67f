"""Moving a Page to another transport without breaking a published flow.

``page_move_report`` is the dry run: it checks every draft and published flow of the Page
(each ``log_event`` block) and every waiting event (pending, retrying, blocked) against the
target transport, and says per flow and block what maps (``fb_mobile_purchase`` →
``Purchase``), what cannot (a custom name, an event without a Conversions API name) and what
needs a change first, each with a fix (events.transport_status.event_move).

``page_move_transport`` is the move: it creates or fetches the Page's dataset, then (for real)
refuses while a published flow holds a block that cannot move, unless the person chose to keep
those events in Pagepulse only; otherwise it switches the Page (the audit log records it),
carries the waiting events over, mapped, and leaves every flow as it was: nothing is rewritten
behind the person's back.

``switch_check`` is the same check for any switch (the Pages screen, the pages API): tenants
calls it through tenants.transports before it changes a Page's transport.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from events import selectors as event_selectors
from events import services as event_services
from events import transport_status
from events.transport_status import CANNOT_MAP, MAPS, NEEDS_CHANGE, BlockAtRisk, EventMove
from flows.models import Flow, FlowStatus, FlowVersion
from tenants import services as tenant_services
from tenants.exceptions import Conflict, DomainError, NotFound
from tenants.models import ConnectedPage, PageStatus, Tenant, Transport
from tenants.services import Actor
from tenants.services.workspaces import require_permission

logger = logging.getLogger(__name__)

MOVE_TARGETS = (Transport.CONVERSIONS_API,)
"""Where a guided move goes: the transport Facebook serves today."""


class TransportSwitchRefused(Conflict):
    """A switch that would stop a published flow delivering; ``details.blocks`` says where."""

    code = "transport_switch_breaks_flows"


class TransportMoveRefused(Conflict):
    """The move found published blocks that cannot move as they are (``details.blocks``)."""

    code = "transport_move_blocked"


@dataclass(frozen=True)
class BlockMove:
    """One ``log_event`` block of a flow (its draft, or its live version) and its move."""

    flow_id: int
    flow_name: str
    published: bool
    version: int | None
    node_id: str
    move: EventMove

    @property
    def where(self) -> str:
        return f"published version {self.version}" if self.published else "draft"

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "flow_name": self.flow_name,
            "published": self.published,
            "version": self.version,
            "where": self.where,
            "node_id": self.node_id,
            **self.move.as_dict(),
        }


@dataclass
class MoveReport:
    page: ConnectedPage
    source: str
    target: str
    blocks: list[BlockMove]
    waiting: list[event_selectors.WaitingMove]
    dry_run: bool = True
    moved: bool = False
    keep_unsendable: bool = False
    events_moved: event_services.MovedEvents | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def at_risk(self, *, keep_unsendable: bool) -> list[BlockMove]:
        """Published blocks that would stop delivering (a kept one only without the tick)."""
        return [
            block
            for block in self.blocks
            if block.published
            and (
                block.move.outcome == NEEDS_CHANGE
                or (block.move.outcome == CANNOT_MAP and not keep_unsendable)
            )
        ]

    def can_move(self, *, keep_unsendable: bool) -> bool:
        return not self.at_risk(keep_unsendable=keep_unsendable)

    @property
    def can_move_plain(self) -> bool:
        return self.can_move(keep_unsendable=False)

    @property
    def can_move_keeping(self) -> bool:
        return self.can_move(keep_unsendable=True)

    @property
    def cannot_map_published(self) -> list[BlockMove]:
        """Published blocks the tick would keep in Pagepulse."""
        return [b for b in self.blocks if b.published and b.move.outcome == CANNOT_MAP]

    def as_dict(self) -> dict[str, Any]:
        def count(outcome: str, *, published: bool | None = None) -> int:
            return sum(
                1
                for b in self.blocks
                if b.move.outcome == outcome and (published is None or b.published == published)
            )

        moved = self.events_moved
        return {
            "page": self.page.pk,
            "from": self.source,
            "to": self.target,
            "dataset_id": self.page.dataset_id,
            "dry_run": self.dry_run,
            "moved": self.moved,
            "keep_unsendable": self.keep_unsendable,
            "can_move": self.can_move(keep_unsendable=False),
            "can_move_keeping": self.can_move(keep_unsendable=True),
            "summary": {
                "blocks": len(self.blocks),
                "maps": count(MAPS),
                "cannot_map": count(CANNOT_MAP),
                "needs_change": count(NEEDS_CHANGE),
                "published_at_risk": len(self.at_risk(keep_unsendable=False)),
                "waiting_events": sum(item.count for item in self.waiting),
            },
            "blocks": [block.as_dict() for block in self.blocks],
            "waiting_events": [
                {"count": item.count, **item.move.as_dict()} for item in self.waiting
            ],
            "events_moved": None
            if moved is None
            else {"mapped": moved.mapped, "kept": moved.kept, "not_sent": moved.not_sent},
        }


def _log_event_blocks(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for node in document.get("nodes", []) or []:
        if isinstance(node, Mapping) and node.get("type") == "log_event":
            data = node.get("data")
            yield str(node.get("id", "")), data if isinstance(data, Mapping) else {}


def _block_move(data: Mapping[str, Any], *, source: str, target: str) -> EventMove:
    value = data.get("value")
    return transport_status.event_move(
        event=data.get("event", ""),
        target=target,
        source=source,
        params=data.get("params") or {},
        value=None if value == "" else value,
        currency=data.get("currency") or None,
        logging_target=data.get("logging_target") or None,
        templated=True,
    )


def _live_versions(flows: list[Flow]) -> dict[int, FlowVersion]:
    """Each published flow's live version (its latest), in one query."""
    published = [flow.pk for flow in flows if flow.status == FlowStatus.PUBLISHED]
    live: dict[int, FlowVersion] = {}
    for version in FlowVersion.objects.filter(flow_id__in=published).order_by("flow_id", "number"):
        live[version.flow_id] = version
    return live


def block_moves(
    *, page: ConnectedPage, target: str, published_only: bool = False
) -> list[BlockMove]:
    """Every log_event block of the Page's published (and, unless ``published_only``, draft)
    flows, each with what a move to ``target`` makes of it."""
    flows = list(
        Flow.objects.for_tenant(page.tenant)
        .filter(page=page, status__in=[FlowStatus.PUBLISHED, FlowStatus.DRAFT])
        .order_by("name", "pk")
    )
    live = _live_versions(flows)
    moves: list[BlockMove] = []
    for flow in flows:
        version = live.get(flow.pk)
        if version is not None:
            for node_id, data in _log_event_blocks(version.document):
                moves.append(
                    BlockMove(
                        flow.pk,
                        flow.name,
                        True,
                        version.number,
                        node_id,
                        _block_move(data, source=page.transport, target=target),
                    )
                )
        if published_only:
            continue
        for node_id, data in _log_event_blocks(flow.document):
            moves.append(
                BlockMove(
                    flow.pk,
                    flow.name,
                    False,
                    None,
                    node_id,
                    _block_move(data, source=page.transport, target=target),
                )
            )
    return moves


def _at_risk(blocks: list[BlockMove]) -> list[BlockAtRisk]:
    return [BlockAtRisk(b.flow_id, b.flow_name, b.node_id, b.move) for b in blocks]


def switch_check(page: ConnectedPage, transport: str, keep_unsendable: bool) -> None:
    """Refuse switching ``page`` to ``transport`` while a published flow would stop delivering
    (registered with tenants.transports; the Pages screen, the pages API and the move run it)."""
    blocks = block_moves(page=page, target=transport, published_only=True)
    report = MoveReport(page, page.transport, transport, blocks, [])
    risky = report.at_risk(keep_unsendable=keep_unsendable)
    if not risky:
        return
    raise TransportSwitchRefused(
        transport_status.switch_refusal(
            page_name=page.name,
            target=transport,
            blocks=_at_risk(risky),
            keep_offered=transport in MOVE_TARGETS,
        ),
        details={"blocks": [block.as_dict() for block in risky]},
    )


def _page(tenant: Tenant, page_pk: int) -> ConnectedPage:
    page = (
        ConnectedPage.objects.for_tenant(tenant).select_related("tenant").filter(pk=page_pk).first()
    )
    if page is None:
        raise NotFound("No such Page in this workspace.")
    return page


def page_move_report(*, tenant: Tenant, page: ConnectedPage, target: str) -> MoveReport:
    """The dry run's findings for moving ``page`` to ``target`` (reads only)."""
    return MoveReport(
        page=page,
        source=page.transport,
        target=target,
        blocks=block_moves(page=page, target=target),
        waiting=event_selectors.waiting_event_moves(tenant=tenant, page=page, target=target),
    )


def page_move_transport(
    *,
    tenant: Tenant,
    actor: Actor,
    page_pk: int,
    transport: str = Transport.CONVERSIONS_API,
    dry_run: bool = True,
    keep_unsendable: bool = False,
    graph: Any = None,
) -> MoveReport:
    """Move a Page to the Conversions API (see the module's docstring); returns the report.

    Raises ``TransportMoveRefused`` (409) while a published flow holds a block that cannot
    move (a kept one unless ``keep_unsendable``), ``DomainError`` for a Page that cannot move
    (already there, disconnected) and what connecting would raise when Facebook refuses the
    dataset.
    """
    require_permission(tenant=tenant, actor=actor, permission="page.manage")
    page = _page(tenant, page_pk)
    if transport not in MOVE_TARGETS:
        raise DomainError(
            f"A move goes to the Conversions API only ({', '.join(MOVE_TARGETS)}); to switch "
            "otherwise, change the Page's transport.",
            details={"transport": ["Use conversions_api."]},
        )
    if page.transport == transport:
        raise DomainError(
            f"“{page.name}” already sends its events through the Conversions API: there is "
            "nothing to move.",
            details={"transport": ["The Page is on it already."]},
        )
    if page.status == PageStatus.DISCONNECTED:
        raise DomainError(
            f"“{page.name}” is disconnected: connect it again (Continue with Facebook), then "
            "move it."
        )
    page = tenant_services.page_ensure_dataset(
        tenant=tenant, actor=actor, page_pk=page.pk, graph=graph
    )
    report = page_move_report(tenant=tenant, page=page, target=transport)
    report.keep_unsendable = keep_unsendable
    if dry_run:
        return report
    risky = report.at_risk(keep_unsendable=keep_unsendable)
    if risky:
        raise TransportMoveRefused(
            transport_status.move_refusal(page_name=page.name, blocks=_at_risk(risky)),
            details={"blocks": [block.as_dict() for block in risky]},
        )
    source = page.transport
    kept_blocks = [b for b in report.blocks if b.published and b.move.outcome == CANNOT_MAP]
    with transaction.atomic():
        moved = event_services.events_move_transport(
            tenant=tenant, page=page, source=source, target=transport
        )
        moved_page = tenant_services.page_update(
            tenant=tenant,
            actor=actor,
            page_pk=page.pk,
            transport=transport,
            keep_unsendable=keep_unsendable,
            audit_details={
                "via": "move",
                "kept_in_pagepulse": [f"{b.flow_name}: {b.node_id}" for b in kept_blocks],
                "events_mapped": moved.mapped,
                "events_kept": moved.kept,
                "events_not_sent": moved.not_sent,
            },
        )
    report.page = moved_page
    report.dry_run = False
    report.moved = True
    report.events_moved = moved
    logger.info(
        "flows.transport_move.moved",
        extra={
            "tenant_id": tenant.pk,
            "page_id": moved_page.pk,
            "from": source,
            "to": transport,
            "kept_blocks": len(kept_blocks),
            "events_mapped": moved.mapped,
            "events_kept": moved.kept,
            "events_not_sent": moved.not_sent,
        },
    )
    return report
