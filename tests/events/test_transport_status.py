"""The status of each transport (events/transport_status.py), the move's mapping of every
catalog event, and the system check of Graph versions against Facebook's calendar."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.checks import CheckMessage
from django.test import override_settings

from events import catalog, transport_status
from events.catalog import CatalogEvent
from events.checks import graph_versions_check
from events.transport_status import (
    CANNOT_MAP,
    MAPS,
    NEEDS_CHANGE,
    Calendar,
    build_calendar,
    event_move,
)

PA, CAPI = "page_activities", "conversions_api"
FACEBOOK = "https://graph.facebook.com"
SANDBOX = "http://127.0.0.1:8765"
BEFORE, ON, AFTER = date(2026, 9, 23), date(2026, 9, 24), date(2026, 12, 4)


def fake_calendar(**ends: str | None) -> Calendar:
    return build_calendar(
        {
            "source": "a test's own calendar",
            "versions": {v: {"available_until": end} for v, end in ends.items()},
            "transports": {PA: {"last_version": "v20.0"}, CAPI: {"last_version": None}},
        }
    )


def test_the_calendar_file_has_its_source_and_page_activities_end() -> None:
    cal = transport_status.load_calendar()
    assert cal.source.startswith("https://developers.facebook.com/docs/graph-api/changelog/")
    assert cal.end_of("v20.0") == date(2026, 9, 24)
    assert cal.end_of("v25.0") == date(2028, 7, 29)
    assert cal.end_of("v26.0") is None  # not announced
    assert cal.last_versions[PA] == "v20.0"


@pytest.mark.parametrize(
    ("today", "url", "state", "delivered", "selectable"),
    [
        (BEFORE, FACEBOOK, "active", True, True),
        (ON, FACEBOOK, "retired", False, False),
        (AFTER, FACEBOOK, "retired", False, False),
        (AFTER, "https://graph.beta.facebook.com", "retired", False, False),
        (AFTER, SANDBOX, "retired", True, True),  # the sandbox keeps serving v20.0
    ],
)
def test_page_activities_status(
    today: date, url: str, state: str, delivered: bool, selectable: bool
) -> None:
    status = transport_status.transport_status(PA, today=today, graph_url=url)
    assert (status.state, status.delivered, status.selectable) == (state, delivered, selectable)
    assert (status.retired_on, status.use_instead) == (date(2026, 9, 24), CAPI)
    assert (status.custom_events, status.graph_version) == ("delivered", "v20.0")
    assert bool(status.refusal) is not selectable


def test_the_words_say_what_is_true_and_what_to_do() -> None:
    here = transport_status.transport_status(PA, today=AFTER, graph_url=FACEBOOK)
    assert here.message == (
        "Facebook stopped serving the Events API for Business Messaging (page_activities) on "
        "24 September 2026, when Graph API v20.0 reached its end. Events of a Page on it are "
        "held in Pagepulse, not sent: move the Page to the Conversions API and they go out."
    )
    assert here.refusal == (
        "Facebook stopped serving the Events API for Business Messaging (page_activities) on "
        "24 September 2026, so a Page cannot use it any more. Choose the Conversions API, "
        "which Facebook serves today."
    )
    sandbox = transport_status.transport_status(PA, today=AFTER, graph_url=SANDBOX)
    assert "The Graph sandbox this Pagepulse talks to still serves it" in sandbox.message
    before = transport_status.transport_status(PA, today=BEFORE, graph_url=FACEBOOK)
    assert before.message == (
        "Facebook serves it on Graph API v20.0 until 24 September 2026; after that, use the "
        "Conversions API."
    )
    capi = transport_status.transport_status(CAPI, today=AFTER, graph_url=FACEBOOK)
    assert (capi.state, capi.selectable, capi.custom_events) == ("active", True, "kept")
    assert capi.use_instead is None
    assert capi.label == "Conversions API"
    assert capi.technical == (
        "conversions_api · Graph API v25.0 · POST /{dataset-id}/events (Conversions API for "
        "Business Messaging)"
    )


@override_settings(GRAPH_API_VERSION="v19.0")
def test_a_conversions_api_version_past_its_end_is_retired_but_still_chosen() -> None:
    status = transport_status.transport_status(CAPI, today=AFTER, graph_url=FACEBOOK)
    assert (status.state, status.selectable) == ("retired", True)
    assert status.message == (
        "Graph API v19.0, which Pagepulse calls for the Conversions API, reached its end on "
        "21 May 2026: set GRAPH_API_VERSION to a version Facebook serves."
    )


# --- the move's mapping: every catalog event, both ways -----------------------------------------


@pytest.mark.parametrize("event", catalog.all_events(), ids=lambda e: e.key)
@pytest.mark.parametrize(("source", "target"), [(PA, CAPI), (CAPI, PA)])
def test_every_catalog_event_maps_or_says_why_not(
    event: CatalogEvent, source: str, target: str
) -> None:
    source_name = event.name_for(source) or event.key
    move = event_move(event=source_name, source=source, target=target)
    target_name = event.name_for(target)
    if target_name is not None:
        assert (move.outcome, move.target_name, move.fix) == (MAPS, target_name, "")
        assert target_name in move.message
    elif target == CAPI:
        # The Conversions API has no name for it: kept in Pagepulse, when the person agrees.
        assert move.outcome == CANNOT_MAP
        assert move.message.startswith(f"{event.label} ({source_name}) has no Conversions API")
        assert "tick “Keep those events in Pagepulse only”" in move.fix
    else:
        # page_activities takes custom names, but not a standard event's own name.
        assert move.outcome == NEEDS_CHANGE
        assert "cannot be sent on page_activities" in move.message


def test_the_mapping_of_the_issues_examples() -> None:
    purchase = event_move(event="fb_mobile_purchase", source=PA, target=CAPI)
    assert (purchase.outcome, purchase.message) == (MAPS, "fb_mobile_purchase → Purchase.")
    lead = event_move(event="lead_submitted", source=PA, target=CAPI)
    assert (lead.outcome, lead.target_name) == (MAPS, "LeadSubmitted")
    custom = event_move(event="table_booked", source=PA, target=CAPI)
    assert (custom.outcome, custom.target_name) == (CANNOT_MAP, None)
    assert custom.fix == (
        "Pick a standard event it takes, such as Lead submitted (LeadSubmitted), or tick "
        "“Keep those events in Pagepulse only” and they are counted there, never sent."
    )
    back = event_move(event="table_booked", source=CAPI, target=PA)
    assert (back.outcome, back.target_name) == (MAPS, "table_booked")


def test_a_block_whose_parameters_the_target_refuses_needs_a_change() -> None:
    move = event_move(
        event="purchase",
        source=PA,
        target=CAPI,
        params={"fb_content_type": "product"},
        value="{{total}}",
        currency="USD",
        logging_target="app_and_page",
        templated=True,
    )
    assert move.outcome == NEEDS_CHANGE
    assert move.message == (
        "fb_content_type (Kind of item) is a parameter of page_activities; conversions_api "
        "does not take it. Remove it. The logging target applies only to page_activities; "
        "conversions_api sends every event to the page's dataset. Set it to page."
    )


# --- the system check ---------------------------------------------------------------------------


def ids(found: list[CheckMessage]) -> list[str | None]:
    return [message.id for message in found]


@override_settings(GRAPH_API_VERSION="v25.0", PAGE_ACTIVITIES_API_VERSION="v20.0")
def test_the_check_is_quiet_while_facebook_serves_both() -> None:
    cal = fake_calendar(**{"v20.0": "2026-09-24", "v25.0": "2028-07-29"})
    assert graph_versions_check(today=BEFORE, cal=cal, graph_url=FACEBOOK) == []


@override_settings(GRAPH_API_VERSION="v25.0", PAGE_ACTIVITIES_API_VERSION="v20.0")
def test_the_check_warns_once_page_activities_version_ended_on_facebooks_host() -> None:
    cal = fake_calendar(**{"v20.0": "2026-09-24", "v25.0": "2028-07-29"})
    [warning] = graph_versions_check(today=ON, cal=cal, graph_url=FACEBOOK)
    assert warning.id == "pagepulse.W002"
    assert warning.msg == (
        "PAGE_ACTIVITIES_API_VERSION=v20.0 reached its end on 2026-09-24: Facebook no longer "
        "serves page_activities, so events of Pages on it are held, not sent."
    )
    assert "Move to the Conversions API" in (warning.hint or "")
    # The sandbox still serves it: nothing to warn about there.
    assert graph_versions_check(today=ON, cal=cal, graph_url=SANDBOX) == []


@override_settings(GRAPH_API_VERSION="v21.0", PAGE_ACTIVITIES_API_VERSION="v20.0")
def test_the_check_warns_when_graph_api_version_ended_anywhere() -> None:
    cal = fake_calendar(**{"v20.0": "2026-09-24", "v21.0": "2027-01-21"})
    assert ids(graph_versions_check(today=date(2027, 1, 20), cal=cal, graph_url=SANDBOX)) == []
    [warning] = graph_versions_check(today=date(2027, 1, 21), cal=cal, graph_url=SANDBOX)
    assert warning.id == "pagepulse.W001"
    assert warning.msg == (
        "GRAPH_API_VERSION=v21.0 reached its end on 2027-01-21: Facebook no longer serves it."
    )
    assert "a test's own calendar" in (warning.hint or "")
    both = graph_versions_check(today=date(2027, 1, 21), cal=cal, graph_url=FACEBOOK)
    assert ids(both) == ["pagepulse.W001", "pagepulse.W002"]


@override_settings(GRAPH_API_VERSION="v99.0")
def test_a_version_the_calendar_does_not_know_is_not_warned_about() -> None:
    cal = fake_calendar(**{"v20.0": "2026-09-24"})
    assert graph_versions_check(today=AFTER, cal=cal, graph_url=SANDBOX) == []


def test_the_check_is_registered_with_django() -> None:
    from django.core import checks

    assert "check_graph_versions" in {
        getattr(check, "__name__", "") for check in checks.registry.registry.get_checks()
    }
