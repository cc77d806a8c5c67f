"""Contract tests: the real GraphClient against the real Graph sandbox (tests/sandbox_fixtures.py).

The sandbox checks requests as strictly as the reference says Facebook does, including
``appsecret_proof`` on every token-bearing call, so each successful call here also proves the
client signs it. Every fault switch of the sandbox is turned on once and must come back as the
right error class.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from graph_api.client import DEFAULT_WEBHOOK_FIELDS, GraphClient
from graph_api.errors import (
    GraphError,
    GraphTimeout,
    InvalidRequestError,
    PermissionMissingError,
    RateLimitedError,
    TokenInvalidError,
    TransientError,
)
from graph_api.redaction import RedactingFilter
from tests.graph_api.contract import PSID, capi_event, connect
from tests.sandbox_fixtures import (
    ADA,
    ADA_PAGE,
    ADA_PAGE_2,
    ADA_PAGE_NO_ANALYZE,
    BOB,
    CAMPAIGN,
    CLEO,
    CLEO_PAGE,
    REDIRECT_URI,
    GraphSandbox,
)

OTHER_PSID = "6100000000000043"
PURCHASE = {"_eventName": "fb_mobile_purchase", "_valueToSum": 57.23, "fb_currency": "USD"}
LEAD = {"_eventName": "lead_submitted"}


@pytest.fixture
def ada(sandbox_graph: GraphClient, graph_sandbox: GraphSandbox) -> tuple[str, dict[str, str]]:
    """Ada's long-lived user token and her Page tokens by Page id."""
    user_token, pages = connect(sandbox_graph, graph_sandbox)
    return user_token, {page_id: page.access_token for page_id, page in pages.items()}


# --- Login and tokens -----------------------------------------------------------------------


def test_login_exchanges_and_debug_token(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    code = graph_sandbox.login_code(user_id=ADA)

    short = sandbox_graph.exchange_code(code=code, redirect_uri=REDIRECT_URI)
    long_lived = sandbox_graph.exchange_long_lived(user_token=short.access_token)
    info = sandbox_graph.debug_token(input_token=long_lived.access_token)

    assert short.token_type == "bearer"
    assert short.expires_in == 3600
    assert long_lived.expires_in == 60 * 24 * 3600
    assert info.is_valid is True
    assert info.type == "USER"
    assert info.app_id == graph_sandbox.app_id
    assert info.user_id == ADA
    assert info.expires_at is not None
    assert info.issued_at is not None
    assert info.data_access_expires_at is not None
    assert {"page_events", "pages_show_list", "pages_messaging"} <= set(info.scopes)
    assert ADA_PAGE in (info.target_ids("page_events") or ())
    assert info.usage.app is not None


def test_a_code_is_single_use(sandbox_graph: GraphClient, graph_sandbox: GraphSandbox) -> None:
    code = graph_sandbox.login_code(user_id=ADA)
    sandbox_graph.exchange_code(code=code, redirect_uri=REDIRECT_URI)

    with pytest.raises(InvalidRequestError) as caught:
        sandbox_graph.exchange_code(code=code, redirect_uri=REDIRECT_URI)

    assert (caught.value.code, caught.value.error_subcode) == (100, 36009)


def test_debug_token_of_a_page_token(
    sandbox_graph: GraphClient, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada

    info = sandbox_graph.debug_token(input_token=page_tokens[ADA_PAGE])

    assert info.type == "PAGE"
    assert info.profile_id == ADA_PAGE
    assert info.expires_at is None  # from a long-lived user token: never expires
    assert info.target_ids("page_events") == (ADA_PAGE,)


def test_me(sandbox_graph: GraphClient, ada: tuple[str, dict[str, str]]) -> None:
    user_token, _ = ada

    user = sandbox_graph.me(user_token=user_token)

    assert (user.id, user.name, user.email) == (ADA, "Ada Sandbox", "ada@sandbox.example")


def test_my_accounts_lists_pages_with_tasks(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    _, pages = connect(sandbox_graph, graph_sandbox)

    assert sorted(pages) == [ADA_PAGE, ADA_PAGE_2, "300000000000003", ADA_PAGE_NO_ANALYZE]
    assert "ANALYZE" in pages[ADA_PAGE].tasks
    assert "ANALYZE" not in pages[ADA_PAGE_NO_ANALYZE].tasks
    assert all(page.access_token for page in pages.values())


def test_my_accounts_follows_every_page_of_results(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    _, pages = connect(sandbox_graph, graph_sandbox, user_id=BOB)

    listed = graph_sandbox.requests(path="/me/accounts")
    assert len(pages) == 60
    assert len(listed) == 3
    assert all(request["status"] == 200 for request in listed)


def test_the_sandbox_refuses_a_wrong_appsecret_proof(
    graph_sandbox: GraphSandbox, ada: tuple[str, dict[str, str]]
) -> None:
    user_token, _ = ada
    wrong = GraphClient(
        base_url=graph_sandbox.url,
        app_id=graph_sandbox.app_id,
        app_secret="not-the-app-secret",
        version="v25.0",
        page_activities_version="v20.0",
    )

    with pytest.raises(InvalidRequestError, match="appsecret_proof"):
        wrong.me(user_token=user_token)


def test_from_settings_talks_to_the_configured_graph(
    graph_sandbox: GraphSandbox, ada: tuple[str, dict[str, str]], settings: Settings
) -> None:
    settings.GRAPH_API_URL = graph_sandbox.url
    settings.FACEBOOK_APP_ID = graph_sandbox.app_id
    settings.FACEBOOK_APP_SECRET = graph_sandbox.app_secret
    user_token, _ = ada

    assert GraphClient.from_settings().me(user_token=user_token).id == ADA


# --- Pages ----------------------------------------------------------------------------------


def test_subscribe_and_unsubscribe_app(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada

    subscribed = sandbox_graph.subscribe_app(page_id=ADA_PAGE, page_token=page_tokens[ADA_PAGE])
    unsubscribed = sandbox_graph.unsubscribe_app(page_id=ADA_PAGE, page_token=page_tokens[ADA_PAGE])

    assert subscribed.success is True
    assert unsubscribed.success is True
    [post, delete] = graph_sandbox.requests(path="subscribed_apps")
    assert post["query"]["subscribed_fields"] == ",".join(DEFAULT_WEBHOOK_FIELDS)
    assert delete["method"] == "DELETE"
    # A Page-token call is counted against the Page's Business Use Case limits.
    assert [entry.business_id for entry in subscribed.usage.business_use_case] == [ADA_PAGE]


def test_get_or_create_dataset_is_stable(
    sandbox_graph: GraphClient, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada

    first = sandbox_graph.get_or_create_dataset(page_id=ADA_PAGE, token=page_tokens[ADA_PAGE])
    second = sandbox_graph.get_or_create_dataset(page_id=ADA_PAGE, token=page_tokens[ADA_PAGE])

    assert first == second
    assert first.isdigit()


# --- page_activities ------------------------------------------------------------------------


@pytest.mark.parametrize("event", [PURCHASE, LEAD], ids=["purchase", "lead"])
def test_log_page_activities(
    sandbox_graph: GraphClient,
    graph_sandbox: GraphSandbox,
    ada: tuple[str, dict[str, str]],
    event: dict[str, Any],
) -> None:
    _, page_tokens = ada

    result = sandbox_graph.log_page_activities(
        page_token=page_tokens[ADA_PAGE], page_id=ADA_PAGE, psid=PSID, custom_events=[event]
    )

    assert result.success is True
    [logged] = graph_sandbox.events(transport="page_activities")
    assert (logged["page_id"], logged["psid"], logged["event_name"]) == (
        ADA_PAGE,
        PSID,
        event["_eventName"],
    )
    assert logged["logging_target"].lower() == "page"
    assert logged["api_version"] == "v20.0"


def test_page_activities_is_gone_after_v20(
    sandbox_graph: GraphClient, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada

    with pytest.raises(InvalidRequestError) as caught:
        sandbox_graph.log_page_activities(
            page_token=page_tokens[ADA_PAGE],
            page_id=ADA_PAGE,
            psid=PSID,
            custom_events=[LEAD],
            version="v25.0",
        )

    assert caught.value.code == 2500


def test_page_activities_needs_page_events(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox
) -> None:
    _, pages = connect(sandbox_graph, graph_sandbox, user_id=CLEO)

    with pytest.raises(PermissionMissingError) as caught:
        sandbox_graph.log_page_activities(
            page_token=pages[CLEO_PAGE].access_token,
            page_id=CLEO_PAGE,
            psid=PSID,
            custom_events=[LEAD],
        )

    assert caught.value.code == 200


def test_page_activities_needs_the_analyze_task(
    sandbox_graph: GraphClient, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada

    with pytest.raises(PermissionMissingError) as caught:
        sandbox_graph.log_page_activities(
            page_token=page_tokens[ADA_PAGE_NO_ANALYZE],
            page_id=ADA_PAGE_NO_ANALYZE,
            psid=PSID,
            custom_events=[LEAD],
        )

    assert caught.value.code == 10


def test_a_batch_of_page_activities_with_a_token_per_page(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada
    operations = [
        sandbox_graph.page_activities_operation(
            page_token=page_tokens[ADA_PAGE], page_id=ADA_PAGE, psid=PSID, custom_events=[LEAD]
        ),
        sandbox_graph.page_activities_operation(
            page_token=page_tokens[ADA_PAGE_2],
            page_id=ADA_PAGE_2,
            psid=OTHER_PSID,
            custom_events=[PURCHASE],
        ),
        sandbox_graph.page_activities_operation(
            page_token=page_tokens[ADA_PAGE],
            page_id=ADA_PAGE,
            psid=PSID,
            custom_events=[{"_eventName": "not a valid name!"}],
        ),
    ]

    results = sandbox_graph.batch(operations=operations)

    assert [result.status for result in results] == [200, 200, 400]
    assert [result.body for result in results[:2]] == [{"success": True}, {"success": True}]
    assert isinstance(results[2].error, InvalidRequestError)
    assert results[2].error.code == 100
    logged = graph_sandbox.events(transport="page_activities")
    assert sorted((e["page_id"], e["psid"], e["event_name"]) for e in logged) == [
        (ADA_PAGE, PSID, "lead_submitted"),
        (ADA_PAGE_2, OTHER_PSID, "fb_mobile_purchase"),
    ]


def test_a_timed_out_batch_operation_is_a_transient_result(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada
    operations = [
        sandbox_graph.page_activities_operation(
            page_token=page_tokens[page_id], page_id=page_id, psid=PSID, custom_events=[LEAD]
        )
        for page_id in (ADA_PAGE, ADA_PAGE_2)
    ]
    graph_sandbox.faults(kind="timeout", count=1, page_id=ADA_PAGE_2, path="page_activities")

    ok, timed_out = sandbox_graph.batch(operations=operations)

    assert ok.ok
    assert timed_out.status is None
    assert isinstance(timed_out.error, TransientError)


# --- Conversions API, Send API, insights ----------------------------------------------------


def test_send_capi_events(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada
    token = page_tokens[ADA_PAGE]
    dataset_id = sandbox_graph.get_or_create_dataset(page_id=ADA_PAGE, token=token)
    events = [
        capi_event(custom_data={"currency": "USD", "value": 123}, event_id="evt-1"),
        capi_event("LeadSubmitted", event_id="evt-2"),
    ]

    result = sandbox_graph.send_capi_events(
        dataset_id=dataset_id, token=token, events=events, partner_agent="pagepulse"
    )

    assert result.events_received == 2
    assert result.messages == ()
    assert result.fbtrace_id
    logged = graph_sandbox.events(transport="conversions_api")
    assert sorted((e["event_name"], e["event_id"]) for e in logged) == [
        ("LeadSubmitted", "evt-2"),
        ("Purchase", "evt-1"),
    ]


def test_one_invalid_capi_event_rejects_the_call(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada
    token = page_tokens[ADA_PAGE]
    dataset_id = sandbox_graph.get_or_create_dataset(page_id=ADA_PAGE, token=token)
    stale = capi_event(event_time=int(time.time()) - 8 * 24 * 3600)

    with pytest.raises(InvalidRequestError) as caught:
        sandbox_graph.send_capi_events(
            dataset_id=dataset_id, token=token, events=[capi_event(), stale]
        )

    assert caught.value.code == 100
    assert caught.value.error_user_msg
    assert graph_sandbox.events(transport="conversions_api") == []


def test_send_message_inside_the_window(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada
    graph_sandbox.inbound(ADA_PAGE, PSID)

    result = sandbox_graph.send_message(
        page_token=page_tokens[ADA_PAGE], psid=PSID, message={"text": "hello, world"}
    )

    assert result.recipient_id == PSID
    assert result.message_id


@pytest.mark.parametrize(
    ("seconds_ago", "code", "subcode"),
    [(None, 100, 2018001), (25 * 3600, 10, 2018278)],
    ids=["never-wrote", "outside-window"],
)
def test_send_message_refusals_are_not_retried(
    sandbox_graph: GraphClient,
    graph_sandbox: GraphSandbox,
    ada: tuple[str, dict[str, str]],
    seconds_ago: int | None,
    code: int,
    subcode: int,
) -> None:
    _, page_tokens = ada
    if seconds_ago is not None:
        graph_sandbox.inbound(ADA_PAGE, PSID, seconds_ago=seconds_ago)

    with pytest.raises(InvalidRequestError) as caught:
        sandbox_graph.send_message(
            page_token=page_tokens[ADA_PAGE], psid=PSID, message={"text": "hi"}
        )

    assert (caught.value.code, caught.value.error_subcode) == (code, subcode)


def test_insights_read_back_the_leads(
    sandbox_graph: GraphClient, ada: tuple[str, dict[str, str]]
) -> None:
    user_token, page_tokens = ada
    token = page_tokens[ADA_PAGE]
    sandbox_graph.log_page_activities(
        page_token=token, page_id=ADA_PAGE, psid=PSID, custom_events=[LEAD]
    )
    dataset_id = sandbox_graph.get_or_create_dataset(page_id=ADA_PAGE, token=token)
    sandbox_graph.send_capi_events(
        dataset_id=dataset_id, token=token, events=[capi_event("LeadSubmitted")]
    )

    rows = sandbox_graph.insights(object_id=CAMPAIGN, token=user_token, date_preset="last_7d")

    leads = [
        a.value
        for row in rows
        for a in row.actions
        if a.action_type == "onsite_conversion.lead_grouped"
    ]
    assert leads == [2]


# --- Revoked tokens -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "subcode"),
    [("token", 467), ("user", 460), ("page", 492)],
)
def test_revoked_tokens_are_token_invalid(
    sandbox_graph: GraphClient,
    graph_sandbox: GraphSandbox,
    ada: tuple[str, dict[str, str]],
    target: str,
    subcode: int,
) -> None:
    _, page_tokens = ada
    token = page_tokens[ADA_PAGE]
    graph_sandbox.revoke(
        **{"token": {"token": token}, "user": {"user_id": ADA}, "page": {"page_id": ADA_PAGE}}[
            target
        ]
    )

    with pytest.raises(TokenInvalidError) as caught:
        sandbox_graph.subscribe_app(page_id=ADA_PAGE, page_token=token)
    info = sandbox_graph.debug_token(input_token=token)

    assert (caught.value.code, caught.value.error_subcode) == (190, subcode)
    assert info.is_valid is False
    assert info.error is not None
    assert (info.error.code, info.error.subcode) == (190, subcode)


# --- Every fault switch ---------------------------------------------------------------------

FAULTS: list[tuple[dict[str, Any], type[GraphError], int]] = [
    ({"kind": "500"}, TransientError, 1),
    ({"kind": "1"}, TransientError, 1),
    ({"kind": "2"}, TransientError, 2),
    ({"kind": "4"}, RateLimitedError, 4),
    ({"kind": "17"}, RateLimitedError, 17),
    ({"kind": "32"}, RateLimitedError, 32),
    ({"kind": "613"}, RateLimitedError, 613),
    ({"kind": "80001"}, RateLimitedError, 80001),
    ({"kind": "80006"}, RateLimitedError, 80006),
    ({"kind": "80000"}, RateLimitedError, 80000),
    ({"kind": "429"}, RateLimitedError, 4),
    ({"kind": "190"}, TokenInvalidError, 190),
    ({"kind": "190", "subcode": 460}, TokenInvalidError, 190),
    ({"kind": "10"}, PermissionMissingError, 10),
    ({"kind": "200"}, PermissionMissingError, 200),
    ({"kind": "368"}, TransientError, 368),
    ({"kind": "551"}, InvalidRequestError, 551),
    ({"kind": "timeout", "seconds": 0.2}, TransientError, 2),  # the sandbox answers after hanging
    ({"kind": "custom", "code": 613, "subcode": 1996, "message": "Volume"}, RateLimitedError, 613),
    ({"kind": "custom", "code": 100, "message": "Invalid parameter"}, InvalidRequestError, 100),
    ({"kind": "custom", "code": 1, "message": "Flaky", "is_transient": True}, TransientError, 1),
]


@pytest.mark.parametrize(
    ("fault", "expected", "code"),
    FAULTS,
    ids=["-".join(str(v) for v in fault.values()) for fault, _, _ in FAULTS],
)
def test_every_fault_switch_is_classified(
    sandbox_graph: GraphClient,
    graph_sandbox: GraphSandbox,
    ada: tuple[str, dict[str, str]],
    fault: dict[str, Any],
    expected: type[Any],
    code: int,
) -> None:
    _, page_tokens = ada
    graph_sandbox.faults(count=1, path="subscribed_apps", regain_minutes=2, **fault)

    with pytest.raises(expected) as caught:
        sandbox_graph.subscribe_app(page_id=ADA_PAGE, page_token=page_tokens[ADA_PAGE])

    assert type(caught.value) is expected
    assert caught.value.code == code
    assert caught.value.fbtrace_id
    if expected is RateLimitedError and fault["kind"] != "custom":
        # The throttled Page's estimate, in minutes on the wire, in seconds here.
        assert caught.value.retry_after == 120
        assert caught.value.usage.max_percent == 100
    # The fault fired once: the next call goes through.
    assert sandbox_graph.subscribe_app(page_id=ADA_PAGE, page_token=page_tokens[ADA_PAGE]).success


def test_a_timeout_longer_than_the_read_timeout_is_a_graph_timeout(
    graph_sandbox: GraphSandbox, ada: tuple[str, dict[str, str]]
) -> None:
    _, page_tokens = ada
    impatient = GraphClient(
        base_url=graph_sandbox.url,
        app_id=graph_sandbox.app_id,
        app_secret=graph_sandbox.app_secret,
        version="v25.0",
        page_activities_version="v20.0",
        timeout=(3.05, 0.3),
    )
    graph_sandbox.faults(kind="timeout", seconds=1, count=1, path="subscribed_apps")

    with pytest.raises(GraphTimeout):
        impatient.subscribe_app(page_id=ADA_PAGE, page_token=page_tokens[ADA_PAGE])


def test_latency_slows_but_does_not_fail(
    sandbox_graph: GraphClient,
    graph_sandbox: GraphSandbox,
    ada: tuple[str, dict[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, page_tokens = ada
    caplog.set_level(logging.INFO, logger="graph_api")
    graph_sandbox.faults(kind="latency", latency_ms=150, count=1, path="subscribed_apps")

    assert sandbox_graph.subscribe_app(page_id=ADA_PAGE, page_token=page_tokens[ADA_PAGE]).success
    [record] = [r for r in caplog.records if getattr(r, "path", "").endswith("subscribed_apps")]
    assert vars(record)["duration_ms"] >= 150


# --- No secret in logs or errors ------------------------------------------------------------


def test_no_secret_reaches_a_log_line_or_an_error(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's request lines included
    code = graph_sandbox.login_code(user_id=ADA)
    short = sandbox_graph.exchange_code(code=code, redirect_uri=REDIRECT_URI)
    user_token = sandbox_graph.exchange_long_lived(user_token=short.access_token).access_token
    pages = sandbox_graph.my_accounts(user_token=user_token)
    page_token = next(page.access_token for page in pages if page.id == ADA_PAGE)
    sandbox_graph.debug_token(input_token=page_token)
    sandbox_graph.log_page_activities(
        page_token=page_token, page_id=ADA_PAGE, psid=PSID, custom_events=[LEAD]
    )
    sandbox_graph.batch(
        operations=[
            sandbox_graph.page_activities_operation(
                page_token=page_token, page_id=ADA_PAGE, psid=PSID, custom_events=[LEAD]
            )
        ]
    )
    errors: list[GraphError] = []

    def failing(call: Callable[[], object]) -> None:
        with pytest.raises(GraphError) as caught:  # any Graph error: each is inspected below
            call()
        errors.append(caught.value)

    graph_sandbox.faults(kind="80001", count=1)
    failing(lambda: sandbox_graph.subscribe_app(page_id=ADA_PAGE, page_token=page_token))
    graph_sandbox.faults(kind="timeout", seconds=0.2, count=1)
    failing(lambda: sandbox_graph.subscribe_app(page_id=ADA_PAGE, page_token=page_token))
    graph_sandbox.revoke(token=page_token)
    failing(lambda: sandbox_graph.subscribe_app(page_id=ADA_PAGE, page_token=page_token))
    failing(lambda: sandbox_graph.exchange_code(code=code, redirect_uri=REDIRECT_URI))  # used up
    failing(lambda: sandbox_graph.me(user_token=f"{user_token}-tampered"))

    secrets = [
        graph_sandbox.app_secret,
        graph_sandbox.app_token,
        code,
        short.access_token,
        user_token,
        page_token,
        *(page.access_token for page in pages),
        sandbox_graph.appsecret_proof(user_token),
        sandbox_graph.appsecret_proof(page_token),
        sandbox_graph.appsecret_proof(graph_sandbox.app_token),
    ]
    assert [type(e).__name__ for e in errors] == [
        "RateLimitedError",
        "TransientError",
        "TokenInvalidError",
        "InvalidRequestError",
        "TokenInvalidError",
    ]
    redacting = RedactingFilter()
    texts = [text for e in errors for text in (str(e), repr(e), e.message, e.error_user_msg or "")]
    for record in caplog.records:
        if record.name == "graph_api":
            # Our own lines must be clean before any filter runs.
            texts.append(record.getMessage())
            texts.extend(repr(value) for value in record.__dict__.values())
        else:
            # Other libraries' lines (urllib3 logs request URLs) are cleaned by the project's
            # handler filter; what it lets through must be clean.
            redacting.filter(record)
            texts.append(record.getMessage())
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    for secret in secrets:
        assert [text for text in texts if secret in text] == []
