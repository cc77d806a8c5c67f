"""The status of each transport, beside the catalog: one place for what is true today.

Per transport: its Graph version, whether Facebook still serves it (and since when not), what
this Pagepulse's Graph host does with it (``GRAPH_API_URL``: the Graph sandbox keeps serving
page_activities on v20.0, Facebook's real host stopped on 2026-09-24), what to use instead, and
what happens to custom events on it. The calendar is one data file, ``graph_versions.json``
beside this module, with its source. The Pages screen, the connect dialog, the pages API
(``transport_status``), the event catalog API and the editor's log-event form all read it, and
so does delivery (a retired transport's events are held, not sent, against Facebook).

``event_move`` says what becomes of one event when a Page changes transport; the move to the
Conversions API (flows.transport_move) builds its dry run from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from events import catalog, validation
from tenants.transports import ACTIVE, DELIVERED, KEPT, RETIRED, TransportStatus

CALENDAR_PATH = Path(__file__).with_name("graph_versions.json")
CONVERSIONS_API = "conversions_api"
PAGE_ACTIVITIES = "page_activities"

# Plain words first (the Pages screen speaks of "how events reach Facebook"), then the
# technical names for the small print.
LABELS: Mapping[str, str] = MappingProxyType(
    {
        CONVERSIONS_API: "Conversions API",
        PAGE_ACTIVITIES: "Events API (page_activities)",
    }
)
PLAIN: Mapping[str, str] = MappingProxyType(
    {
        CONVERSIONS_API: "Events go to the Page's dataset and show in Events Manager and Ads "
        "Manager. Facebook's recommended route.",
        PAGE_ACTIVITIES: "Events go straight to the Page, as Facebook's original guide for "
        "Messenger bots describes.",
    }
)
ENDPOINTS: Mapping[str, str] = MappingProxyType(
    {
        CONVERSIONS_API: "POST /{dataset-id}/events (Conversions API for Business Messaging)",
        PAGE_ACTIVITIES: "POST /{app-id}/page_activities (Events API for Business Messaging)",
    }
)


@dataclass(frozen=True)
class Calendar:
    """Graph API versions and the day Facebook stops serving each (None: not announced)."""

    source: str
    ends: Mapping[str, date | None]
    last_versions: Mapping[str, str | None]

    def end_of(self, version: str) -> date | None:
        return self.ends.get(version)

    def ended(self, version: str, *, today: date) -> bool:
        end = self.end_of(version)
        return end is not None and today >= end


class CalendarError(ValueError):
    """graph_versions.json is inconsistent (caught when it is loaded)."""


def build_calendar(raw: Mapping[str, Any]) -> Calendar:
    ends: dict[str, date | None] = {}
    for version, item in raw["versions"].items():
        until = item.get("available_until")
        ends[version] = date.fromisoformat(until) if until else None
    last = {t: raw["transports"][t].get("last_version") for t in catalog.TRANSPORTS}
    for transport, version in last.items():
        if version is not None and version not in ends:
            raise CalendarError(f"{transport}: its last version {version} is not in the calendar")
    return Calendar(
        source=str(raw["source"]),
        ends=MappingProxyType(ends),
        last_versions=MappingProxyType(last),
    )


def load_calendar(path: Path = CALENDAR_PATH) -> Calendar:
    return build_calendar(json.loads(path.read_text(encoding="utf-8")))


_CALENDAR = load_calendar()


def calendar() -> Calendar:
    return _CALENDAR


def talks_to_facebook(graph_url: str | None = None) -> bool:
    """Whether ``GRAPH_API_URL`` (or ``graph_url``) is Facebook's real host, not the sandbox."""
    host = (urlsplit(graph_url or settings.GRAPH_API_URL).hostname or "").lower()
    return host == "facebook.com" or host.endswith(".facebook.com")


def graph_version(transport: str) -> str:
    """The Graph version Pagepulse calls for ``transport``."""
    if transport == PAGE_ACTIVITIES:
        return str(settings.PAGE_ACTIVITIES_API_VERSION)
    return str(settings.GRAPH_API_VERSION)


def _day(moment: date) -> str:
    return f"{moment.day} {moment:%B %Y}"


def _retired_on(transport: str, cal: Calendar) -> date | None:
    """The day Facebook stopped serving ``transport``: the end of the last version that had it,
    or of the version Pagepulse is configured to call, whichever comes first."""
    ends = [cal.end_of(graph_version(transport))]
    if last := cal.last_versions.get(transport):
        ends.append(cal.end_of(last))
    known = [end for end in ends if end is not None]
    return min(known) if known else None


def retired_message(transport: str, retired_on: date, *, here: bool) -> str:
    """What a retired transport means, on Facebook's real host (``here``) or the sandbox."""
    if transport == PAGE_ACTIVITIES:
        said = (
            "Facebook stopped serving the Events API for Business Messaging (page_activities) "
            f"on {_day(retired_on)}, when Graph API "
            f"{calendar().last_versions.get(PAGE_ACTIVITIES) or graph_version(transport)} "
            "reached its end."
        )
        if here:
            return (
                f"{said} Events of a Page on it are held in Pagepulse, not sent: move the Page "
                "to the Conversions API and they go out."
            )
        return (
            f"{said} The Graph sandbox this Pagepulse talks to still serves it, so events are "
            "delivered there; against Facebook they would not be. Move the Page to the "
            "Conversions API."
        )
    return (
        f"Graph API {graph_version(transport)}, which Pagepulse calls for the Conversions API, "
        f"reached its end on {_day(retired_on)}: set GRAPH_API_VERSION to a version Facebook "
        "serves."
    )


CUSTOM_EVENTS_KEPT = (
    "The Conversions API takes only its 14 standard events: a custom event is kept in "
    "Pagepulse (counted in the delivery log and exports) and never sent to Facebook."
)
CUSTOM_EVENTS_DELIVERED = "Custom event names are sent to Facebook as they are."


def transport_status(
    transport: str,
    *,
    today: date | None = None,
    graph_url: str | None = None,
    cal: Calendar | None = None,
) -> TransportStatus:
    """What is true of ``transport`` today for this Pagepulse (see the module's docstring)."""
    if transport not in catalog.TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}")
    cal = cal or _CALENDAR
    today = today or timezone.localdate()
    facebook = talks_to_facebook(graph_url)
    retired_on = _retired_on(transport, cal)
    retired = retired_on is not None and today >= retired_on
    version = graph_version(transport)
    kept = not catalog.custom_events_allowed(transport)
    replaced = transport == PAGE_ACTIVITIES
    if retired and retired_on is not None:
        message = retired_message(transport, retired_on, here=facebook)
    elif replaced and retired_on is not None:
        message = (
            f"Facebook serves it on Graph API {version} until {_day(retired_on)}; after that, "
            "use the Conversions API."
        )
    else:
        message = PLAIN[transport]
    refusal = ""
    if retired and facebook and replaced and retired_on is not None:
        refusal = (
            f"Facebook stopped serving the Events API for Business Messaging (page_activities) "
            f"on {_day(retired_on)}, so a Page cannot use it any more. Choose the Conversions "
            "API, which Facebook serves today."
        )
    return TransportStatus(
        transport=transport,
        label=LABELS[transport],
        technical=f"{transport} · Graph API {version} · {ENDPOINTS[transport]}",
        graph_version=version,
        state=RETIRED if retired else ACTIVE,
        retired_on=retired_on,
        delivered=not (retired and facebook),
        selectable=not refusal,
        message=message,
        refusal=refusal,
        use_instead=CONVERSIONS_API if replaced else None,
        custom_events=KEPT if kept else DELIVERED,
        custom_events_message=CUSTOM_EVENTS_KEPT if kept else CUSTOM_EVENTS_DELIVERED,
    )


def held_reason(transport: str) -> str:
    """Why a Page's events are held on ``transport`` now ("" when they may be sent)."""
    status = transport_status(transport)
    return "" if status.delivered else status.message


# --- What becomes of an event when its Page changes transport ---------------------------------

MAPS = "maps"
CANNOT_MAP = "cannot_map"
NEEDS_CHANGE = "needs_change"
MOVE_OUTCOMES = (MAPS, CANNOT_MAP, NEEDS_CHANGE)


@dataclass(frozen=True)
class EventMove:
    """One event (a flow block's, or a pending event's) moving to ``target``.

    ``outcome``: ``maps`` (sent there under ``target_name``), ``cannot_map`` (the target has
    no name for it: kept in Pagepulse only, when the person agrees) or ``needs_change`` (a
    parameter, value or logging target the target refuses: fix the block first).
    ``message`` says what happens; ``fix`` what to do about it ("" when nothing).
    """

    event: str
    label: str
    source_name: str | None
    target_name: str | None
    outcome: str
    message: str
    fix: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "label": self.label,
            "from_name": self.source_name,
            "to_name": self.target_name,
            "outcome": self.outcome,
            "message": self.message,
            "fix": self.fix,
        }


def _suggestion(found: catalog.CatalogEvent | None, target: str) -> str:
    """A standard event of ``target`` to pick instead: one of the same category, else a lead."""
    choices = catalog.for_transport(target)
    same = [e for e in choices if found is not None and e.category == found.category]
    pick = same[0] if same else next((e for e in choices if e.key == "lead_submitted"), None)
    if pick is None:
        return "Pick one of its standard events"
    return f"Pick a standard event it takes, such as {pick.label} ({pick.name_for(target)})"


def event_move(
    *,
    event: str,
    target: str,
    params: Mapping[str, object] | None = None,
    value: object = None,
    currency: str | None = None,
    logging_target: str | None = None,
    templated: bool = False,
    source: str | None = None,
) -> EventMove:
    """What becomes of ``event`` (with its parameters) on ``target``; see ``EventMove``."""
    found = catalog.resolve(event) if isinstance(event, str) else None
    label = found.label if found else str(event)
    source_name = catalog.facebook_name(event, source) if source and found else event
    target_name = found.name_for(target) if found else None
    kept = validation.kept_reason(event, target)
    if kept is not None:
        fix = (
            f"{_suggestion(found, target)}, or tick “Keep those events in Pagepulse only” "
            "and they are counted there, never sent."
        )
        return EventMove(event, label, source_name, None, CANNOT_MAP, kept, fix)
    problems = validation.validate_event(
        event=event,
        params=params,
        value=value,
        currency=currency,
        transport=target,
        logging_target=logging_target,
        templated=templated,
    )
    if problems:
        message = " ".join(problem.message for problem in problems)
        fix = "Change the block as said, publish the flow again, then move the Page."
        return EventMove(event, label, source_name, target_name, NEEDS_CHANGE, message, fix)
    name = target_name or str(event)
    shown = f"{source_name} → {name}" if source_name and source_name != name else name
    message = f"Sent as {name} on the {LABELS[target]}." if shown == name else f"{shown}."
    return EventMove(event, label, source_name, name, MAPS, message, "")


# --- Refusing a switch that would break a published flow ---------------------------------------

KEEP_CHOICE = "Keep those events in Pagepulse only"
MOVE_ACTION = "Move to the Conversions API"


@dataclass(frozen=True)
class BlockAtRisk:
    """A block of a published flow that a transport switch would stop delivering."""

    flow_id: int
    flow_name: str
    node_id: str
    move: EventMove


def _where(blocks: Sequence[BlockAtRisk]) -> str:
    flows: dict[str, list[str]] = {}
    for block in blocks:
        flows.setdefault(block.flow_name, []).append(f"{block.node_id}: {block.move.event}")
    return "; ".join(f"“{name}” (block {', block '.join(items)})" for name, items in flows.items())


def switch_refusal(
    *, page_name: str, target: str, blocks: Sequence[BlockAtRisk], keep_offered: bool
) -> str:
    """Why switching the Page to ``target`` is refused, naming the flows and blocks."""
    flows = len({block.flow_id for block in blocks})
    plural = "s" if flows != 1 else ""
    said = (
        f"Switching “{page_name}” to the {LABELS[target]} would stop {flows} published "
        f"flow{plural} from delivering {'their' if flows != 1 else 'its'} events: "
        f"{_where(blocks)}. details.blocks says why for each, and how to fix it."
    )
    if keep_offered and all(block.move.outcome == CANNOT_MAP for block in blocks):
        return (
            f"{said} Change those blocks and publish again, or use “{MOVE_ACTION}” and tick "
            f"“{KEEP_CHOICE}”."
        )
    return f"{said} Change those blocks and publish again, then switch."


def move_refusal(*, page_name: str, blocks: Sequence[BlockAtRisk]) -> str:
    """Why the real move is refused: published blocks that cannot move as they are."""
    flows = len({block.flow_id for block in blocks})
    plural = "s" if flows != 1 else ""
    cannot_map = [block for block in blocks if block.move.outcome == CANNOT_MAP]
    needs_change = [block for block in blocks if block.move.outcome == NEEDS_CHANGE]
    parts = [
        f"“{page_name}” was not moved: {flows} published flow{plural} "
        f"{'have' if flows != 1 else 'has'} events the Conversions API cannot take as they are."
    ]
    if needs_change:
        parts.append(f"Change these blocks and publish again first: {_where(needs_change)}.")
    if cannot_map:
        parts.append(
            f"These have no Conversions API name: {_where(cannot_map)}; tick “{KEEP_CHOICE}” "
            "to move anyway and keep them in Pagepulse, or pick standard events for them."
        )
    return " ".join(parts)
