"""The sandbox's User Profile API: names for PSIDs that wrote to the Page, pictures it serves
itself under expiring URLs, and Graph's errors for everyone else, through our GraphClient."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from graph_api.client import GraphClient
from graph_api.errors import InvalidRequestError, PermissionMissingError, TokenInvalidError
from graph_api.sandbox.profiles import FIRST_NAMES, LAST_NAMES
from graph_api.sandbox.seed import psid_for
from tests.sandbox_fixtures import ADA, ADA_PAGE, ADA_PAGE_2, BOB, GraphSandbox, error_of

STRANGER = "6100000000000042"


def test_a_seed_user_who_wrote_gets_their_name_and_a_picture_the_sandbox_serves(
    graph_sandbox: GraphSandbox, sandbox_graph: GraphClient, page_token: str
) -> None:
    psid = psid_for(BOB, ADA_PAGE)
    graph_sandbox.inbound(ADA_PAGE, psid)

    profile = sandbox_graph.user_profile(psid=psid, token=page_token)

    assert (profile.psid, profile.first_name, profile.last_name) == (psid, "Bob", "Manypages")
    picture = graph_sandbox.http.get(profile.profile_pic)
    assert picture.status_code == 200
    assert picture.headers["Content-Type"].startswith("image/svg+xml")
    assert ">BM</text>" in picture.text
    assert parse_qs(urlsplit(profile.profile_pic).query).keys() == {"oh", "oe"}
    logged = graph_sandbox.requests(path=f"/{psid}")
    assert [(r["method"], r["status"]) for r in logged] == [("GET", 200)]
    assert page_token not in str(logged)


def test_any_other_psid_that_wrote_keeps_one_generated_name(
    graph_sandbox: GraphSandbox, sandbox_graph: GraphClient, page_token: str
) -> None:
    graph_sandbox.inbound(ADA_PAGE, STRANGER)

    first = sandbox_graph.user_profile(psid=STRANGER, token=page_token)
    again = sandbox_graph.user_profile(psid=STRANGER, token=page_token)

    assert first.first_name in FIRST_NAMES
    assert first.last_name in LAST_NAMES
    assert (again.first_name, again.last_name) == (first.first_name, first.last_name)


def test_a_changed_or_expired_picture_url_is_refused(
    graph_sandbox: GraphSandbox, sandbox_graph: GraphClient, page_token: str
) -> None:
    graph_sandbox.inbound(ADA_PAGE, STRANGER)
    url = sandbox_graph.user_profile(psid=STRANGER, token=page_token).profile_pic
    query = parse_qs(urlsplit(url).query)
    base = url.split("?")[0]

    forged = graph_sandbox.http.get(base, params={"oh": "0" * 32, "oe": query["oe"][0]})
    stale = graph_sandbox.http.get(base, params={"oh": query["oh"][0], "oe": "1"})

    assert (forged.status_code, forged.text) == (403, "Bad URL hash")
    assert stale.status_code == 403  # the hash covers oe, so an old oe fails either way


def test_a_psid_that_never_wrote_to_this_page_is_unknown(
    graph_sandbox: GraphSandbox, sandbox_graph: GraphClient, page_token: str
) -> None:
    graph_sandbox.inbound(ADA_PAGE_2, STRANGER)  # wrote to another Page only

    with pytest.raises(InvalidRequestError) as caught:
        sandbox_graph.user_profile(psid=STRANGER, token=page_token)

    assert (caught.value.code, caught.value.error_subcode) == (100, 33)


def test_a_user_token_a_bad_token_and_a_missing_permission(
    graph_sandbox: GraphSandbox, sandbox_graph: GraphClient
) -> None:
    graph_sandbox.inbound(ADA_PAGE, STRANGER)
    no_messaging = graph_sandbox.mint(
        type="page", user_id=ADA, page_id=ADA_PAGE, scopes=["page_events"]
    )

    with pytest.raises(InvalidRequestError):
        sandbox_graph.user_profile(psid=STRANGER, token=graph_sandbox.login())
    with pytest.raises(TokenInvalidError):
        sandbox_graph.user_profile(psid=STRANGER, token="EAAB" + "x" * 40)
    with pytest.raises(PermissionMissingError) as caught:
        sandbox_graph.user_profile(psid=STRANGER, token=no_messaging)
    assert caught.value.code == 10


def test_unknown_fields_are_refused(graph_sandbox: GraphSandbox, page_token: str) -> None:
    graph_sandbox.inbound(ADA_PAGE, STRANGER)

    error = error_of(graph_sandbox.get(f"/{STRANGER}", page_token, params={"fields": "email"}))

    assert (
        error["message"] == "(#100) Tried accessing nonexisting field (email) on node type (User)"
    )
