"""people_profile: the User Profile API behind Django's cache in Redis, failures tolerated and
remembered briefly, no token in the logs. Facebook is `responses`; the cache is the real Redis."""

from __future__ import annotations

import logging

import pytest
import responses

from graph_api.client import GraphClient
from tenants.models import ConnectedPage, PageStatus
from tenants.profiles import people_profile
from tests.graph_stub import BASE, VERSION
from tests.tenants.factories import ConnectedPageFactory

pytestmark = pytest.mark.django_db

PSID = "6100000000000042"
OTHER_PSID = "6100000000000043"
ANSWER = {"first_name": "Ada", "last_name": "Okafor", "profile_pic": "https://p.example/a.svg"}


def new_page(**fields: object) -> ConnectedPage:
    page: ConnectedPage = ConnectedPageFactory.create(**fields)
    return page


def graph_error(code: int, status: int = 400) -> dict[str, object]:
    error = {"message": "Failed", "type": "OAuthException", "code": code, "fbtrace_id": "T"}
    return {"json": {"error": error}, "status": status}


@responses.activate
def test_two_lookups_make_one_call_and_give_the_same_profile(graph_client: GraphClient) -> None:
    page = new_page()
    responses.get(f"{BASE}/{VERSION}/{PSID}", json={**ANSWER, "id": PSID})

    first = people_profile(page, PSID, graph=graph_client)
    second = people_profile(page, PSID, graph=graph_client)

    assert first is not None
    assert (first.first_name, first.last_name, first.profile_pic) == (
        "Ada",
        "Okafor",
        "https://p.example/a.svg",
    )
    assert second == first
    assert len(responses.calls) == 1
    assert f"test-page-token-{page.page_id}" in (responses.calls[0].request.url or "")


@responses.activate
@pytest.mark.parametrize(("code", "status"), [(10, 403), (190, 400)])
def test_a_refused_token_is_not_asked_again_for_any_person_of_the_page(
    graph_client: GraphClient, code: int, status: int
) -> None:
    page = new_page()
    responses.get(f"{BASE}/{VERSION}/{PSID}", **graph_error(code, status))

    assert people_profile(page, PSID, graph=graph_client) is None
    assert people_profile(page, OTHER_PSID, graph=graph_client) is None
    assert len(responses.calls) == 1


@responses.activate
def test_an_unknown_person_is_remembered_but_others_are_still_asked(
    graph_client: GraphClient,
) -> None:
    page = new_page()
    responses.get(f"{BASE}/{VERSION}/{PSID}", **graph_error(100))
    responses.get(f"{BASE}/{VERSION}/{OTHER_PSID}", json={**ANSWER, "id": OTHER_PSID})

    assert people_profile(page, PSID, graph=graph_client) is None
    assert people_profile(page, PSID, graph=graph_client) is None
    other = people_profile(page, OTHER_PSID, graph=graph_client)

    assert other is not None
    assert other.psid == OTHER_PSID
    assert [call.request.url.split("?")[0] for call in responses.calls] == [  # type: ignore[union-attr]
        f"{BASE}/{VERSION}/{PSID}",
        f"{BASE}/{VERSION}/{OTHER_PSID}",
    ]


@responses.activate
def test_an_outage_answers_none_and_logs_without_the_token(
    graph_client: GraphClient, caplog: pytest.LogCaptureFixture
) -> None:
    page = new_page()
    token = f"test-page-token-{page.page_id}"
    responses.get(
        f"{BASE}/{VERSION}/{PSID}",
        json={"error": {"message": f"down for {token}", "code": 2, "is_transient": True}},
        status=500,
    )

    with caplog.at_level(logging.WARNING, logger="tenants.profiles"):
        assert people_profile(page, PSID, graph=graph_client) is None

    failures = [r for r in caplog.records if r.getMessage() == "people.profile_failed"]
    assert len(failures) == 1
    assert failures[0].__dict__["page_id"] == page.page_id
    assert failures[0].__dict__["reason"] == "TransientError"
    everything = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert token not in everything


@responses.activate
def test_a_disconnected_page_is_not_asked(graph_client: GraphClient) -> None:
    page = new_page(status=PageStatus.DISCONNECTED)

    assert people_profile(page, PSID, graph=graph_client) is None
    assert len(responses.calls) == 0
