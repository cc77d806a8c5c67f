"""GraphClient against `responses`: exact URLs, queries and bodies, parsing, errors, logging."""

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from pytest_django.fixtures import Settings
from requests import PreparedRequest
from requests.adapters import HTTPAdapter
from responses import matchers

from graph_api.client import (
    DEFAULT_TIMEOUT,
    DEFAULT_WEBHOOK_FIELDS,
    MAX_PAGES,
    POOL_MAXSIZE,
    GraphClient,
)
from graph_api.errors import (
    GraphConnectionError,
    GraphError,
    GraphTimeout,
    InvalidRequestError,
    PermissionMissingError,
    RateLimitedError,
    TokenInvalidError,
    TransientError,
    UnexpectedResponseError,
)
from graph_api.types import (
    AccessToken,
    BatchOperation,
    GranularScope,
    InsightsAction,
    PageActivitiesResult,
    SuccessResult,
    TokenDebugError,
    UserProfile,
)
from graph_api.usage import PlatformUsage
from tests.graph_stub import APP_ID, APP_SECRET, BASE, sent_form, sent_json, sent_query

APP_TOKEN = f"{APP_ID}|{APP_SECRET}"
USER_TOKEN = "test-user-token-aaaa"
PAGE_TOKEN = "test-page-token-bbbb"
PAGE_ID = "200000000000002"
PSID = "300000000000003"
V = "v25.0"
USAGE_HEADERS = {"X-App-Usage": '{"call_count": 42, "total_time": 7, "total_cputime": 3}'}


def proof(token: str) -> str:
    return hmac.new(APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()


def signed(token: str, **params: Any) -> dict[str, Any]:
    """The query a call carrying `token` must have: its params, the token and the proof."""
    return {**params, "access_token": token, "appsecret_proof": proof(token)}


def query_of(call: responses.Call) -> dict[str, str]:
    return sent_query(call.request)


def path_of(call: responses.Call) -> str:
    return urlsplit(call.request.url or "").path


def form_of(call: responses.Call) -> dict[str, str]:
    return sent_form(call.request)


def graph_error(
    code: int, subcode: int | None = None, message: str = "Failed", status: int = 400
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "Trace1",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"json": {"error": error}, "status": status}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


# --- Construction ---------------------------------------------------------------------------


def test_one_pooled_session_without_automatic_retries(graph_client: GraphClient) -> None:
    adapter = graph_client._session.get_adapter(BASE)

    assert isinstance(adapter, HTTPAdapter)
    assert adapter._pool_maxsize == POOL_MAXSIZE  # type: ignore[attr-defined]  # urllib3's pool size, not in the stubs
    assert adapter.max_retries.total == 0
    assert graph_client.timeout == DEFAULT_TIMEOUT
    assert graph_client.base_url == BASE


def _client() -> GraphClient:
    return GraphClient(
        base_url=BASE, app_id=APP_ID, app_secret=APP_SECRET, version=V, page_activities_version=V
    )


def test_the_environments_proxy_and_ca_bundle_are_read_once_when_the_client_is_built(
    monkeypatch: pytest.MonkeyPatch, mocked: responses.RequestsMock
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/company.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    graph = _client()
    mocked.get(f"{BASE}/{V}/me", json={"id": "1"})
    # requests would look at the environment again on every call (5 ms of CPU each): it must not.
    looked: list[str] = []
    real = requests.sessions.get_environ_proxies

    def environ_proxies(url: str, no_proxy: str | None = None) -> dict[str, str]:
        looked.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", environ_proxies)

    graph.me(user_token=USER_TOKEN)
    graph.me(user_token=USER_TOKEN)

    assert graph._session.proxies["https"] == "http://proxy.internal:3128"
    assert graph._session.verify == "/etc/ssl/certs/company.pem"
    assert graph._session.trust_env is False
    assert looked == []
    sent = vars(mocked.calls[0].request)["req_kwargs"]
    assert sent["proxies"]["https"] == "http://proxy.internal:3128"
    assert sent["verify"] == "/etc/ssl/certs/company.pem"


def test_a_graph_url_in_no_proxy_goes_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", urlsplit(BASE).hostname or "")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)

    graph = _client()

    assert graph._session.proxies == {}
    assert graph._session.verify is True


def test_a_trailing_slash_on_the_base_url_is_dropped() -> None:
    graph = GraphClient(
        base_url=BASE + "/",
        app_id=APP_ID,
        app_secret=APP_SECRET,
        version=V,
        page_activities_version="v20.0",
    )

    assert graph.base_url == BASE


def test_connect_and_read_timeouts_go_with_every_request(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/{V}/me", json={"id": "1"})

    graph_client.me(user_token=USER_TOKEN)

    assert vars(mocked.calls[0].request)["req_kwargs"]["timeout"] == (3.05, 10.0)


def test_a_session_can_be_supplied(mocked: responses.RequestsMock) -> None:
    session = requests.Session()
    graph = GraphClient(
        base_url=BASE,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        version=V,
        page_activities_version="v20.0",
        timeout=(1.0, 2.0),
        session=session,
    )
    mocked.get(f"{BASE}/{V}/me", json={"id": "1"})

    graph.me(user_token=USER_TOKEN)

    assert graph._session is session
    assert vars(mocked.calls[0].request)["req_kwargs"]["timeout"] == (1.0, 2.0)


def test_from_settings_reads_settings_and_shares_one_client_per_configuration(
    settings: Settings,
) -> None:
    settings.GRAPH_API_URL = "http://127.0.0.1:9"
    settings.FACEBOOK_APP_ID = "555"
    settings.FACEBOOK_APP_SECRET = "settings-secret"
    settings.GRAPH_API_VERSION = "v24.0"
    settings.PAGE_ACTIVITIES_API_VERSION = "v19.0"

    graph = GraphClient.from_settings()

    assert (graph.base_url, graph.app_id, graph.version, graph.page_activities_version) == (
        "http://127.0.0.1:9",
        "555",
        "v24.0",
        "v19.0",
    )
    assert (
        graph.appsecret_proof("t") == hmac.new(b"settings-secret", b"t", hashlib.sha256).hexdigest()
    )
    assert GraphClient.from_settings() is graph
    settings.GRAPH_API_VERSION = "v25.0"
    assert GraphClient.from_settings() is not graph


def test_repr_shows_no_secret(graph_client: GraphClient) -> None:
    assert APP_SECRET not in repr(graph_client)


def test_appsecret_proof_is_hmac_sha256_of_the_token_keyed_with_the_secret(
    graph_client: GraphClient,
) -> None:
    assert graph_client.appsecret_proof(PAGE_TOKEN) == proof(PAGE_TOKEN)


# --- Login and tokens -----------------------------------------------------------------------


def test_exchange_code(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/{V}/oauth/access_token",
        json={"access_token": "short-user-token", "token_type": "bearer", "expires_in": 3600},
        headers=USAGE_HEADERS,
    )

    token = graph_client.exchange_code(
        code="oauth-code-1", redirect_uri="https://app.test/complete/"
    )

    assert query_of(mocked.calls[0]) == {
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "redirect_uri": "https://app.test/complete/",
        "code": "oauth-code-1",
    }
    assert token == AccessToken(
        access_token="short-user-token", token_type="bearer", expires_in=3600
    )
    assert token.usage.app == PlatformUsage(call_count=42, total_time=7, total_cputime=3)
    assert "short-user-token" not in repr(token)


def test_exchange_long_lived(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/{V}/oauth/access_token",
        json={"access_token": "long-user-token", "token_type": "bearer", "expires_in": 5183944},
    )

    token = graph_client.exchange_long_lived(user_token=USER_TOKEN)

    assert query_of(mocked.calls[0]) == {
        "grant_type": "fb_exchange_token",
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "fb_exchange_token": USER_TOKEN,
    }
    assert token.access_token == "long-user-token"
    assert token.expires_in == 5183944


def test_a_token_answer_without_expiry(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/{V}/oauth/access_token", json={"access_token": "t"})

    assert graph_client.exchange_long_lived(user_token=USER_TOKEN) == AccessToken(access_token="t")


def test_a_token_answer_without_a_token_is_unexpected(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/{V}/oauth/access_token", json={"token_type": "bearer"})

    with pytest.raises(UnexpectedResponseError, match="access_token"):
        graph_client.exchange_long_lived(user_token=USER_TOKEN)


def test_debug_token_uses_the_app_token_and_parses_every_field(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/{V}/debug_token",
        json={
            "data": {
                "app_id": APP_ID,
                "type": "USER",
                "application": "Pagepulse",
                "data_access_expires_at": 1767225600,
                "expires_at": 1764547200,
                "is_valid": True,
                "issued_at": 1759276800,
                "scopes": ["pages_show_list", "page_events", "pages_messaging"],
                "granular_scopes": [
                    {"scope": "pages_show_list", "target_ids": [PAGE_ID, "999"]},
                    {"scope": "page_events"},
                ],
                "user_id": "400000000000004",
            }
        },
    )

    info = graph_client.debug_token(input_token=USER_TOKEN)

    assert query_of(mocked.calls[0]) == signed(APP_TOKEN, input_token=USER_TOKEN)
    assert info.is_valid is True
    assert info.app_id == APP_ID
    assert info.type == "USER"
    assert info.expires_at is not None
    assert info.data_access_expires_at is not None
    assert info.issued_at is not None
    assert info.expires_at.isoformat() == "2025-12-01T00:00:00+00:00"
    assert info.data_access_expires_at.isoformat() == "2026-01-01T00:00:00+00:00"
    assert info.issued_at.isoformat() == "2025-10-01T00:00:00+00:00"
    assert info.scopes == ("pages_show_list", "page_events", "pages_messaging")
    assert info.granular_scopes == (
        GranularScope(scope="pages_show_list", target_ids=(PAGE_ID, "999")),
        GranularScope(scope="page_events", target_ids=()),
    )
    assert info.user_id == "400000000000004"
    assert info.profile_id is None
    assert info.error is None
    assert info.target_ids("pages_show_list") == (PAGE_ID, "999")
    assert info.target_ids("page_events") == ()
    assert info.target_ids("pages_messaging") == ()
    assert info.target_ids("ads_read") is None


def test_debug_token_of_a_never_expiring_page_token(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/{V}/debug_token",
        json={
            "data": {
                "app_id": APP_ID,
                "type": "PAGE",
                "is_valid": True,
                "expires_at": 0,
                "profile_id": PAGE_ID,
                "user_id": "400000000000004",
            }
        },
    )

    info = graph_client.debug_token(input_token=PAGE_TOKEN)

    assert info.expires_at is None
    assert info.profile_id == PAGE_ID


def test_debug_token_of_an_invalid_token(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/{V}/debug_token",
        json={
            "data": {
                "app_id": APP_ID,
                "is_valid": False,
                "error": {"code": 190, "message": "The session was invalidated", "subcode": 460},
                "scopes": [],
            }
        },
    )

    info = graph_client.debug_token(input_token=USER_TOKEN)

    assert info.is_valid is False
    assert info.error == TokenDebugError(
        code=190, message="The session was invalidated", subcode=460
    )


def test_me(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/{V}/me",
        json={"id": "400000000000004", "name": "Ada", "email": "ada@example.test"},
        headers=USAGE_HEADERS,
    )

    user = graph_client.me(user_token=USER_TOKEN)

    assert path_of(mocked.calls[0]) == f"/{V}/me"
    assert query_of(mocked.calls[0]) == signed(USER_TOKEN, fields="id,name,email")
    assert (user.id, user.name, user.email) == ("400000000000004", "Ada", "ada@example.test")
    assert user.usage.max_percent == 42


def test_me_with_other_fields_and_another_version(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/v24.0/me", json={"id": "4"})

    user = graph_client.me(user_token=USER_TOKEN, fields=("id",), version="v24.0")

    assert query_of(mocked.calls[0]) == signed(USER_TOKEN, fields="id")
    assert (user.id, user.name, user.email) == ("4", None, None)


def test_my_accounts_follows_the_cursors_on_our_own_host(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    first_page = {
        "data": [
            {
                "id": "1",
                "name": "Page One",
                "access_token": "page-token-1",
                "tasks": ["ANALYZE", "MESSAGING"],
            },
            {"id": "2", "name": "Page Two", "access_token": "page-token-2", "tasks": ["MANAGE"]},
        ],
        # Facebook's next URL names its own host and carries the token: never fetched as is.
        "paging": {
            "cursors": {"before": "b1", "after": "cursor-1"},
            "next": "https://graph.facebook.com/v25.0/4/accounts?access_token=x&after=cursor-1",
        },
    }
    second_page = {
        "data": [{"id": "3", "name": "Page Three", "access_token": "page-token-3"}],
        "paging": {"cursors": {"before": "b2", "after": "cursor-2"}},
    }
    mocked.get(
        f"{BASE}/{V}/me/accounts",
        json=second_page,
        match=[matchers.query_param_matcher({"after": "cursor-1"}, strict_match=False)],
    )
    mocked.get(f"{BASE}/{V}/me/accounts", json=first_page)

    accounts = graph_client.my_accounts(user_token=USER_TOKEN)

    assert [query_of(call) for call in mocked.calls] == [
        signed(USER_TOKEN, fields="id,name,access_token,tasks"),
        signed(USER_TOKEN, fields="id,name,access_token,tasks", after="cursor-1"),
    ]
    assert [(a.id, a.name, a.access_token, a.tasks) for a in accounts] == [
        ("1", "Page One", "page-token-1", ("ANALYZE", "MESSAGING")),
        ("2", "Page Two", "page-token-2", ("MANAGE",)),
        ("3", "Page Three", "page-token-3", ()),
    ]
    assert "page-token-1" not in repr(accounts)


def test_paging_takes_the_cursor_from_the_next_url_when_there_are_no_cursors(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/{V}/me/accounts",
        json={"data": [], "paging": {}},
        match=[matchers.query_param_matcher({"after": "c9"}, strict_match=False)],
    )
    mocked.get(
        f"{BASE}/{V}/me/accounts",
        json={"data": [], "paging": {"next": "https://graph.facebook.com/x?after=c9&limit=25"}},
    )

    assert graph_client.my_accounts(user_token=USER_TOKEN) == []
    assert len(mocked.calls) == 2


def test_paging_stops_on_a_repeated_cursor(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    looping = {"data": [], "paging": {"cursors": {"after": "same"}, "next": "https://x/y"}}
    mocked.get(f"{BASE}/{V}/me/accounts", json=looping)

    graph_client.my_accounts(user_token=USER_TOKEN)

    assert len(mocked.calls) == 2


def test_paging_gives_up_after_max_pages(
    graph_client: GraphClient, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    counter = iter(range(10_000))

    def endless(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = {"data": [], "paging": {"cursors": {"after": f"c{next(counter)}"}, "next": "n"}}
        return 200, {}, json.dumps(body)

    mocked.add_callback(responses.GET, f"{BASE}/{V}/me/accounts", callback=endless)

    graph_client.my_accounts(user_token=USER_TOKEN)

    assert len(mocked.calls) == MAX_PAGES
    assert "graph_api.paging.truncated" in caplog.messages


# --- Pages ----------------------------------------------------------------------------------


def test_subscribe_app_with_the_default_fields(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(
        f"{BASE}/{V}/{PAGE_ID}/subscribed_apps", json={"success": True}, headers=USAGE_HEADERS
    )

    result = graph_client.subscribe_app(page_id=PAGE_ID, page_token=PAGE_TOKEN)

    assert DEFAULT_WEBHOOK_FIELDS == (
        "messages",
        "messaging_postbacks",
        "messaging_referrals",
        "message_echoes",
        "messaging_optins",
    )
    assert query_of(mocked.calls[0]) == signed(
        PAGE_TOKEN,
        subscribed_fields="messages,messaging_postbacks,messaging_referrals,message_echoes,messaging_optins",
    )
    assert result == SuccessResult(success=True)
    assert result.usage.max_percent == 42


def test_subscribe_app_with_chosen_fields(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{BASE}/{V}/{PAGE_ID}/subscribed_apps", json={"success": True})

    graph_client.subscribe_app(
        page_id=PAGE_ID, page_token=PAGE_TOKEN, fields=("messages", "standby")
    )

    assert query_of(mocked.calls[0])["subscribed_fields"] == "messages,standby"


def test_subscribe_app_needs_a_field(graph_client: GraphClient) -> None:
    with pytest.raises(ValueError, match="at least one"):
        graph_client.subscribe_app(page_id=PAGE_ID, page_token=PAGE_TOKEN, fields=())


def test_unsubscribe_app(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    mocked.delete(f"{BASE}/{V}/{PAGE_ID}/subscribed_apps", json={"success": True})

    result = graph_client.unsubscribe_app(page_id=PAGE_ID, page_token=PAGE_TOKEN)

    assert query_of(mocked.calls[0]) == signed(PAGE_TOKEN)
    assert result.success is True


def test_get_or_create_dataset(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/{V}/{PAGE_ID}/dataset", json={"id": "500000000000005"})

    dataset_id = graph_client.get_or_create_dataset(page_id=PAGE_ID, token=USER_TOKEN)

    assert query_of(mocked.calls[0]) == signed(USER_TOKEN)
    assert mocked.calls[0].request.body is None
    assert dataset_id == "500000000000005"


@pytest.mark.parametrize("bad_id", ["", "1/../me", "1?access_token=x", "me messages", "12#x"])
def test_ids_in_paths_cannot_add_segments_or_queries(
    graph_client: GraphClient, bad_id: str
) -> None:
    with pytest.raises(ValueError, match="page_id"):
        graph_client.get_or_create_dataset(page_id=bad_id, token=USER_TOKEN)


# --- page_activities ------------------------------------------------------------------------

LEAD = [{"_eventName": "lead_submitted"}]


def test_log_page_activities(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/v20.0/{APP_ID}/page_activities", json={"success": True}, headers=USAGE_HEADERS
    )

    result = graph_client.log_page_activities(
        page_token=PAGE_TOKEN, page_id=PAGE_ID, psid=PSID, custom_events=LEAD
    )

    request = mocked.calls[0].request
    assert query_of(mocked.calls[0]) == signed(PAGE_TOKEN)
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(request) == {
        "custom_events": [{"_eventName": "lead_submitted"}],
        "advertiser_tracking_enabled": 1,
        "application_tracking_enabled": 1,
        "page_id": int(PAGE_ID),
        "page_scoped_user_id": int(PSID),
        "logging_source": "messenger_bot",
        "logging_target": "page",
    }
    assert result == PageActivitiesResult(success=True)
    assert result.usage.max_percent == 42


def test_log_page_activities_with_every_option(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{BASE}/v19.0/777/page_activities", json={"success": True})

    graph_client.log_page_activities(
        page_token=PAGE_TOKEN,
        page_id=int(PAGE_ID),
        psid=PSID,
        custom_events=LEAD,
        app_id="777",
        logging_target="app_and_page",
        advertiser_tracking_enabled=False,
        application_tracking_enabled=False,
        version="v19.0",
    )

    body = sent_json(mocked.calls[0].request)
    assert body["advertiser_tracking_enabled"] == 0
    assert body["application_tracking_enabled"] == 0
    assert body["logging_target"] == "app_and_page"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"custom_events": []}, "at least one custom event"),
        ({"logging_target": "PAGES"}, "logging_target"),
        ({"psid": "12a"}, "psid must be a numeric id"),
        ({"page_id": "-1"}, "page_id must be a numeric id"),
        ({"psid": "١٢"}, "psid must be a numeric id"),  # non-ASCII digits
    ],
)
def test_log_page_activities_refuses_what_facebook_would(
    graph_client: GraphClient, kwargs: dict[str, Any], message: str
) -> None:
    arguments = {"page_token": PAGE_TOKEN, "page_id": PAGE_ID, "psid": PSID, "custom_events": LEAD}

    with pytest.raises(ValueError, match=message):
        graph_client.log_page_activities(**{**arguments, **kwargs})


def test_page_activities_operation_is_the_same_call_as_a_signed_form_post(
    graph_client: GraphClient,
) -> None:
    operation = graph_client.page_activities_operation(
        page_token=PAGE_TOKEN,
        page_id=PAGE_ID,
        psid=PSID,
        custom_events=[
            {"_eventName": "fb_mobile_purchase", "_valueToSum": 57.23, "fb_currency": "USD"}
        ],
        name="op-1",
    )

    assert operation.method == "POST"
    assert operation.relative_url == f"{APP_ID}/page_activities"
    assert operation.version == "v20.0"
    assert operation.name == "op-1"
    assert parse_qsl(operation.body) == [
        (
            "custom_events",
            '[{"_eventName":"fb_mobile_purchase","_valueToSum":57.23,"fb_currency":"USD"}]',
        ),
        ("advertiser_tracking_enabled", "1"),
        ("application_tracking_enabled", "1"),
        ("page_id", PAGE_ID),
        ("page_scoped_user_id", PSID),
        ("logging_source", "messenger_bot"),
        ("logging_target", "page"),
        ("access_token", PAGE_TOKEN),
        ("appsecret_proof", proof(PAGE_TOKEN)),
    ]
    assert PAGE_TOKEN not in repr(operation)
    assert proof(PAGE_TOKEN) not in repr(operation)


# --- Batch ----------------------------------------------------------------------------------


def op_entry(code: int, body: object, headers: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    return {
        "code": code,
        "headers": [{"name": n, "value": v} for n, v in headers],
        "body": json.dumps(body),
    }


def test_batch_signs_the_request_and_every_operation(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    other_page_token = "test-page-token-cccc"
    operations = [
        graph_client.page_activities_operation(
            page_token=PAGE_TOKEN, page_id=PAGE_ID, psid=PSID, custom_events=LEAD
        ),
        graph_client.page_activities_operation(
            page_token=other_page_token, page_id="2", psid="3", custom_events=LEAD
        ),
    ]
    mocked.post(
        f"{BASE}/v20.0/",
        json=[op_entry(200, {"success": True}), op_entry(200, {"success": True})],
        headers=USAGE_HEADERS,
    )

    results = graph_client.batch(operations=operations)

    form = form_of(mocked.calls[0])
    assert set(form) == {"batch", "access_token", "appsecret_proof"}
    assert form["access_token"] == APP_TOKEN
    assert form["appsecret_proof"] == proof(APP_TOKEN)
    assert query_of(mocked.calls[0]) == {}
    sent = json.loads(form["batch"])
    assert [(op["method"], op["relative_url"]) for op in sent] == [
        ("POST", f"{APP_ID}/page_activities"),
        ("POST", f"{APP_ID}/page_activities"),
    ]
    bodies = [dict(parse_qsl(op["body"])) for op in sent]
    assert [(b["access_token"], b["appsecret_proof"]) for b in bodies] == [
        (PAGE_TOKEN, proof(PAGE_TOKEN)),
        (other_page_token, proof(other_page_token)),
    ]
    assert [json.loads(b["custom_events"]) for b in bodies] == [LEAD, LEAD]
    assert [(r.status, r.body, r.ok) for r in results] == [
        (200, {"success": True}, True),
        (200, {"success": True}, True),
    ]
    # The operations carry no usage headers of their own: the batch's apply.
    assert results[0].usage.max_percent == 42


def test_batch_get_operations_carry_token_and_proof_in_the_query(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    operation = graph_client.batch_operation(
        method="get", relative_url="me?fields=id", token=USER_TOKEN, name="me"
    )
    mocked.post(f"{BASE}/{V}/", json=[op_entry(200, {"id": "4"})])

    results = graph_client.batch(operations=[operation], access_token=USER_TOKEN)

    sent = json.loads(form_of(mocked.calls[0])["batch"])
    assert sent == [
        {
            "method": "GET",
            "relative_url": f"me?fields=id&access_token={USER_TOKEN}&appsecret_proof={proof(USER_TOKEN)}",
            "name": "me",
        }
    ]
    assert form_of(mocked.calls[0])["access_token"] == USER_TOKEN
    assert results[0].body == {"id": "4"}


def test_batch_results_hold_errors_usage_and_timeouts(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    operations = [
        graph_client.batch_operation(method="POST", relative_url="x", token=PAGE_TOKEN)
    ] * 4
    buc = json.dumps(
        {PAGE_ID: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 2}]}
    )
    mocked.post(
        f"{BASE}/{V}/",
        json=[
            op_entry(200, {"success": True}, [("X-App-Usage", '{"call_count": 61}')]),
            op_entry(
                400, {"error": {"message": "Invalid parameter", "code": 100, "fbtrace_id": "T2"}}
            ),
            op_entry(
                400,
                {"error": {"message": "Too many calls", "code": 80001}},
                [("X-Business-Use-Case-Usage", buc)],
            ),
            None,
        ],
        headers=USAGE_HEADERS,
    )

    ok, invalid, throttled, timed_out = graph_client.batch(operations=operations)

    assert ok.ok
    assert ok.usage.max_percent == 61
    assert isinstance(invalid.error, InvalidRequestError)
    assert (invalid.status, invalid.error.fbtrace_id) == (400, "T2")
    assert isinstance(throttled.error, RateLimitedError)
    assert throttled.error.retry_after == 120
    assert throttled.usage.regain_access_seconds == 120
    assert timed_out.status is None
    assert isinstance(timed_out.error, TransientError)
    assert not timed_out.ok


def test_batch_limits(graph_client: GraphClient) -> None:
    operation = graph_client.batch_operation(method="POST", relative_url="x", token=PAGE_TOKEN)

    with pytest.raises(ValueError, match="at most 50"):
        graph_client.batch(operations=[operation] * 51)
    with pytest.raises(ValueError, match="at least one"):
        graph_client.batch(operations=[])
    with pytest.raises(ValueError, match="method"):
        graph_client.batch_operation(method="PATCH", relative_url="x", token=PAGE_TOKEN)


def test_batch_of_50_is_accepted(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    operation = graph_client.batch_operation(method="POST", relative_url="x", token=PAGE_TOKEN)
    mocked.post(f"{BASE}/{V}/", json=[op_entry(200, {"success": True})] * 50)

    assert len(graph_client.batch(operations=[operation] * 50)) == 50


def test_batch_refuses_operations_pinned_to_different_versions(graph_client: GraphClient) -> None:
    pinned = graph_client.page_activities_operation(
        page_token=PAGE_TOKEN, page_id="1", psid="2", custom_events=LEAD
    )
    other = BatchOperation(method="GET", relative_url="me", version="v25.0")

    with pytest.raises(ValueError, match="different Graph versions"):
        graph_client.batch(operations=[pinned, other])
    with pytest.raises(ValueError, match=r"need Graph v20\.0"):
        graph_client.batch(operations=[pinned], version="v25.0")


def test_a_failed_batch_raises(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    operation = graph_client.batch_operation(method="POST", relative_url="x", token=PAGE_TOKEN)
    mocked.post(f"{BASE}/{V}/", **graph_error(190, 463))

    with pytest.raises(TokenInvalidError):
        graph_client.batch(operations=[operation])


def test_a_batch_answer_of_the_wrong_length_is_unexpected(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    operation = graph_client.batch_operation(method="POST", relative_url="x", token=PAGE_TOKEN)
    mocked.post(f"{BASE}/{V}/", json=[])

    with pytest.raises(UnexpectedResponseError):
        graph_client.batch(operations=[operation])


# --- Conversions API ------------------------------------------------------------------------

CAPI_EVENT = {
    "event_name": "LeadSubmitted",
    "event_time": 1675999999,
    "action_source": "business_messaging",
    "messaging_channel": "messenger",
    "user_data": {"page_id": int(PAGE_ID), "page_scoped_user_id": int(PSID)},
}


def test_send_capi_events(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/{V}/500/events",
        json={"events_received": 1, "messages": [], "fbtrace_id": "CapiTrace"},
        headers=USAGE_HEADERS,
    )

    result = graph_client.send_capi_events(
        dataset_id="500", token=USER_TOKEN, events=[CAPI_EVENT], partner_agent="pagepulse"
    )

    request = mocked.calls[0].request
    assert query_of(mocked.calls[0]) == signed(USER_TOKEN)
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(request) == {"data": [CAPI_EVENT], "partner_agent": "pagepulse"}
    assert (result.events_received, result.messages, result.fbtrace_id) == (1, (), "CapiTrace")
    assert result.usage.max_percent == 42


def test_send_capi_events_with_a_test_code_and_no_partner(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{BASE}/{V}/500/events", json={"events_received": 2, "messages": ["note"]})

    result = graph_client.send_capi_events(
        dataset_id="500", token=USER_TOKEN, events=[CAPI_EVENT] * 2, test_event_code="TEST123"
    )

    assert sent_json(mocked.calls[0].request) == {
        "data": [CAPI_EVENT, CAPI_EVENT],
        "test_event_code": "TEST123",
    }
    assert result.messages == ("note",)


def test_send_capi_events_limits(graph_client: GraphClient) -> None:
    with pytest.raises(ValueError, match="at most 1000"):
        graph_client.send_capi_events(
            dataset_id="500", token=USER_TOKEN, events=[CAPI_EVENT] * 1001
        )
    with pytest.raises(ValueError, match="at least one"):
        graph_client.send_capi_events(dataset_id="500", token=USER_TOKEN, events=[])


def test_send_capi_events_without_a_count_is_unexpected(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(f"{BASE}/{V}/500/events", json={"messages": []})

    with pytest.raises(UnexpectedResponseError, match="events_received"):
        graph_client.send_capi_events(dataset_id="500", token=USER_TOKEN, events=[CAPI_EVENT])


# --- Send API -------------------------------------------------------------------------------


def test_send_message(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/{V}/me/messages", json={"recipient_id": PSID, "message_id": "m_1"})

    result = graph_client.send_message(
        page_token=PAGE_TOKEN, psid=PSID, message={"text": "hello, world"}
    )

    assert query_of(mocked.calls[0]) == signed(PAGE_TOKEN)
    assert sent_json(mocked.calls[0].request) == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"text": "hello, world"},
    }
    assert (result.recipient_id, result.message_id) == (PSID, "m_1")


def test_send_message_with_a_tag(graph_client: GraphClient, mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/{V}/me/messages", json={"message_id": "m_2"})

    result = graph_client.send_message(
        page_token=PAGE_TOKEN,
        psid=PSID,
        message={"text": "An agent will reply"},
        messaging_type="MESSAGE_TAG",
        tag="HUMAN_AGENT",
    )

    body = sent_json(mocked.calls[0].request)
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert result.recipient_id is None


def test_send_message_refuses_an_unknown_messaging_type(graph_client: GraphClient) -> None:
    with pytest.raises(ValueError, match="messaging_type"):
        graph_client.send_message(
            page_token=PAGE_TOKEN, psid=PSID, message={}, messaging_type="PROMO"
        )


# --- User Profile API ----------------------------------------------------------------------


def test_user_profile_asks_for_the_three_fields_with_the_page_token_and_its_proof(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/{V}/{PSID}",
        json={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "profile_pic": "https://pics.example/ada.svg?oe=1",
            "id": PSID,
        },
        headers=USAGE_HEADERS,
    )

    profile = graph_client.user_profile(psid=PSID, token=PAGE_TOKEN)

    assert query_of(mocked.calls[0]) == signed(
        PAGE_TOKEN, fields="first_name,last_name,profile_pic"
    )
    assert profile == UserProfile(
        psid=PSID,
        first_name="Ada",
        last_name="Lovelace",
        profile_pic="https://pics.example/ada.svg?oe=1",
    )
    assert profile.usage.app is not None


def test_user_profile_without_a_picture_has_an_empty_one(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/{V}/{PSID}", json={"first_name": "Bo", "id": PSID})

    profile = graph_client.user_profile(psid=PSID, token=PAGE_TOKEN)

    assert (profile.first_name, profile.last_name, profile.profile_pic) == ("Bo", "", "")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (graph_error(100, 33, "Unsupported get request."), InvalidRequestError),
        (graph_error(190, 460), TokenInvalidError),
        (graph_error(10, status=403), PermissionMissingError),
    ],
)
def test_user_profile_errors_are_classified(
    graph_client: GraphClient,
    mocked: responses.RequestsMock,
    error: dict[str, Any],
    expected: type[GraphError],
) -> None:
    mocked.get(f"{BASE}/{V}/{PSID}", **error)

    with pytest.raises(expected) as caught:
        graph_client.user_profile(psid=PSID, token=PAGE_TOKEN)

    assert PAGE_TOKEN not in str(caught.value)


def test_user_profile_refuses_a_psid_that_is_not_an_id(graph_client: GraphClient) -> None:
    with pytest.raises(ValueError, match="psid"):
        graph_client.user_profile(psid="../me/accounts", token=PAGE_TOKEN)


# --- Insights -------------------------------------------------------------------------------


def test_insights_parse_action_values_into_numbers_across_pages(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/{V}/act_123/insights",
        json={
            "data": [
                {"actions": [{"action_type": "lead", "value": "1.5"}], "date_start": "2026-02-01"}
            ],
        },
        match=[matchers.query_param_matcher({"after": "p2"}, strict_match=False)],
    )
    mocked.get(
        f"{BASE}/{V}/act_123/insights",
        json={
            "data": [
                {
                    "actions": [
                        {
                            "action_type": "onsite_conversion.lead_grouped",
                            "value": "12",
                            "7d_click": "10",
                        },
                        {"action_type": "link_click", "value": "340"},
                    ],
                    "date_start": "2026-01-01",
                    "date_stop": "2026-01-30",
                },
                {"date_start": "2026-01-31", "date_stop": "2026-01-31"},
            ],
            "paging": {"cursors": {"after": "p2"}, "next": "https://graph.facebook.com/next"},
        },
    )

    rows = graph_client.insights(object_id="act_123", token=USER_TOKEN)

    assert query_of(mocked.calls[0]) == signed(USER_TOKEN, fields="actions", date_preset="last_30d")
    assert [row.actions for row in rows] == [
        (InsightsAction("onsite_conversion.lead_grouped", 12), InsightsAction("link_click", 340)),
        (),
        (InsightsAction("lead", 1.5),),
    ]
    assert type(rows[0].actions[0].value) is int
    assert (rows[0].date_start, rows[0].date_stop) == ("2026-01-01", "2026-01-30")


def test_insights_with_other_fields_and_preset(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/{V}/42/insights", json={"data": []})

    graph_client.insights(
        object_id="42", token=USER_TOKEN, fields=("actions", "spend"), date_preset="last_7d"
    )

    assert query_of(mocked.calls[0]) == signed(
        USER_TOKEN, fields="actions,spend", date_preset="last_7d"
    )


def test_insights_with_a_value_that_is_not_a_number(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/{V}/42/insights",
        json={"data": [{"actions": [{"action_type": "lead", "value": "many"}]}]},
    )

    with pytest.raises(UnexpectedResponseError):
        graph_client.insights(object_id="42", token=USER_TOKEN)


# --- Errors through the client --------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (graph_error(190, 460), TokenInvalidError),
        (graph_error(200), PermissionMissingError),
        (graph_error(100), InvalidRequestError),
        (graph_error(80001), RateLimitedError),
        (graph_error(2, status=500), TransientError),
        ({"body": "<html>upstream</html>", "status": 502}, TransientError),
        ({"body": "", "status": 429}, RateLimitedError),
        ({"body": "not json", "status": 200}, UnexpectedResponseError),
        ({"json": [1, 2], "status": 200}, UnexpectedResponseError),
        ({"body": requests.ReadTimeout("slow")}, GraphTimeout),
        ({"body": requests.ConnectionError("refused")}, GraphConnectionError),
    ],
)
def test_every_failure_is_a_typed_error_with_usage(
    graph_client: GraphClient,
    mocked: responses.RequestsMock,
    response: dict[str, Any],
    expected: type[Any],
) -> None:
    mocked.get(f"{BASE}/{V}/me", headers=USAGE_HEADERS, **response)

    with pytest.raises(expected) as caught:
        graph_client.me(user_token=USER_TOKEN)

    if "status" in response:
        assert caught.value.http_status == response["status"]
        assert caught.value.usage.max_percent == 42
    assert caught.value.__cause__ is None


def test_a_throttled_call_says_when_to_come_back(
    graph_client: GraphClient, mocked: responses.RequestsMock
) -> None:
    buc = json.dumps(
        {PAGE_ID: [{"type": "messenger", "call_count": 100, "estimated_time_to_regain_access": 5}]}
    )
    mocked.post(
        f"{BASE}/{V}/me/messages", headers={"X-Business-Use-Case-Usage": buc}, **graph_error(80006)
    )

    with pytest.raises(RateLimitedError) as caught:
        graph_client.send_message(page_token=PAGE_TOKEN, psid=PSID, message={"text": "hi"})

    assert caught.value.retry_after == 300
    assert caught.value.usage.regain_access_seconds == 300


# --- Logging --------------------------------------------------------------------------------


def test_each_call_is_one_structured_line(
    graph_client: GraphClient, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="graph_api")
    mocked.get(f"{BASE}/{V}/me", json={"id": "4"}, headers=USAGE_HEADERS)

    graph_client.me(user_token=USER_TOKEN)

    [record] = caplog.records
    fields = vars(record)
    assert record.getMessage() == "graph_api.call"
    assert (fields["method"], fields["path"], fields["status"], fields["usage_percent"]) == (
        "GET",
        f"{V}/me",
        200,
        42,
    )
    assert isinstance(fields["duration_ms"], int)


def test_a_failed_call_logs_its_graph_error(
    graph_client: GraphClient, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="graph_api")
    mocked.post(f"{BASE}/{V}/{PAGE_ID}/dataset", **graph_error(190, 460))

    with pytest.raises(TokenInvalidError):
        graph_client.get_or_create_dataset(page_id=PAGE_ID, token=PAGE_TOKEN)

    [record] = caplog.records
    assert record.getMessage() == "graph_api.call.failed"
    assert record.levelno == logging.WARNING
    fields = vars(record)
    assert (fields["method"], fields["path"], fields["status"]) == (
        "POST",
        f"{V}/{PAGE_ID}/dataset",
        400,
    )
    assert (
        fields["error_class"],
        fields["graph_code"],
        fields["graph_subcode"],
        fields["fbtrace_id"],
    ) == (
        "TokenInvalidError",
        190,
        460,
        "Trace1",
    )


# --- No secret anywhere ---------------------------------------------------------------------

OAUTH_CODE = "oauth-code-from-the-dialog"
SECRETS = [
    OAUTH_CODE,
    APP_SECRET,
    APP_TOKEN,
    USER_TOKEN,
    PAGE_TOKEN,
    proof(USER_TOKEN),
    proof(PAGE_TOKEN),
    proof(APP_TOKEN),
]


def every_call(graph_client: GraphClient) -> list[GraphError]:
    """Call every client method once; return the exceptions raised."""
    operation = graph_client.page_activities_operation(
        page_token=PAGE_TOKEN, page_id="1", psid="2", custom_events=LEAD
    )
    calls: list[Callable[[], object]] = [
        lambda: graph_client.exchange_code(code=OAUTH_CODE, redirect_uri="https://app.test/"),
        lambda: graph_client.exchange_long_lived(user_token=USER_TOKEN),
        lambda: graph_client.debug_token(input_token=USER_TOKEN),
        lambda: graph_client.me(user_token=USER_TOKEN),
        lambda: graph_client.my_accounts(user_token=USER_TOKEN),
        lambda: graph_client.subscribe_app(page_id="1", page_token=PAGE_TOKEN),
        lambda: graph_client.unsubscribe_app(page_id="1", page_token=PAGE_TOKEN),
        lambda: graph_client.get_or_create_dataset(page_id="1", token=PAGE_TOKEN),
        lambda: graph_client.log_page_activities(
            page_token=PAGE_TOKEN, page_id="1", psid="2", custom_events=LEAD
        ),
        lambda: graph_client.batch(operations=[operation]),
        lambda: graph_client.send_capi_events(
            dataset_id="5", token=PAGE_TOKEN, events=[CAPI_EVENT]
        ),
        lambda: graph_client.send_message(page_token=PAGE_TOKEN, psid="2", message={"text": "hi"}),
        lambda: graph_client.insights(object_id="1", token=USER_TOKEN),
    ]
    errors: list[GraphError] = []
    for call in calls:
        try:
            call()
        except GraphError as exc:  # collected for inspection
            errors.append(exc)
    return errors


def assert_no_secret(errors: list[GraphError], caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [
        t for e in errors for t in (e.message, e.error_user_msg or "", e.error_user_title or "")
    ]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.extend(repr(value) for value in record.__dict__.values())
    for secret in SECRETS:
        leaks = [text for text in texts if secret in text]
        assert leaks == [], f"a secret leaked into {leaks}"


ANY_URL = re.compile(rf"{re.escape(BASE)}/.*")


def echo_the_token(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
    """Facebook's answer to a malformed token names it: "Malformed access token EAAB..."."""
    sent = sent_query(request) | sent_form(request)
    token = sent.get("access_token") or sent.get("fb_exchange_token") or sent.get("code")
    error = {
        "message": f"Malformed access token {token}",
        "code": 190,
        "error_user_msg": f"The token {token} is not valid",
    }
    return 400, {}, json.dumps({"error": error})


FAILURES = [
    {"callback": echo_the_token},
    {"body": f"<html>bad gateway for /me?access_token={USER_TOKEN}</html>", "status": 502},
    {
        "body": requests.ConnectionError(
            f"Max retries exceeded with url: /v25.0/me?access_token={PAGE_TOKEN}"
            f"&appsecret_proof={proof(PAGE_TOKEN)} client_secret {APP_SECRET}"
        )
    },
    {"body": requests.ReadTimeout(f"read timed out {APP_TOKEN}")},
]


@pytest.mark.parametrize(
    "response", FAILURES, ids=["echoed-token", "html-5xx", "connection-error", "timeout"]
)
def test_no_secret_in_errors_or_logs_when_calls_fail(
    graph_client: GraphClient,
    mocked: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    response: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.assert_all_requests_are_fired = False
    for method in ("GET", "POST", "DELETE"):
        if "callback" in response:
            mocked.add_callback(method, ANY_URL, **response)
        else:
            mocked.add(method, ANY_URL, **response)

    errors = every_call(graph_client)

    assert len(errors) == 13
    assert_no_secret(errors, caplog)


def fake_graph(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
    """Plausible answers for every edge, keyed by the path's last segment."""
    last = urlsplit(request.url or "").path.rstrip("/").rsplit("/", 1)[-1]
    bodies = {
        "access_token": {"access_token": "issued-token", "token_type": "bearer"},
        "debug_token": {"data": {"is_valid": True, "app_id": APP_ID}},
        "me": {"id": "4", "name": "Ada"},
        "accounts": {"data": [{"id": "1", "name": "P", "access_token": "page-token-9"}]},
        "subscribed_apps": {"success": True},
        "dataset": {"id": "5"},
        "page_activities": {"success": True},
        "v20.0": [op_entry(200, {"success": True})],
        "events": {"events_received": 1, "messages": []},
        "messages": {"recipient_id": "2", "message_id": "m"},
        "insights": {"data": [{"actions": [{"action_type": "lead", "value": "1"}]}]},
    }
    return 200, USAGE_HEADERS, json.dumps(bodies[last])


def test_no_secret_in_results_or_logs_when_calls_succeed(
    graph_client: GraphClient, mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for method in ("GET", "POST", "DELETE"):
        mocked.add_callback(method, ANY_URL, callback=fake_graph)

    errors = every_call(graph_client)

    assert errors == []
    assert len([r for r in caplog.records if r.getMessage() == "graph_api.call"]) == 13
    assert_no_secret(errors, caplog)
