"""Pytest fixtures that run the real Graph sandbox in a subprocess on a free local port.

`graph_sandbox` (function-scoped) hands each test a freshly reset sandbox; the process itself is
started once per session (`graph_sandbox_server`) because starting Python and aiohttp costs far
more than a reset. The sandbox is started with `--port 0` and tells us the port it bound in its
"listening" line, so there is no race for a free port.
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pytest_django.fixtures import Settings

from graph_api.client import GraphClient
from tests.timing import deadline

APP_ID = "100000000000001"
APP_SECRET = "sandbox-app-secret"
STARTUP_SECONDS = deadline(60)
HTTP_TIMEOUT = deadline(10)
"""Seconds a request to the sandbox may take (on loopback; TEST_TIME_SCALE stretches it)."""
LISTENING_PREFIX = "graph sandbox listening on "
GRAPH_VERSION = "v25.0"
DEFAULT_SCOPE = (
    "page_events",
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "business_management",
    "ads_read",
    "email",
)
REDIRECT_URI = "http://testserver/complete/facebook/"

# Seed ids, named for readable tests.
ADA = "200000000000001"  # three Pages with every task, one without ANALYZE
BOB = "200000000000002"  # 60 Pages
CLEO = "200000000000003"  # does not grant page_events by default
ADA_PAGE = "300000000000001"
ADA_PAGE_2 = "300000000000002"
ADA_PAGE_NO_ANALYZE = "300000000000004"
CLEO_PAGE = "300000000000005"
AD_ACCOUNT = "act_400000000000001"
CAMPAIGN = "500000000000001"
AD = "600000000000001"  # "Croissant video", advertises ADA_PAGE
AD_2 = "600000000000002"  # "Sourdough carousel", ADA_PAGE too
BIKE_AD = "600000000000003"  # advertises ADA_PAGE_2

REPO_ROOT = Path(__file__).resolve().parent.parent


def error_of(response: requests.Response) -> dict[str, Any]:
    """The ``error`` object of a Graph error answer."""
    error: dict[str, Any] = response.json()["error"]
    return error


class SandboxProcess:
    """A running sandbox subprocess."""

    def __init__(
        self, *extra_args: str, app_id: str = APP_ID, app_secret: str = APP_SECRET
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "graph_api.sandbox",
                "--port",
                "0",
                "--app-id",
                app_id,
                "--app-secret",
                app_secret,
                *extra_args,
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        # The reader thread also keeps draining stdout, so the pipe can never fill up.
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self.url = self._wait_for_listening()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))

    def _wait_for_listening(self) -> str:
        deadline = time.monotonic() + STARTUP_SECONDS
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.startswith(LISTENING_PREFIX):
                return line.removeprefix(LISTENING_PREFIX).strip()
        self.stop()
        raise RuntimeError(f"the Graph sandbox did not start:\n{self.stderr()}")

    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self) -> None:
        """Terminate the process and release its pipes."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()


class GraphSandbox:
    """A test's handle on the sandbox: Graph calls with tokens, and the control API."""

    def __init__(self, process: SandboxProcess) -> None:
        self.url = process.url
        self.app_id = process.app_id
        self.app_secret = process.app_secret
        self.http = requests.Session()

    @property
    def app_token(self) -> str:
        """The app access token `{app_id}|{app_secret}`."""
        return f"{self.app_id}|{self.app_secret}"

    def proof(self, token: str) -> str:
        """appsecret_proof for a token."""
        return hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()

    # --- Graph calls ------------------------------------------------------------------------------

    def graph(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        version: str | None = GRAPH_VERSION,
        params: dict[str, Any] | None = None,
        proof: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Call Graph at /{version}{path}, adding access_token and appsecret_proof for `token`."""
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
            if proof:
                query["appsecret_proof"] = self.proof(token)
        prefix = f"/{version}" if version else ""
        return self.http.request(
            method, f"{self.url}{prefix}{path}", params=query, timeout=HTTP_TIMEOUT, **kwargs
        )

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        """GET a Graph path."""
        return self.graph("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        """POST to a Graph path (pass json= or data=)."""
        return self.graph("POST", path, token, **kwargs)

    # --- Login and tokens ---------------------------------------------------------------------------

    def dialog(
        self,
        *,
        user_id: str | None = ADA,
        scope: Sequence[str] = DEFAULT_SCOPE,
        decline: Sequence[str] = (),
        pages: Sequence[str] | None = None,
        rerequest: bool = False,
        state: str = "st4te",
        redirect_uri: str = REDIRECT_URI,
        auto: bool = True,
        **extra: str,
    ) -> requests.Response:
        """Open the login dialog (non-interactive by default); the 302 is not followed."""
        params: dict[str, str] = {
            "client_id": self.app_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": ",".join(scope),
            "response_type": "code",
            "return_scopes": "true",
            **extra,
        }
        if auto:
            params["sandbox_auto"] = "1"
        if user_id is not None:
            params["sandbox_user"] = user_id
        if decline:
            params["sandbox_decline"] = ",".join(decline)
        if pages is not None:
            params["sandbox_pages"] = ",".join(pages)
        if rerequest:
            params["auth_type"] = "rerequest"
        return self.http.get(
            f"{self.url}/{GRAPH_VERSION}/dialog/oauth",
            params=params,
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
        )

    def login_code(self, **dialog: Any) -> str:
        """The `code` the dialog redirects with."""
        response = self.dialog(**dialog)
        assert response.status_code == 302, response.text
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        return query["code"][0]

    def exchange_code(self, code: str, redirect_uri: str = REDIRECT_URI) -> requests.Response:
        """GET /oauth/access_token with a dialog code."""
        return self.get(
            "/oauth/access_token",
            params={
                "client_id": self.app_id,
                "client_secret": self.app_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )

    def login(
        self,
        user_id: str = ADA,
        decline: Sequence[str] = (),
        *,
        long_lived: bool = False,
        **dialog: Any,
    ) -> str:
        """A user token via the non-interactive dialog and the code exchange.

        Like Facebook, the sandbox remembers grants within a test: a permission granted by an
        earlier login is not asked again, so `decline` cannot take it back. For a token without
        it, use `mint(...)`.
        """
        response = self.exchange_code(self.login_code(user_id=user_id, decline=decline, **dialog))
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        if long_lived:
            token = self.exchange_token(token).json()["access_token"]
        return token

    def exchange_token(self, token: str, method: str = "GET") -> requests.Response:
        """The fb_exchange_token grant: a long-lived user token."""
        params = {
            "grant_type": "fb_exchange_token",
            "client_id": self.app_id,
            "client_secret": self.app_secret,
            "fb_exchange_token": token,
        }
        if method == "POST":
            return self.post("/oauth/access_token", data=params)
        return self.get("/oauth/access_token", params=params)

    def page_token(self, user_id: str = ADA, page_id: str = ADA_PAGE, **login: Any) -> str:
        """A Page token from a logged-in user, as the app gets it (GET /{page-id}?fields=access_token)."""
        user_token = self.login(user_id, long_lived=True, **login)
        response = self.get(f"/{page_id}", user_token, params={"fields": "access_token"})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def mint(self, **spec: Any) -> str:
        """A token straight from the control API (type, user_id, page_id, scopes, expires_in, …)."""
        return str(self._control("POST", "/tokens", json=spec)["access_token"])

    # --- Control API ----------------------------------------------------------------------------------

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(
            method, f"{self.url}/_sandbox{path}", timeout=HTTP_TIMEOUT, **kwargs
        )
        assert response.status_code == 200, response.text
        return response.json()

    def faults(self, *specs: dict[str, Any], **spec: Any) -> list[int]:
        """Install faults (`faults(kind="500", count=1)` or several dicts); returns their ids."""
        body = {"faults": [*specs, spec] if spec else list(specs)}
        return list(self._control("POST", "/faults", json=body)["ids"])

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._control("DELETE", "/faults")

    def revoke(self, **target: Any) -> str:
        """Revoke a token, user_id, page_id or user_id+page_id (optional subcode)."""
        return str(self._control("POST", "/revoke", json=target)["revoked"])

    def inbound(self, page_id: str, psid: str, seconds_ago: float = 0) -> None:
        """Record that a person wrote to the Page (opens the 24-hour window)."""
        self._control(
            "POST", "/inbound", json={"page_id": page_id, "psid": psid, "seconds_ago": seconds_ago}
        )

    def ad_referral(self, page_id: str, psid: str, ad_id: str, days_ago: int = 0) -> str:
        """Record that a person started a conversation from an ad; returns its day."""
        body = {"page_id": page_id, "psid": psid, "ad_id": ad_id, "days_ago": days_ago}
        return str(self._control("POST", "/ad_referrals", json=body)["day"])

    def insights_same_day(self, same_day: bool = True) -> None:
        """Report an ad's conversions on their own day (Facebook: from the next day on)."""
        self._control("POST", "/insights", json={"report_same_day": same_day})

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The request log (filters: path, since, method, limit)."""
        return list(self._control("GET", "/requests", params=filters)["data"])

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        """Accepted events (filters: since, page_id, psid, transport, event_name, event_id)."""
        return list(self._control("GET", "/events", params=filters)["data"])

    def sent_messages(self, **filters: Any) -> list[dict[str, Any]]:
        """What Pages sent through the Send API (filters: page_id, psid, since)."""
        return list(self._control("GET", "/messages", params=filters)["data"])

    # --- Webhooks (the sandbox as Facebook's webhook sender) ------------------------------------

    def webhook_config(self, **settings: Any) -> dict[str, Any]:
        """Set url, verify_token, retries, backoff_ms (all optional); returns the configuration."""
        if not settings:
            return dict(self._control("GET", "/webhook/config"))
        return dict(self._control("POST", "/webhook/config", json=settings))

    def verify_webhook(self) -> dict[str, Any]:
        """Run the GET hub.challenge handshake against the webhook URL now; its record."""
        return dict(self._control("POST", "/webhook/verify"))

    def send_webhook(self, **delivery: Any) -> dict[str, Any]:
        """Deliver a signed webhook (page_id, psid or user_id, text|quick_reply|postback|referral,
        mid?, timestamp?, count?, entries?, signature?, retries?); the delivery and its answers."""
        return dict(self._control("POST", "/webhook/send", json=delivery))

    def resend_webhook(self, delivery_id: int, **options: Any) -> dict[str, Any]:
        """POST the same bytes and signature again, as Facebook's retries do."""
        body = {"delivery_id": delivery_id, **options}
        return dict(self._control("POST", "/webhook/resend", json=body))

    def webhook_deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        """Deliveries with their attempts (filters: page_id, psid, since)."""
        return list(self._control("GET", "/webhook/deliveries", params=filters)["data"])

    def reset(self) -> None:
        """Forget everything since start: requests, events, faults, grants, revocations."""
        self._control("POST", "/reset")

    def close(self) -> None:
        """Release the HTTP session."""
        self.http.close()


@pytest.fixture(scope="session")
def graph_sandbox_server() -> Iterator[SandboxProcess]:
    """The sandbox process, started once per test session, with a request log long enough for
    the thousands of calls of a system test (a reset empties it for every test)."""
    process = SandboxProcess("--request-log-size", "200000")
    yield process
    process.stop()


@pytest.fixture
def graph_sandbox(graph_sandbox_server: SandboxProcess) -> Iterator[GraphSandbox]:
    """A freshly reset sandbox for one test."""
    sandbox = GraphSandbox(graph_sandbox_server)
    sandbox.reset()
    yield sandbox
    sandbox.close()


@pytest.fixture
def sandbox(graph_sandbox: GraphSandbox, settings: Settings) -> GraphSandbox:
    """The reset sandbox, with this process's Graph client and Facebook Login pointed at it
    (a live server runs in this process, so it sees these settings too)."""
    settings.GRAPH_API_URL = graph_sandbox.url
    settings.FACEBOOK_WWW_URL = graph_sandbox.url
    return graph_sandbox


@pytest.fixture
def sandbox_graph(graph_sandbox: GraphSandbox) -> Iterator[GraphClient]:
    """Our Graph client, talking to the reset sandbox with the sandbox's app credentials."""
    with GraphClient(
        base_url=graph_sandbox.url,
        app_id=graph_sandbox.app_id,
        app_secret=graph_sandbox.app_secret,
        version=GRAPH_VERSION,
        page_activities_version="v20.0",
    ) as client:
        yield client
