"""Django system checks of the events app: Graph versions past Facebook's published end.

``pagepulse.W001``: ``GRAPH_API_VERSION`` (every call but page_activities) has reached its end
on Facebook's calendar (events/graph_versions.json). ``pagepulse.W002``:
``PAGE_ACTIVITIES_API_VERSION`` has, and ``GRAPH_API_URL`` is Facebook's real host (the Graph
sandbox keeps serving page_activities on v20.0, as the guide describes it, so there it is no
mistake). Both are warnings: Pagepulse still starts, and says what to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils import timezone

from events import transport_status
from events.transport_status import Calendar


def graph_versions_check(
    *, today: date | None = None, cal: Calendar | None = None, graph_url: str | None = None
) -> list[checks.CheckMessage]:
    """The warnings for today's date and the calendar (both injectable for tests)."""
    today = today or timezone.localdate()
    cal = cal or transport_status.calendar()
    found: list[checks.CheckMessage] = []
    version = str(settings.GRAPH_API_VERSION)
    if cal.ended(version, today=today):
        found.append(
            checks.Warning(
                f"GRAPH_API_VERSION={version} reached its end on {cal.end_of(version)}: "
                "Facebook no longer serves it.",
                hint="Set GRAPH_API_VERSION to a version Facebook still serves "
                f"(events/graph_versions.json lists them; source: {cal.source}).",
                id="pagepulse.W001",
            )
        )
    version = str(settings.PAGE_ACTIVITIES_API_VERSION)
    if cal.ended(version, today=today) and transport_status.talks_to_facebook(graph_url):
        found.append(
            checks.Warning(
                f"PAGE_ACTIVITIES_API_VERSION={version} reached its end on "
                f"{cal.end_of(version)}: Facebook no longer serves page_activities, so events "
                "of Pages on it are held, not sent.",
                hint="Move those Pages to the Conversions API (Pages screen, “Move to the "
                "Conversions API”); no later Graph version has page_activities.",
                id="pagepulse.W002",
            )
        )
    return found


def check_graph_versions(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    return graph_versions_check()
