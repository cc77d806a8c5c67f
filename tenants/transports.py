"""Transports as the tenants app needs them: each one's status, and whether a switch is safe.

tenants imports nothing above it, yet the Pages screen, the pages API and the transport switch
need what only the apps above know: Facebook's calendar and the words for it (events, beside
the catalog) and what a Page's published flows would lose (flows). Those apps register here
when Django starts (their ``AppConfig.ready``); tenants asks through these functions. Without a
registration (never the case in the running product) every transport reads as active and
every switch as safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenants.models import ConnectedPage

ACTIVE = "active"
RETIRED = "retired"
KEPT = "kept"
DELIVERED = "delivered"
STATES = (ACTIVE, RETIRED)
CUSTOM_EVENT_FATES = (DELIVERED, KEPT)


@dataclass(frozen=True)
class TransportStatus:
    """What is true of one transport today, for this Pagepulse (its ``GRAPH_API_URL``).

    ``state`` is ``retired`` once Facebook stopped serving it (``retired_on``); ``delivered``
    says whether the Graph host this Pagepulse talks to still takes its events (the Graph
    sandbox keeps serving page_activities); ``selectable`` whether a Page may be switched to
    it now, and ``refusal`` why not. ``custom_events`` is ``delivered`` or ``kept``.
    """

    transport: str
    label: str
    technical: str
    graph_version: str
    state: str
    retired_on: date | None
    delivered: bool
    selectable: bool
    message: str
    refusal: str
    use_instead: str | None
    custom_events: str
    custom_events_message: str

    @property
    def retired(self) -> bool:
        return self.state == RETIRED

    def as_dict(self) -> dict[str, Any]:
        """The status as the API and the editor get it."""
        return {
            "transport": self.transport,
            "state": self.state,
            "label": self.label,
            "technical": self.technical,
            "graph_version": self.graph_version,
            "retired_on": self.retired_on.isoformat() if self.retired_on else None,
            "delivered": self.delivered,
            "selectable": self.selectable,
            "message": self.message,
            "use_instead": self.use_instead,
            "custom_events": self.custom_events,
            "custom_events_message": self.custom_events_message,
        }


StatusProvider = Callable[[str], TransportStatus]
SwitchCheck = Callable[["ConnectedPage", str, bool], None]
"""Raises a ``DomainError`` naming what the switch of the Page to the transport would break;
the bool is whether the person chose to keep unsendable events in Pagepulse only."""

_status_provider: StatusProvider | None = None
_switch_checks: dict[str, SwitchCheck] = {}


def register_status_provider(provider: StatusProvider) -> None:
    global _status_provider  # one provider, set once at start-up
    _status_provider = provider


def register_switch_check(name: str, check: SwitchCheck) -> None:
    _switch_checks[name] = check


def transport_status(transport: str) -> TransportStatus:
    if _status_provider is not None:
        return _status_provider(transport)
    return TransportStatus(
        transport=transport,
        label=transport,
        technical=transport,
        graph_version="",
        state=ACTIVE,
        retired_on=None,
        delivered=True,
        selectable=True,
        message="",
        refusal="",
        use_instead=None,
        custom_events=DELIVERED,
        custom_events_message="",
    )


def check_switch(*, page: ConnectedPage, transport: str, keep_unsendable: bool = False) -> None:
    """Run every registered check of switching ``page`` to ``transport`` (raises to refuse)."""
    for check in _switch_checks.values():
        check(page, transport, keep_unsendable)
