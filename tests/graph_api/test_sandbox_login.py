"""The sandbox's login dialog, token endpoints, debug_token, /me and /me/accounts."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.sandbox_fixtures import (
    ADA,
    ADA_PAGE,
    ADA_PAGE_NO_ANALYZE,
    BOB,
    CLEO,
    DEFAULT_SCOPE,
    REDIRECT_URI,
    GraphSandbox,
    error_of,
)


def redirect_query(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


# --- Dialog --------------------------------------------------------------------------------------


def test_auto_dialog_redirects_with_code_state_and_scopes(graph_sandbox: GraphSandbox) -> None:
    query = redirect_query(graph_sandbox.dialog(decline=("ads_read",)))

    assert query["state"] == "st4te"
    assert query["code"].startswith("sbx_code_")
    assert query["granted_scopes"].split(",") == sorted(
        {"public_profile", *DEFAULT_SCOPE} - {"ads_read"}
    )
    assert query["denied_scopes"] == "ads_read"


def test_declined_permission_is_not_asked_again_without_rerequest(
    graph_sandbox: GraphSandbox,
) -> None:
    redirect_query(graph_sandbox.dialog(decline=("page_events",)))

    again = redirect_query(graph_sandbox.dialog())
    assert "page_events" not in again["granted_scopes"].split(",")
    assert again["denied_scopes"] == "page_events"

    asked = redirect_query(graph_sandbox.dialog(rerequest=True))
    assert "page_events" in asked["granted_scopes"].split(",")
    assert asked["denied_scopes"] == ""


def test_user_declines_permissions_outside_their_defaults(graph_sandbox: GraphSandbox) -> None:
    query = redirect_query(graph_sandbox.dialog(user_id=CLEO))

    assert set(query["denied_scopes"].split(",")) == {
        "page_events",
        "business_management",
        "ads_read",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_id": "999"}, "Invalid App ID: 999 is not this app&#x27;s ID."),
        ({"redirect_uri": "not-a-url"}, "redirect_uri must be an absolute http(s) URL"),
        ({"scope": "page_events,manage_everything"}, "Invalid Scopes: manage_everything."),
        ({"response_type": "token"}, "response_type=token is not supported"),
    ],
)
def test_bad_dialog_requests_get_an_error_page(
    graph_sandbox: GraphSandbox, change: dict[str, Any], message: str
) -> None:
    params = {
        "client_id": graph_sandbox.app_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "page_events",
        "sandbox_auto": "1",
        **change,
    }
    response = graph_sandbox.http.get(
        f"{graph_sandbox.url}/v25.0/dialog/oauth", params=params, allow_redirects=False
    )

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert message in response.text


def test_interactive_dialog_lets_a_person_pick_a_user_and_untick(
    graph_sandbox: GraphSandbox,
) -> None:
    pick = graph_sandbox.dialog(user_id=None, auto=False)
    assert pick.status_code == 200
    assert "Ada Sandbox" in pick.text
    assert "Bob Manypages" in pick.text
    # Self-contained: no scripts, stylesheets or images from anywhere.
    assert "<script" not in pick.text
    assert "<link" not in pick.text
    assert "src=" not in pick.text

    consent = graph_sandbox.dialog(user_id=ADA, auto=False)
    assert "name=perm value='page_events' checked" in consent.text
    assert f"name=page value='{ADA_PAGE}' checked" in consent.text

    form = {
        "client_id": graph_sandbox.app_id,
        "redirect_uri": REDIRECT_URI,
        "state": "s",
        "scope": "page_events,pages_show_list",
        "return_scopes": "true",
        "sandbox_user": ADA,
        "perm": ["pages_show_list"],
        "page": [ADA_PAGE],
        "action": "continue",
    }
    answer = graph_sandbox.http.post(
        f"{graph_sandbox.url}/v25.0/dialog/oauth/confirm", data=form, allow_redirects=False
    )
    query = redirect_query(answer)
    assert query["denied_scopes"] == "page_events"

    token = graph_sandbox.exchange_code(query["code"]).json()["access_token"]
    accounts = graph_sandbox.get("/me/accounts", token).json()["data"]
    assert [page["id"] for page in accounts] == [ADA_PAGE]


def test_cancel_redirects_with_access_denied(graph_sandbox: GraphSandbox) -> None:
    form = {
        "client_id": graph_sandbox.app_id,
        "redirect_uri": REDIRECT_URI,
        "state": "s",
        "action": "cancel",
    }
    answer = graph_sandbox.http.post(
        f"{graph_sandbox.url}/dialog/oauth/confirm", data=form, allow_redirects=False
    )

    assert redirect_query(answer) == {
        "error": "access_denied",
        "error_code": "200",
        "error_description": "Permissions error",
        "error_reason": "user_denied",
        "state": "s",
    }


# --- oauth/access_token ---------------------------------------------------------------------------


def test_code_exchange_gives_a_short_lived_sandbox_token(graph_sandbox: GraphSandbox) -> None:
    body = graph_sandbox.exchange_code(graph_sandbox.login_code()).json()

    assert body["token_type"] == "bearer"
    assert 3590 <= body["expires_in"] <= 3600
    assert body["access_token"].startswith("sbx_u_")
    assert not body["access_token"].startswith("EAA")


def test_code_is_single_use(graph_sandbox: GraphSandbox) -> None:
    code = graph_sandbox.login_code()
    assert graph_sandbox.exchange_code(code).status_code == 200

    second = graph_sandbox.exchange_code(code)
    assert second.status_code == 400
    assert error_of(second) | {"fbtrace_id": "x"} == {
        "message": "This authorization code has been used.",
        "type": "OAuthException",
        "code": 100,
        "error_subcode": 36009,
        "is_transient": False,
        "fbtrace_id": "x",
    }


def test_code_exchange_checks_redirect_uri_client_and_secret(graph_sandbox: GraphSandbox) -> None:
    code = graph_sandbox.login_code()
    wrong_uri = graph_sandbox.exchange_code(code, redirect_uri="http://elsewhere/")
    assert error_of(wrong_uri)["error_subcode"] == 36008

    base = {
        "client_id": graph_sandbox.app_id,
        "client_secret": graph_sandbox.app_secret,
        "redirect_uri": REDIRECT_URI,
        "code": code,
    }
    wrong_client = graph_sandbox.get("/oauth/access_token", params={**base, "client_id": "1"})
    assert error_of(wrong_client)["code"] == 101
    wrong_secret = graph_sandbox.get(
        "/oauth/access_token", params={**base, "client_secret": "nope"}
    )
    assert error_of(wrong_secret)["message"] == "Error validating client secret."
    bogus = graph_sandbox.get("/oauth/access_token", params={**base, "code": "made-up"})
    assert error_of(bogus)["error_subcode"] == 36018

    # None of those used the code up.
    assert graph_sandbox.exchange_code(code).status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_fb_exchange_token_gives_a_long_lived_token(
    graph_sandbox: GraphSandbox, method: str
) -> None:
    response = graph_sandbox.exchange_token(graph_sandbox.login(), method=method)

    assert response.status_code == 200
    assert response.json()["expires_in"] > 59 * 24 * 3600


def test_expired_token_cannot_be_exchanged(graph_sandbox: GraphSandbox) -> None:
    expired = graph_sandbox.mint(type="user", user_id=ADA, expires_in=-10)

    error = error_of(graph_sandbox.exchange_token(expired))
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert error["message"].startswith("Error validating access token: Session has expired on ")


# --- debug_token ------------------------------------------------------------------------------------


def test_debug_token_describes_a_user_token(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login(ADA, decline=("ads_read",), pages=[ADA_PAGE])

    data = graph_sandbox.get(
        "/debug_token", graph_sandbox.app_token, params={"input_token": token}
    ).json()["data"]

    assert data["app_id"] == graph_sandbox.app_id
    assert data["type"] == "USER"
    assert data["application"] == "Pagepulse Sandbox"
    assert data["is_valid"] is True
    assert data["user_id"] == ADA
    assert "ads_read" not in data["scopes"]
    assert "page_events" in data["scopes"]
    assert {"scope": "page_events", "target_ids": [ADA_PAGE]} in data["granular_scopes"]
    assert {"scope": "email"} in data["granular_scopes"]
    assert data["data_access_expires_at"] == data["issued_at"] + 90 * 24 * 3600
    assert data["expires_at"] > data["issued_at"]
    assert "profile_id" not in data


def test_debug_token_describes_a_page_token(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.page_token(ADA, ADA_PAGE)

    data = graph_sandbox.get(
        "/debug_token", graph_sandbox.app_token, params={"input_token": token}
    ).json()["data"]

    assert (data["type"], data["profile_id"], data["expires_at"], data["user_id"]) == (
        "PAGE",
        ADA_PAGE,
        0,
        ADA,
    )


def test_debug_token_reports_revoked_and_garbage_tokens(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login()
    graph_sandbox.revoke(user_id=ADA)

    revoked = graph_sandbox.get(
        "/debug_token", graph_sandbox.app_token, params={"input_token": token}
    ).json()["data"]
    assert revoked["is_valid"] is False
    assert revoked["error"]["code"] == 190
    assert revoked["error"]["subcode"] == 460

    garbage = graph_sandbox.get(
        "/debug_token", graph_sandbox.app_token, params={"input_token": "EAAnope"}
    ).json()
    assert garbage == {
        "data": {
            "error": {
                "code": 190,
                "message": "Invalid OAuth access token - Cannot parse access token",
            },
            "is_valid": False,
            "scopes": [],
        }
    }


def test_debug_token_needs_the_app_token(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login()
    response = graph_sandbox.get("/debug_token", token, params={"input_token": token})
    assert response.status_code == 400
    assert error_of(response)["code"] == 100

    wrong_secret = graph_sandbox.get(
        "/debug_token", f"{graph_sandbox.app_id}|wrong", params={"input_token": token}
    )
    assert error_of(wrong_secret)["message"] == "Invalid OAuth access token signature."


# --- /me and /me/accounts ---------------------------------------------------------------------------


def test_me_returns_requested_fields(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login()

    assert graph_sandbox.get("/me", token, params={"fields": "id,name,email"}).json() == {
        "id": ADA,
        "name": "Ada Sandbox",
        "email": "ada@sandbox.example",
    }
    unknown = graph_sandbox.get("/me", token, params={"fields": "id,shoe_size"})
    assert (
        error_of(unknown)["message"]
        == "(#100) Tried accessing nonexisting field (shoe_size) on node type (User)"
    )


def test_me_leaves_email_out_without_the_email_permission(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login(decline=("email",))
    assert graph_sandbox.get("/me", token, params={"fields": "id,name,email"}).json() == {
        "id": ADA,
        "name": "Ada Sandbox",
    }


def test_accounts_lists_pages_with_tasks_and_page_tokens(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login()

    body = graph_sandbox.get(
        "/me/accounts", token, params={"fields": "id,name,access_token,tasks"}
    ).json()

    assert [page["id"] for page in body["data"]] == [
        ADA_PAGE,
        "300000000000002",
        "300000000000003",
        ADA_PAGE_NO_ANALYZE,
    ]
    assert body["data"][3]["tasks"] == ["CREATE_CONTENT", "MANAGE", "MESSAGING", "MODERATE"]
    assert all(page["access_token"].startswith("sbx_p_") for page in body["data"])
    assert "next" not in body["paging"]


def test_accounts_pages_through_sixty_pages(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login(BOB)
    first = graph_sandbox.get("/me/accounts", token, params={"fields": "id,name"}).json()
    assert len(first["data"]) == 25
    assert "previous" not in first["paging"]

    seen = [page["id"] for page in first["data"]]
    next_url = first["paging"]["next"]
    assert next_url.startswith(graph_sandbox.url + "/v25.0/me/accounts?")
    pages = 1
    while next_url and pages < 10:
        body = graph_sandbox.http.get(next_url, timeout=10).json()
        seen += [page["id"] for page in body["data"]]
        next_url = body["paging"].get("next")
        pages += 1

    assert pages == 3
    assert len(seen) == len(set(seen)) == 60
    assert seen[0] == "301000000000001"
    assert seen[-1] == "301000000000060"

    last_before = body["paging"]["cursors"]["before"]
    back = graph_sandbox.get(
        "/me/accounts", token, params={"fields": "id", "limit": 5, "before": last_before}
    ).json()
    assert [p["id"] for p in back["data"]] == seen[45:50]


def test_accounts_needs_pages_show_list_and_a_user_token(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login(decline=("pages_show_list",))
    assert error_of(graph_sandbox.get("/me/accounts", token))["message"] == (
        "(#200) Requires pages_show_list permission to manage the object"
    )
    page_token = graph_sandbox.page_token()
    assert error_of(graph_sandbox.get("/me/accounts", page_token))["message"] == (
        "(#100) Tried accessing nonexisting field (accounts) on node type (Page)"
    )


def test_page_tokens_only_for_granted_pages(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login(ADA, pages=[ADA_PAGE])
    ids = [p["id"] for p in graph_sandbox.get("/me/accounts", token).json()["data"]]
    assert ids == [ADA_PAGE]

    other = graph_sandbox.get(
        "/300000000000002", token, params={"fields": "id,access_token"}
    ).json()
    assert other == {"id": "300000000000002"}


def test_deleting_permissions_removes_the_app(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.login()
    assert graph_sandbox.graph("DELETE", "/me/permissions", token).json() == {"success": True}

    error = error_of(graph_sandbox.get("/me", token))
    assert (error["code"], error["error_subcode"]) == (190, 458)
