"""The sandbox's Graph plumbing: appsecret_proof, batch, Send API, subscribed_apps, usage
headers, faults, revocation and the control API."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.sandbox_fixtures import (
    ADA,
    ADA_PAGE,
    ADA_PAGE_2,
    GraphSandbox,
    SandboxProcess,
    error_of,
)

PSID = "6100000000000042"
ACTIVITIES = {
    "custom_events": [{"_eventName": "lead_submitted"}],
    "advertiser_tracking_enabled": 1,
    "application_tracking_enabled": 1,
    "page_id": ADA_PAGE,
    "page_scoped_user_id": PSID,
    "logging_source": "messenger_bot",
    "logging_target": "page",
}


def activities(sandbox: GraphSandbox, token: str, **kwargs: Any) -> requests.Response:
    return sandbox.post(f"/{sandbox.app_id}/page_activities", token, version="v20.0", **kwargs)


# --- Tokens and appsecret_proof ---------------------------------------------------------------------


def test_missing_and_wrong_appsecret_proof(graph_sandbox: GraphSandbox, page_token: str) -> None:
    missing = graph_sandbox.get("/me", page_token, proof=False)
    assert missing.status_code == 400
    assert error_of(missing) | {"fbtrace_id": "x"} == {
        "message": "API calls from the server require an appsecret_proof argument",
        "type": "GraphMethodException",
        "code": 100,
        "is_transient": False,
        "fbtrace_id": "x",
    }
    wrong = graph_sandbox.get("/me", page_token, proof=False, params={"appsecret_proof": "0" * 64})
    assert error_of(wrong)["message"] == "Invalid appsecret_proof provided in the API argument"
    assert error_of(wrong)["type"] == "GraphMethodException"


def test_token_can_come_in_the_authorization_header(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    response = graph_sandbox.http.get(
        f"{graph_sandbox.url}/v25.0/me",
        params={"appsecret_proof": graph_sandbox.proof(page_token)},
        headers={"Authorization": f"Bearer {page_token}"},
    )
    assert response.json() == {"id": ADA_PAGE, "name": "Ada's Bakery"}


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "An access token is required to request this resource."),
        ("EAAB" + "x" * 40, "Invalid OAuth access token - Cannot parse access token"),
    ],
)
def test_missing_or_foreign_tokens(
    graph_sandbox: GraphSandbox, token: str | None, message: str
) -> None:
    error = error_of(graph_sandbox.get("/me", token))
    assert error["message"] == message


def test_tampered_token_is_refused(graph_sandbox: GraphSandbox, page_token: str) -> None:
    head, _, signature = page_token.rpartition(".")
    tampered = head.replace("sbx_p_", "sbx_u_") + "." + signature
    assert error_of(graph_sandbox.get("/me", tampered))["code"] == 190


def test_short_lived_user_token_expires(graph_sandbox: GraphSandbox) -> None:
    token = graph_sandbox.mint(type="user", user_id=ADA, expires_in=-1)
    error = error_of(graph_sandbox.get("/me", token))
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 463, "OAuthException")


# --- Revocation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "subcode"),
    [
        ({"user_id": ADA}, 460),
        ({"page_id": ADA_PAGE}, 492),
        ({"user_id": ADA, "page_id": ADA_PAGE}, 492),
        ({"user_id": ADA, "subcode": 459}, 459),
    ],
)
def test_revocation_invalidates_tokens_until_a_new_login(
    graph_sandbox: GraphSandbox, page_token: str, target: dict[str, Any], subcode: int
) -> None:
    graph_sandbox.revoke(**target)

    error = error_of(activities(graph_sandbox, page_token, json=ACTIVITIES))
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (190, subcode, False)
    other_page = graph_sandbox.page_token(ADA, ADA_PAGE_2)
    assert graph_sandbox.get("/me", other_page).status_code == 200


def test_revoking_one_token_leaves_others(graph_sandbox: GraphSandbox, page_token: str) -> None:
    second = graph_sandbox.page_token(ADA, ADA_PAGE)
    assert graph_sandbox.revoke(token=page_token) == "token"

    assert error_of(graph_sandbox.get("/me", page_token))["error_subcode"] == 467
    assert graph_sandbox.get("/me", second).status_code == 200


def test_reauthorizing_after_page_revocation_works(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    graph_sandbox.revoke(page_id=ADA_PAGE)
    fresh = graph_sandbox.page_token(ADA, ADA_PAGE)
    assert activities(graph_sandbox, fresh, json=ACTIVITIES).json() == {"success": True}


def test_losing_the_role_removes_the_page_from_accounts(graph_sandbox: GraphSandbox) -> None:
    graph_sandbox.revoke(user_id=ADA, page_id=ADA_PAGE)
    token = graph_sandbox.login(ADA)
    ids = [p["id"] for p in graph_sandbox.get("/me/accounts", token).json()["data"]]
    assert ADA_PAGE not in ids


# --- Batch ---------------------------------------------------------------------------------------------


def batch(
    sandbox: GraphSandbox, ops: Any, token: str | None, version: str = "v20.0", **extra: str
) -> requests.Response:
    data = {"batch": ops if isinstance(ops, str) else json.dumps(ops), **extra}
    if token is not None:
        data |= {"access_token": token, "appsecret_proof": sandbox.proof(token)}
    return sandbox.http.post(f"{sandbox.url}/{version}/", data=data, timeout=10)


def activity_op(psid: str = PSID, page_id: str = ADA_PAGE, **body: str) -> dict[str, Any]:
    fields = {**ACTIVITIES, "page_id": page_id, "page_scoped_user_id": psid, **body}
    fields["custom_events"] = json.dumps(fields["custom_events"])
    return {
        "method": "POST",
        "relative_url": "100000000000001/page_activities",
        "body": urlencode(fields),
    }


def test_batch_runs_each_op_and_answers_in_order(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    ops = [
        activity_op("1"),
        activity_op("not-a-psid"),
        {"method": "GET", "relative_url": "me?fields=id,name"},
    ]
    before = graph_sandbox.requests()[-1]["id"]

    response = batch(graph_sandbox, ops, page_token)

    assert response.status_code == 200
    first, second, third = response.json()
    assert first["code"] == 200
    assert json.loads(first["body"]) == {"success": True}
    assert {"name": "Content-Type", "value": "application/json; charset=UTF-8"} in first["headers"]
    assert second["code"] == 400
    assert (
        json.loads(second["body"])["error"]["message"]
        == "(#100) Param page_scoped_user_id must be a valid unsigned integer"
    )
    assert json.loads(third["body"]) == {"id": ADA_PAGE, "name": "Ada's Bakery"}
    assert [e["psid"] for e in graph_sandbox.events()] == ["1"]

    envelope, *logged_ops = graph_sandbox.requests(since=before)
    assert envelope["path"] == "/v20.0/"
    assert [op["batch_parent"] for op in logged_ops] == [envelope["id"]] * 3
    assert "sbx_" not in json.dumps(graph_sandbox.requests(since=before))


def test_batch_op_with_its_own_token_and_proof(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    other = graph_sandbox.page_token(ADA, ADA_PAGE_2)
    own = activity_op(
        "7", ADA_PAGE_2, access_token=other, appsecret_proof=graph_sandbox.proof(other)
    )
    own_without_proof = activity_op("8", ADA_PAGE_2, access_token=other)

    results = batch(graph_sandbox, [own, own_without_proof], page_token).json()

    assert [r["code"] for r in results] == [200, 400]
    assert (
        json.loads(results[1]["body"])["error"]["message"]
        == "Invalid appsecret_proof provided in the API argument"
    )


def test_batch_limits_and_top_level_token(graph_sandbox: GraphSandbox, page_token: str) -> None:
    too_many = batch(graph_sandbox, [activity_op()] * 51, page_token)
    assert too_many.status_code == 400
    assert (
        error_of(too_many)["message"]
        == "(#100) Too many requests in batch message. Maximum batch size is 50"
    )

    assert [r["code"] for r in batch(graph_sandbox, [activity_op()] * 50, page_token).json()] == [
        200
    ] * 50

    no_token = batch(graph_sandbox, [activity_op()], None)
    assert (error_of(no_token)["code"], error_of(no_token)["message"]) == (
        104,
        "An access token is required to request this resource.",
    )
    assert (
        error_of(batch(graph_sandbox, "not json", page_token))["message"]
        == "(#100) Param batch must be a valid JSON value"
    )
    assert (
        error_of(batch(graph_sandbox, [], page_token))["message"]
        == "(#100) Param batch must be a non-empty JSON array"
    )


def test_batch_rejects_malformed_ops_in_place(graph_sandbox: GraphSandbox, page_token: str) -> None:
    ops = [
        {"method": "GET", "relative_url": "me", "body": "a=b"},
        {"method": "PATCH", "relative_url": "me"},
        {"method": "GET"},
    ]
    messages = [
        json.loads(r["body"])["error"]["message"]
        for r in batch(graph_sandbox, ops, page_token).json()
    ]
    assert messages == [
        "(#100) batch[0][body] is only for POST and PUT and must be a raw form string",
        "(#100) batch[1][method] must be GET, POST, PUT or DELETE",
        "(#100) The parameter batch[2][relative_url] is required",
    ]


def test_batch_op_that_times_out_is_null(graph_sandbox: GraphSandbox, page_token: str) -> None:
    graph_sandbox.faults(kind="timeout", count=1, path="page_activities")
    results = batch(graph_sandbox, [activity_op("1"), activity_op("2")], page_token).json()

    assert results[0] is None
    assert results[1]["code"] == 200
    assert [e["psid"] for e in graph_sandbox.events()] == ["2"]


# --- Send API --------------------------------------------------------------------------------------------


def send(
    sandbox: GraphSandbox, token: str, path: str = "/me/messages", **overrides: Any
) -> requests.Response:
    body = {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "hello, world"},
    }
    body.update(overrides)
    return sandbox.post(path, token, json={k: v for k, v in body.items() if v is not None})


def test_send_within_the_window(graph_sandbox: GraphSandbox, page_token: str) -> None:
    graph_sandbox.inbound(ADA_PAGE, PSID, seconds_ago=23 * 3600)

    answer = send(graph_sandbox, page_token).json()
    assert answer["recipient_id"] == PSID
    assert answer["message_id"].startswith("m_")
    assert send(graph_sandbox, page_token, path=f"/{ADA_PAGE}/messages").status_code == 200
    typing = send(
        graph_sandbox, page_token, messaging_type=None, message=None, sender_action="typing_on"
    )
    assert typing.json() == {"recipient_id": PSID}


def test_send_outside_the_window_and_to_strangers(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    stranger = error_of(send(graph_sandbox, page_token))
    assert (stranger["code"], stranger["error_subcode"]) == (100, 2018001)

    graph_sandbox.inbound(ADA_PAGE, PSID, seconds_ago=25 * 3600)
    late = error_of(send(graph_sandbox, page_token))
    assert (late["code"], late["error_subcode"], late["message"]) == (
        10,
        2018278,
        "(#10) This message is sent outside of allowed window.",
    )

    human = send(graph_sandbox, page_token, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert human.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"messaging_type": "PROMO"},
            '(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG, UTILITY} - got "PROMO"',
        ),
        ({"messaging_type": None}, "(#100) The parameter messaging_type is required"),
        ({"recipient": None}, "(#100) The parameter recipient is required"),
        (
            {"message": {"text": "x" * 2000}},
            "(#100) Param message[text] must be UTF-8 and less than 2000 characters",
        ),
        (
            {
                "message": {
                    "text": "pick",
                    "quick_replies": [{"content_type": "text", "title": "t", "payload": "p"}] * 14,
                }
            },
            "(#100) Param message[quick_replies] must have at most 13 elements",
        ),
        (
            {
                "message": {
                    "text": "pick",
                    "quick_replies": [{"content_type": "text", "title": "x" * 21, "payload": "p"}],
                }
            },
            "(#100) Param message[quick_replies][0][title] has a 20 character limit",
        ),
        (
            {"messaging_type": "MESSAGE_TAG", "tag": "ACCOUNT_UPDATE"},
            "(#100) The message tag ACCOUNT_UPDATE is no longer supported (retired April 27, 2026)",
        ),
    ],
)
def test_send_validation(
    graph_sandbox: GraphSandbox, page_token: str, overrides: dict[str, Any], message: str
) -> None:
    graph_sandbox.inbound(ADA_PAGE, PSID)
    assert error_of(send(graph_sandbox, page_token, **overrides))["message"] == message


def test_send_accepts_thirteen_quick_replies_and_1999_chars(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    graph_sandbox.inbound(ADA_PAGE, PSID)
    replies = [{"content_type": "text", "title": "x" * 20, "payload": "p"}] * 13
    assert (
        send(
            graph_sandbox, page_token, message={"text": "y" * 1999, "quick_replies": replies}
        ).status_code
        == 200
    )


def test_send_needs_a_page_token_with_pages_messaging(graph_sandbox: GraphSandbox) -> None:
    assert error_of(send(graph_sandbox, graph_sandbox.login()))["code"] == 210
    token = graph_sandbox.mint(type="page", user_id=ADA, page_id=ADA_PAGE, scopes=["page_events"])
    assert (
        error_of(send(graph_sandbox, token))["message"]
        == "(#230) Requires pages_messaging permission to manage the object"
    )


# --- subscribed_apps ---------------------------------------------------------------------------------------


def test_subscribed_apps_round_trip(graph_sandbox: GraphSandbox, page_token: str) -> None:
    path = f"/{ADA_PAGE}/subscribed_apps"
    assert graph_sandbox.get(path, page_token).json() == {"data": []}

    fields = "messages,messaging_postbacks,messaging_referrals,message_echoes"
    assert graph_sandbox.post(path, page_token, params={"subscribed_fields": fields}).json() == {
        "success": True
    }
    assert graph_sandbox.get(path, page_token).json() == {
        "data": [
            {
                "id": graph_sandbox.app_id,
                "name": "Pagepulse Sandbox",
                "subscribed_fields": fields.split(","),
            }
        ]
    }
    assert graph_sandbox.graph("DELETE", path, page_token).json() == {"success": True}
    assert graph_sandbox.get(path, page_token).json() == {"data": []}


def test_subscribed_apps_validation(graph_sandbox: GraphSandbox, page_token: str) -> None:
    path = f"/{ADA_PAGE}/subscribed_apps"
    assert (
        error_of(graph_sandbox.post(path, page_token))["message"]
        == "(#100) The parameter subscribed_fields is required"
    )
    bad = graph_sandbox.post(path, page_token, params={"subscribed_fields": "messages,everything"})
    assert error_of(bad)["message"].startswith("(#100) Param subscribed_fields[1] must be one of {")
    assert (
        error_of(
            graph_sandbox.post(
                path, graph_sandbox.login(), params={"subscribed_fields": "messages"}
            )
        )["code"]
        == 210
    )
    other = graph_sandbox.page_token(ADA, ADA_PAGE_2)
    assert (
        error_of(graph_sandbox.post(path, other, params={"subscribed_fields": "messages"}))["code"]
        == 210
    )
    no_metadata = graph_sandbox.mint(
        type="page", user_id=ADA, page_id=ADA_PAGE, scopes=["pages_messaging"]
    )
    assert error_of(
        graph_sandbox.post(path, no_metadata, params={"subscribed_fields": "messages"})
    )["message"] == ("(#200) Requires pages_manage_metadata permission to manage the object")


# --- Paths and versions ---------------------------------------------------------------------------------------


def test_unknown_objects_and_edges(graph_sandbox: GraphSandbox, page_token: str) -> None:
    unknown = error_of(graph_sandbox.get("/123456", page_token))
    assert (unknown["code"], unknown["error_subcode"], unknown["type"]) == (
        100,
        33,
        "GraphMethodException",
    )
    edge = error_of(graph_sandbox.get(f"/{ADA_PAGE}/feed", page_token))
    assert (edge["code"], edge["message"]) == (2500, "Unknown path components: /feed")
    assert graph_sandbox.get("/me", page_token, version=None).status_code == 200
    assert graph_sandbox.get("/me", page_token, version="v2.12").status_code == 200


# --- Usage headers and faults -------------------------------------------------------------------------------


def test_usage_headers(graph_sandbox: GraphSandbox, page_token: str) -> None:
    response = graph_sandbox.get("/me", page_token)
    app_usage = json.loads(response.headers["X-App-Usage"])
    assert set(app_usage) == {"call_count", "total_cputime", "total_time"}
    assert 0 <= app_usage["call_count"] < 100
    buc = json.loads(response.headers["X-Business-Use-Case-Usage"])
    assert list(buc) == [ADA_PAGE]
    assert buc[ADA_PAGE][0]["type"] == "pages"
    assert buc[ADA_PAGE][0]["estimated_time_to_regain_access"] == 0

    user_call = graph_sandbox.get("/me", graph_sandbox.login())
    assert "X-Business-Use-Case-Usage" not in user_call.headers
    assert "X-App-Usage" in user_call.headers


@pytest.mark.parametrize(
    ("kind", "code", "status", "message"),
    [
        ("4", 4, 400, "(#4) Application request limit reached"),
        ("17", 17, 400, "(#17) User request limit reached"),
        ("32", 32, 400, "(#32) Page request limit reached"),
        ("613", 613, 400, "(#613) Calls to this api have exceeded the rate limit."),
        (
            "80001",
            80001,
            400,
            "(#80001) There have been too many calls to this Page account. Wait a bit and try again. "
            "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        ),
        ("429", 4, 429, "(#4) Application request limit reached"),
    ],
)
def test_throttling_faults(
    graph_sandbox: GraphSandbox, page_token: str, kind: str, code: int, status: int, message: str
) -> None:
    graph_sandbox.faults(kind=kind, count=1, page_id=ADA_PAGE, regain_minutes=7)

    response = activities(graph_sandbox, page_token, json=ACTIVITIES)

    assert response.status_code == status
    error = error_of(response)
    assert (error["code"], error["message"], error["is_transient"]) == (code, message, True)
    app_usage = json.loads(response.headers["X-App-Usage"])
    buc = json.loads(response.headers["X-Business-Use-Case-Usage"])[ADA_PAGE][0]
    if code in (4, 17):
        assert app_usage["call_count"] >= 100
    else:
        assert buc["call_count"] >= 100
    assert buc["estimated_time_to_regain_access"] == 7
    # count=1: the next call goes through.
    assert activities(graph_sandbox, page_token, json=ACTIVITIES).status_code == 200
    assert len(graph_sandbox.events()) == 1


@pytest.mark.parametrize(
    ("fault", "code", "subcode", "status"),
    [
        ({"kind": "500"}, 1, None, 500),
        ({"kind": "2"}, 2, None, 500),
        ({"kind": "190"}, 190, 463, 400),
        ({"kind": "190", "subcode": 460}, 190, 460, 400),
        ({"kind": "10"}, 10, None, 400),
        ({"kind": "200"}, 200, None, 400),
        (
            {"kind": "custom", "code": 368, "message": "(#368) Blocked", "status": 403},
            368,
            None,
            403,
        ),
    ],
)
def test_error_faults(
    graph_sandbox: GraphSandbox,
    page_token: str,
    fault: dict[str, Any],
    code: int,
    subcode: int | None,
    status: int,
) -> None:
    graph_sandbox.faults(count=2, **fault)

    responses = [activities(graph_sandbox, page_token, json=ACTIVITIES) for _ in range(3)]

    assert [r.status_code for r in responses] == [status, status, 200]
    error = error_of(responses[0])
    assert (error["code"], error.get("error_subcode")) == (code, subcode)
    assert error["is_transient"] is (status == 500)


def test_faults_scoped_to_a_page_and_path(graph_sandbox: GraphSandbox, page_token: str) -> None:
    other = graph_sandbox.page_token(ADA, ADA_PAGE_2)
    graph_sandbox.faults(kind="190", page_id=ADA_PAGE, path="page_activities")

    assert activities(graph_sandbox, page_token, json=ACTIVITIES).status_code == 400
    assert graph_sandbox.get("/me", page_token).status_code == 200
    assert (
        activities(graph_sandbox, other, json=ACTIVITIES | {"page_id": ADA_PAGE_2}).status_code
        == 200
    )

    [fault] = graph_sandbox.http.get(f"{graph_sandbox.url}/_sandbox/faults").json()["data"]
    assert (fault["kind"], fault["hits"]) == ("190", 1)
    graph_sandbox.clear_faults()
    assert activities(graph_sandbox, page_token, json=ACTIVITIES).status_code == 200


def test_timeout_fault_makes_the_client_time_out(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    graph_sandbox.faults(kind="timeout", seconds=5, count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        graph_sandbox.http.post(
            f"{graph_sandbox.url}/v20.0/{graph_sandbox.app_id}/page_activities",
            params={"access_token": page_token, "appsecret_proof": graph_sandbox.proof(page_token)},
            json=ACTIVITIES,
            timeout=0.3,
        )
    assert activities(graph_sandbox, page_token, json=ACTIVITIES).status_code == 200
    assert len(graph_sandbox.events()) == 1


def test_timeout_fault_with_process_takes_effect_after_the_delay(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    graph_sandbox.faults(kind="timeout", seconds=0.2, process=True, count=1)

    response = activities(graph_sandbox, page_token, json=ACTIVITIES)

    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.2
    assert len(graph_sandbox.events()) == 1


def test_latency_fault_and_rate(graph_sandbox: GraphSandbox, page_token: str) -> None:
    graph_sandbox.faults(kind="latency", latency_ms=50)
    assert graph_sandbox.get("/me", page_token).elapsed.total_seconds() >= 0.05
    graph_sandbox.clear_faults()

    graph_sandbox.faults(kind="500", rate=0.5)
    statuses = {graph_sandbox.get("/me", page_token).status_code for _ in range(60)}
    assert statuses == {200, 500}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "418"}, "kind must be one of"),
        ({"kind": "500", "rate": 0}, "rate must be in (0, 1]"),
        ({"kind": "500", "count": 0}, "count must be at least 1"),
        ({"kind": "latency"}, "a latency fault needs latency_ms > 0"),
        ({"kind": "500", "pages": "x"}, "unknown fault fields ['pages']"),
    ],
)
def test_bad_fault_specs_are_refused(
    graph_sandbox: GraphSandbox, spec: dict[str, Any], message: str
) -> None:
    response = graph_sandbox.http.post(f"{graph_sandbox.url}/_sandbox/faults", json=spec)
    assert response.status_code == 400
    assert message in response.json()["error"]


# --- Control API ----------------------------------------------------------------------------------------------


def test_request_log_redacts_secrets_and_filters(
    graph_sandbox: GraphSandbox, page_token: str
) -> None:
    activities(graph_sandbox, page_token, json=ACTIVITIES)
    graph_sandbox.get("/me", page_token)

    [entry] = graph_sandbox.requests(path="page_activities")
    assert entry["method"] == "POST"
    assert entry["path"] == f"/v20.0/{graph_sandbox.app_id}/page_activities"
    assert entry["query"] == {"access_token": "[redacted]", "appsecret_proof": "[redacted]"}
    assert entry["body"]["custom_events"] == [{"_eventName": "lead_submitted"}]
    assert entry["status"] == 200
    later = graph_sandbox.requests(since=entry["id"])
    assert [e["path"] for e in later] == ["/v25.0/me"]
    assert graph_sandbox.events()[0]["request_id"] == entry["id"]


def test_events_filters(graph_sandbox: GraphSandbox, page_token: str) -> None:
    activities(graph_sandbox, page_token, json=ACTIVITIES)
    activities(graph_sandbox, page_token, json=ACTIVITIES | {"page_scoped_user_id": "99"})

    assert [e["psid"] for e in graph_sandbox.events(psid="99")] == ["99"]
    assert [e["id"] for e in graph_sandbox.events(since=1)] == [2]
    assert graph_sandbox.events(transport="conversions_api") == []


def test_reset_forgets_everything(graph_sandbox: GraphSandbox, page_token: str) -> None:
    graph_sandbox.faults(kind="500")
    graph_sandbox.revoke(user_id=ADA)
    graph_sandbox.reset()

    assert graph_sandbox.requests() == []
    assert activities(graph_sandbox, page_token, json=ACTIVITIES).status_code == 200


def test_status_page(graph_sandbox: GraphSandbox) -> None:
    graph_sandbox.faults(kind="80001", page_id=ADA_PAGE)
    page = graph_sandbox.http.get(f"{graph_sandbox.url}/_sandbox/")
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Ada Sandbox" in page.text
    assert "Ada&#x27;s Bakery" in page.text
    assert "80001" in page.text


# --- Command-line flags ------------------------------------------------------------------------------------------


def test_command_line_faults_and_auto_login() -> None:
    process = SandboxProcess(
        "--error-rate",
        "1",
        "--error",
        "613",
        "--error-path",
        "page_activities",
        "--auto-login-user",
        ADA,
    )
    sandbox = GraphSandbox(process)
    try:
        code = sandbox.login_code(user_id=None, auto=False)
        token = sandbox.exchange_code(code).json()["access_token"]
        assert sandbox.get("/me", token, params={"fields": "id"}).json() == {"id": ADA}
        page_token = sandbox.get(f"/{ADA_PAGE}", token, params={"fields": "access_token"}).json()[
            "access_token"
        ]
        assert error_of(activities(sandbox, page_token, json=ACTIVITIES))["code"] == 613
    finally:
        sandbox.close()
        process.stop()
