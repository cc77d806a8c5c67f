"""The one door to Facebook: a typed Graph API client over one pooled HTTP session.

Every call that carries an access token also carries its ``appsecret_proof``; every response,
successful or not, has its usage headers parsed; every failure becomes one of the exceptions in
``graph_api.errors``; every call is logged as one structured line without secrets.

Nothing here retries: whether and when to try again is the caller's policy (a retried POST can
log an event twice), decided from the exception's class.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from graph_api.errors import GraphError, UnexpectedResponseError
from graph_api.redaction import RedactingFilter
from graph_api.types import (
    AccessToken,
    AdAccount,
    AdInsightsRow,
    BatchOperation,
    BatchResult,
    CapiResult,
    GranularScope,
    GraphUser,
    InsightsAction,
    InsightsRow,
    PageAccount,
    PageActivitiesResult,
    SendResult,
    SuccessResult,
    TokenDebugError,
    TokenInfo,
    UserProfile,
)
from graph_api.usage import Usage

logger = logging.getLogger("graph_api")
# Our own lines carry no secret by construction; the filter is a second line of defence that
# works even where Django's LOGGING is not configured (scripts, the sandbox, tests).
logger.addFilter(RedactingFilter())

DEFAULT_TIMEOUT = (3.05, 10.0)
"""(connect, read) seconds. Connect is just over a TCP retransmit window (3 s)."""

# Enough connections for a worker's or a web process's threads to share one host's pool.
POOL_MAXSIZE = 20

DEFAULT_WEBHOOK_FIELDS = (
    "messages",
    "messaging_postbacks",
    "messaging_referrals",
    "message_echoes",
    "messaging_optins",
)
MAX_BATCH_OPERATIONS = 50
"""Graph batch requests are limited to 50 operations (reference §4.7)."""
MAX_CAPI_EVENTS = 1000
"""The Conversions API takes up to 1,000 events in ``data`` (reference §3.3)."""
MAX_PAGES = 100
"""A guard against a paging cursor that never ends."""
AD_INSIGHTS_FIELDS = ("ad_id", "ad_name", "campaign_name", "spend", "actions", "action_values")
"""What the ads read-back asks for per ad and day (reference §8, §11)."""
USER_PROFILE_FIELDS = ("first_name", "last_name", "profile_pic")
"""What the User Profile API is asked for (reference §11)."""

LOGGING_TARGETS = ("app", "page", "app_and_page")
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG", "UTILITY")
_PATH_ID_RE = re.compile(r"^[A-Za-z0-9_]+$")
_TOKEN_PARAMS = ("access_token", "appsecret_proof")


@dataclass(frozen=True)
class _Response:
    status: int
    body: object
    headers: Mapping[str, str]
    usage: Usage


class GraphClient:
    """A Graph API client for one Facebook app.

    Build one with ``GraphClient.from_settings()`` (one shared per configuration and process),
    or directly in tests. Methods are keyword-only; each takes ``version=`` to override the
    configured Graph version for that call.
    """

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_secret: str,
        version: str,
        page_activities_version: str,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._app_secret = app_secret
        self.version = version
        self.page_activities_version = page_activities_version
        self.timeout = timeout
        self._session = session if session is not None else _pooled_session(self.base_url)

    @classmethod
    def from_settings(cls) -> GraphClient:
        """The process's client for the current settings (``GRAPH_API_URL``, ``FACEBOOK_APP_*``,
        ``GRAPH_API_VERSION``, ``PAGE_ACTIVITIES_API_VERSION``).

        Cached per distinct configuration, so the connection pool is shared, and a test that
        overrides a setting gets a client for its own values.
        """
        return _client_for(
            base_url=settings.GRAPH_API_URL,
            app_id=settings.FACEBOOK_APP_ID,
            app_secret=settings.FACEBOOK_APP_SECRET,
            version=settings.GRAPH_API_VERSION,
            page_activities_version=settings.PAGE_ACTIVITIES_API_VERSION,
        )

    def __repr__(self) -> str:
        return (
            f"GraphClient(base_url={self.base_url!r}, app_id={self.app_id!r}, "
            f"version={self.version!r})"
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def appsecret_proof(self, token: str) -> str:
        """HMAC-SHA256 of ``token`` keyed with the app secret, hex: Graph's ``appsecret_proof``."""
        return hmac.new(self._app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()

    @property
    def _app_token(self) -> str:
        return f"{self.app_id}|{self._app_secret}"

    # --- Login and tokens ------------------------------------------------------------------

    def exchange_code(
        self, *, code: str, redirect_uri: str, version: str | None = None
    ) -> AccessToken:
        """Exchange a login dialog's ``code`` for a (short-lived) user token."""
        response = self._request(
            "GET",
            "oauth/access_token",
            version=version,
            params={
                "client_id": self.app_id,
                "client_secret": self._app_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            },
            secrets=(code,),
        )
        return _access_token(response)

    def exchange_long_lived(self, *, user_token: str, version: str | None = None) -> AccessToken:
        """Exchange a short-lived user token for a long-lived one (about 60 days).

        The call authenticates with ``client_secret`` and carries no ``access_token``, so it has
        no ``appsecret_proof`` (reference §5.3 shows the exact query).
        """
        response = self._request(
            "GET",
            "oauth/access_token",
            version=version,
            params={
                "grant_type": "fb_exchange_token",
                "client_id": self.app_id,
                "client_secret": self._app_secret,
                "fb_exchange_token": user_token,
            },
            secrets=(user_token,),
        )
        return _access_token(response)

    def debug_token(self, *, input_token: str, version: str | None = None) -> TokenInfo:
        """What Facebook knows about ``input_token``: validity, type, expiry, granted scopes.

        Authenticated with the app token ``{app-id}|{app-secret}``.
        """
        response = self._request(
            "GET",
            "debug_token",
            version=version,
            token=self._app_token,
            params={"input_token": input_token},
            secrets=(input_token,),
        )
        data = _object(response, "data")
        return _token_info(data, response.usage)

    def me(
        self,
        *,
        user_token: str,
        fields: Sequence[str] = ("id", "name", "email"),
        version: str | None = None,
    ) -> GraphUser:
        """The person behind ``user_token``."""
        response = self._request(
            "GET", "me", version=version, token=user_token, params={"fields": ",".join(fields)}
        )
        body = _object(response)
        return GraphUser(
            id=_required_str(body, "id"),
            name=_optional_str(body.get("name")),
            email=_optional_str(body.get("email")),
            usage=response.usage,
        )

    def my_accounts(self, *, user_token: str, version: str | None = None) -> list[PageAccount]:
        """Every Page the person can act on, with its Page token and their tasks, all pages."""
        accounts: list[PageAccount] = []
        for response in self._paginate(
            "me/accounts",
            version=version,
            token=user_token,
            params={"fields": "id,name,access_token,tasks"},
        ):
            for item in _data_items(response):
                accounts.append(
                    PageAccount(
                        id=_required_str(item, "id"),
                        name=_optional_str(item.get("name")) or "",
                        access_token=_required_str(item, "access_token"),
                        tasks=_str_tuple(item.get("tasks")),
                        usage=response.usage,
                    )
                )
        return accounts

    # --- Pages -----------------------------------------------------------------------------

    def subscribe_app(
        self,
        *,
        page_id: str,
        page_token: str,
        fields: Sequence[str] = DEFAULT_WEBHOOK_FIELDS,
        version: str | None = None,
    ) -> SuccessResult:
        """Subscribe our app to the Page's webhooks for ``fields``."""
        if not fields:
            raise ValueError("subscribe_app needs at least one webhook field")
        response = self._request(
            "POST",
            f"{_path_id(page_id, 'page_id')}/subscribed_apps",
            version=version,
            token=page_token,
            params={"subscribed_fields": ",".join(fields)},
        )
        return SuccessResult(success=_success(response), usage=response.usage)

    def unsubscribe_app(
        self, *, page_id: str, page_token: str, version: str | None = None
    ) -> SuccessResult:
        """Remove our app's webhook subscription from the Page."""
        response = self._request(
            "DELETE",
            f"{_path_id(page_id, 'page_id')}/subscribed_apps",
            version=version,
            token=page_token,
        )
        return SuccessResult(success=_success(response), usage=response.usage)

    def get_or_create_dataset(self, *, page_id: str, token: str, version: str | None = None) -> str:
        """The id of the Page's Conversions API dataset, created if it has none (one per Page)."""
        response = self._request(
            "POST", f"{_path_id(page_id, 'page_id')}/dataset", version=version, token=token
        )
        return _required_str(_object(response), "id")

    # --- Events API for Business Messaging (page_activities) -------------------------------

    def log_page_activities(
        self,
        *,
        page_token: str,
        page_id: str | int,
        psid: str | int,
        custom_events: Sequence[Mapping[str, Any]],
        app_id: str | None = None,
        logging_target: str = "page",
        advertiser_tracking_enabled: bool = True,
        application_tracking_enabled: bool = True,
        version: str | None = None,
    ) -> PageActivitiesResult:
        """Log ``custom_events`` for one Messenger user of a Page, exactly as the guide shows.

        ``POST /{PAGE_ACTIVITIES_API_VERSION}/{app-id}/page_activities`` with a JSON body;
        Facebook served this edge up to v20.0 only.
        """
        app_id = app_id or self.app_id
        response = self._request(
            "POST",
            f"{_path_id(app_id, 'app_id')}/page_activities",
            version=version or self.page_activities_version,
            token=page_token,
            json_body=page_activities_body(
                page_id=page_id,
                psid=psid,
                custom_events=custom_events,
                logging_target=logging_target,
                advertiser_tracking_enabled=advertiser_tracking_enabled,
                application_tracking_enabled=application_tracking_enabled,
            ),
        )
        return PageActivitiesResult(success=_success(response), usage=response.usage)

    def page_activities_operation(
        self,
        *,
        page_token: str,
        page_id: str | int,
        psid: str | int,
        custom_events: Sequence[Mapping[str, Any]],
        app_id: str | None = None,
        logging_target: str = "page",
        advertiser_tracking_enabled: bool = True,
        application_tracking_enabled: bool = True,
        name: str | None = None,
        version: str | None = None,
    ) -> BatchOperation:
        """The same call as ``log_page_activities``, as one operation of a Graph batch.

        The body is a form-encoded POST string with ``custom_events`` JSON-encoded, and the
        operation's own Page token and proof. It pins ``PAGE_ACTIVITIES_API_VERSION``.
        """
        body = page_activities_body(
            page_id=page_id,
            psid=psid,
            custom_events=custom_events,
            logging_target=logging_target,
            advertiser_tracking_enabled=advertiser_tracking_enabled,
            application_tracking_enabled=application_tracking_enabled,
        )
        params = {
            key: json.dumps(value, separators=(",", ":")) if key == "custom_events" else str(value)
            for key, value in body.items()
        }
        return self.batch_operation(
            method="POST",
            relative_url=f"{_path_id(app_id or self.app_id, 'app_id')}/page_activities",
            token=page_token,
            params=params,
            name=name,
            version=version or self.page_activities_version,
        )

    # --- Graph batch requests --------------------------------------------------------------

    def batch_operation(
        self,
        *,
        method: str,
        relative_url: str,
        token: str,
        params: Mapping[str, str] | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> BatchOperation:
        """One signed batch operation: ``params``, ``access_token`` and ``appsecret_proof`` go
        in the query string of a GET or DELETE, and in the form body of a POST or PUT."""
        method = method.upper()
        signed = {
            **(params or {}),
            "access_token": token,
            "appsecret_proof": self.appsecret_proof(token),
        }
        if method in ("GET", "DELETE"):
            separator = "&" if "?" in relative_url else "?"
            return BatchOperation(
                method=method,
                relative_url=f"{relative_url}{separator}{urlencode(signed)}",
                name=name,
                version=version,
            )
        if method in ("POST", "PUT"):
            return BatchOperation(
                method=method,
                relative_url=relative_url,
                body=urlencode(signed),
                name=name,
                version=version,
            )
        raise ValueError(f"A batch operation's method is GET, POST, PUT or DELETE, not {method!r}")

    def batch(
        self,
        *,
        operations: Sequence[BatchOperation],
        version: str | None = None,
        access_token: str | None = None,
    ) -> list[BatchResult]:
        """Send up to 50 operations in one HTTP request; one result per operation, in order.

        The top-level ``access_token`` (Facebook requires one even when every operation has
        its own) defaults to the app token. ``version`` defaults to the version the operations
        pin (page_activities operations pin ``PAGE_ACTIVITIES_API_VERSION``), else the
        client's. A failed operation is a result with an ``error``, not an exception; only a
        failure of the whole request raises.
        """
        if not operations:
            raise ValueError("A batch needs at least one operation")
        if len(operations) > MAX_BATCH_OPERATIONS:
            raise ValueError(
                f"A batch takes at most {MAX_BATCH_OPERATIONS} operations, got {len(operations)}"
            )
        token = access_token or self._app_token
        secrets = [secret for operation in operations for secret in _operation_secrets(operation)]
        response = self._request(
            "POST",
            "",
            version=_batch_version(operations, version),
            token=token,
            form={"batch": json.dumps([op.as_dict() for op in operations], separators=(",", ":"))},
            secrets=secrets,
        )
        entries = response.body
        if not isinstance(entries, list) or len(entries) != len(operations):
            raise UnexpectedResponseError(
                "Graph's batch answer is not a list of one entry per operation",
                http_status=response.status,
                usage=response.usage,
            )
        results = [_batch_result(entry, response.headers, secrets) for entry in entries]
        failed = sum(1 for result in results if not result.ok)
        logger.info(
            "graph_api.batch",
            extra={
                "operations": len(results),
                "failed": failed,
                "usage_percent": response.usage.max_percent,
            },
        )
        return results

    # --- Conversions API for Business Messaging ---------------------------------------------

    def send_capi_events(
        self,
        *,
        dataset_id: str,
        token: str,
        events: Sequence[Mapping[str, Any]],
        partner_agent: str | None = None,
        test_event_code: str | None = None,
        version: str | None = None,
    ) -> CapiResult:
        """Send up to 1,000 server events to a dataset. One invalid event rejects them all."""
        if not events:
            raise ValueError("send_capi_events needs at least one event")
        if len(events) > MAX_CAPI_EVENTS:
            raise ValueError(
                f"The Conversions API takes at most {MAX_CAPI_EVENTS} events a call, got {len(events)}"
            )
        body: dict[str, Any] = {"data": [dict(event) for event in events]}
        if partner_agent is not None:
            body["partner_agent"] = partner_agent
        if test_event_code is not None:
            body["test_event_code"] = test_event_code
        response = self._request(
            "POST",
            f"{_path_id(dataset_id, 'dataset_id')}/events",
            version=version,
            token=token,
            json_body=body,
        )
        data = _object(response)
        received = data.get("events_received")
        if not isinstance(received, int) or isinstance(received, bool):
            raise _unexpected(response, "events_received")
        return CapiResult(
            events_received=received,
            messages=_str_tuple(data.get("messages")),
            fbtrace_id=_optional_str(data.get("fbtrace_id")),
            usage=response.usage,
        )

    # --- Send API ----------------------------------------------------------------------------

    def send_message(
        self,
        *,
        page_token: str,
        psid: str,
        message: Mapping[str, Any],
        messaging_type: str = "RESPONSE",
        tag: str | None = None,
        version: str | None = None,
    ) -> SendResult:
        """Send ``message`` to a Messenger user of the Page; ``tag`` goes with ``MESSAGE_TAG``."""
        if messaging_type not in MESSAGING_TYPES:
            raise ValueError(f"messaging_type is one of {MESSAGING_TYPES}, not {messaging_type!r}")
        body: dict[str, Any] = {
            "recipient": {"id": psid},
            "messaging_type": messaging_type,
            "message": dict(message),
        }
        if tag is not None:
            body["tag"] = tag
        response = self._request(
            "POST", "me/messages", version=version, token=page_token, json_body=body
        )
        data = _object(response)
        return SendResult(
            recipient_id=_optional_str(data.get("recipient_id")),
            message_id=_required_str(data, "message_id"),
            usage=response.usage,
        )

    # --- User Profile API ---------------------------------------------------------------------

    def user_profile(self, *, psid: str, token: str, version: str | None = None) -> UserProfile:
        """The public profile of a Messenger user who wrote to the Page whose token this is.

        Facebook answers only for a PSID that messaged that Page; any other PSID is an error
        (code 100), as is a token without the Page's messaging permission.
        """
        response = self._request(
            "GET",
            _path_id(psid, "psid"),
            version=version,
            token=token,
            params={"fields": ",".join(USER_PROFILE_FIELDS)},
        )
        body = _object(response)
        return UserProfile(
            psid=_optional_id(body.get("id")) or psid,
            first_name=_optional_str(body.get("first_name")) or "",
            last_name=_optional_str(body.get("last_name")) or "",
            profile_pic=_optional_str(body.get("profile_pic")) or "",
            usage=response.usage,
        )

    # --- Insights ----------------------------------------------------------------------------

    def insights(
        self,
        *,
        object_id: str,
        token: str,
        fields: Sequence[str] = ("actions",),
        date_preset: str = "last_30d",
        version: str | None = None,
    ) -> list[InsightsRow]:
        """Insights rows of an ad, ad set, campaign or ad account (``act_<id>``), all pages."""
        rows: list[InsightsRow] = []
        for response in self._paginate(
            f"{_path_id(object_id, 'object_id')}/insights",
            version=version,
            token=token,
            params={"fields": ",".join(fields), "date_preset": date_preset},
        ):
            rows.extend(_insights_row(item, response) for item in _data_items(response))
        return rows

    def ad_accounts(self, *, user_token: str, version: str | None = None) -> list[AdAccount]:
        """The ad accounts the person can read (``ads_read``), all pages."""
        accounts: list[AdAccount] = []
        for response in self._paginate(
            "me/adaccounts",
            version=version,
            token=user_token,
            params={"fields": "id,account_id,name,currency"},
        ):
            for item in _data_items(response):
                account_id = _required_str(item, "id")
                accounts.append(
                    AdAccount(
                        id=account_id,
                        account_id=_optional_id(item.get("account_id"))
                        or account_id.removeprefix("act_"),
                        name=_optional_str(item.get("name")) or "",
                        currency=_optional_str(item.get("currency")),
                        usage=response.usage,
                    )
                )
        return accounts

    def ad_insights(
        self,
        *,
        ad_account_id: str,
        token: str,
        since: date,
        until: date,
        fields: Sequence[str] = AD_INSIGHTS_FIELDS,
        version: str | None = None,
    ) -> list[AdInsightsRow]:
        """Per-ad, per-day insights of an ad account over ``[since, until]``, all pages.

        ``GET act_<id>/insights?level=ad&time_increment=1&fields=...&time_range={...}``. A
        throttled page raises ``RateLimitedError`` with the rows read so far lost: the caller
        re-reads the whole window later, which is what an incremental reader does anyway.
        """
        if not ad_account_id.startswith("act_"):
            ad_account_id = f"act_{ad_account_id}"
        if since > until:
            raise ValueError(f"since ({since}) is after until ({until})")
        rows: list[AdInsightsRow] = []
        for response in self._paginate(
            f"{_path_id(ad_account_id, 'ad_account_id')}/insights",
            version=version,
            token=token,
            params={
                "level": "ad",
                "time_increment": "1",
                "fields": ",".join(fields),
                "time_range": json.dumps(
                    {"since": since.isoformat(), "until": until.isoformat()},
                    separators=(",", ":"),
                ),
            },
        ):
            rows.extend(_ad_insights_row(item, response) for item in _data_items(response))
        return rows

    # --- HTTP --------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        version: str | None,
        token: str | None = None,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
        form: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
    ) -> _Response:
        """Send one request; return its JSON body or raise the matching ``GraphError``.

        The token and its proof go in the form body when there is one, else in the query
        string, as the reference shows for each call.
        """
        version = version or self.version
        url = f"{self.base_url}/{version}/{path}"
        query = dict(params or {})
        form_fields = dict(form) if form is not None else None
        known_secrets = [self._app_secret, self._app_token, *secrets]
        if token is not None:
            proof = self.appsecret_proof(token)
            known_secrets += [token, proof]
            signed = form_fields if form_fields is not None else query
            signed.update(access_token=token, appsecret_proof=proof)
        log_fields: dict[str, Any] = {"method": method, "path": f"{version}/{path}"}

        started = time.monotonic()
        try:
            http_response = self._session.request(
                method,
                url,
                params=query or None,
                data=form_fields,
                json=json_body,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            error = GraphError.from_request_exception(exc, secrets=known_secrets)
            _log_failure(log_fields, started, error)
            raise error from None

        headers = dict(http_response.headers)
        usage = Usage.from_headers(headers)
        try:
            body: object = http_response.json()
        except ValueError:
            body = None
        status = http_response.status_code
        if status >= 400 or (isinstance(body, dict) and "error" in body):
            error = GraphError.from_response(
                status,
                body if body is not None else http_response.text,
                headers,
                secrets=known_secrets,
            )
            _log_failure(log_fields, started, error)
            raise error
        if body is None:
            error = UnexpectedResponseError(
                f"Graph answered HTTP {status} with a body that is not JSON",
                http_status=status,
                usage=usage,
            )
            _log_failure(log_fields, started, error)
            raise error
        logger.info(
            "graph_api.call",
            extra={
                **log_fields,
                "status": status,
                "duration_ms": _elapsed_ms(started),
                "usage_percent": usage.max_percent,
            },
        )
        return _Response(status=status, body=body, headers=headers, usage=usage)

    def _paginate(
        self, path: str, *, version: str | None, token: str, params: Mapping[str, str]
    ) -> Iterator[_Response]:
        """Each page of a list edge, following ``paging`` cursors while Graph says there is a
        ``next`` page. The ``next`` URL itself is not fetched: it holds the access token and
        names a host; asking our own base URL with the cursor keeps both in our hands."""
        after: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page_params = {**params, "after": after} if after else dict(params)
            response = self._request("GET", path, version=version, token=token, params=page_params)
            yield response
            after = _next_cursor(response.body)
            if after is None or after in seen:
                return
            seen.add(after)
        logger.warning("graph_api.paging.truncated", extra={"path": path, "pages": MAX_PAGES})


# --- Module helpers ------------------------------------------------------------------------


def page_activities_body(
    *,
    page_id: str | int,
    psid: str | int,
    custom_events: Sequence[Mapping[str, Any]],
    logging_target: str = "page",
    advertiser_tracking_enabled: bool = True,
    application_tracking_enabled: bool = True,
) -> dict[str, Any]:
    """The ``page_activities`` JSON body, key for key and type for type as the guide's example:
    ids as integers, tracking flags as 1 or 0, ``logging_source`` ``messenger_bot``."""
    if not custom_events:
        raise ValueError("page_activities needs at least one custom event")
    if logging_target not in LOGGING_TARGETS:
        raise ValueError(f"logging_target is one of {LOGGING_TARGETS}, not {logging_target!r}")
    return {
        "custom_events": [dict(event) for event in custom_events],
        "advertiser_tracking_enabled": int(advertiser_tracking_enabled),
        "application_tracking_enabled": int(application_tracking_enabled),
        "page_id": _int_id(page_id, "page_id"),
        "page_scoped_user_id": _int_id(psid, "psid"),
        "logging_source": "messenger_bot",
        "logging_target": logging_target,
    }


@functools.lru_cache(maxsize=8)
def _client_for(
    *, base_url: str, app_id: str, app_secret: str, version: str, page_activities_version: str
) -> GraphClient:
    return GraphClient(
        base_url=base_url,
        app_id=app_id,
        app_secret=app_secret,
        version=version,
        page_activities_version=page_activities_version,
    )


def _pooled_session(base_url: str) -> requests.Session:
    session = requests.Session()
    # The environment's proxy (HTTPS_PROXY, NO_PROXY) and CA bundle (REQUESTS_CA_BUNDLE) are
    # read once, for the Graph URL, instead of on every request as requests does when it
    # trusts the environment: 5 ms of CPU a call, a sixth of a bot's turn. No .netrc: every
    # Graph call carries its own token.
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    # max_retries=0: urllib3 must not resend on its own. A resent POST can log an event twice;
    # retrying is the caller's decision, made from the error's class.
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=POOL_MAXSIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _batch_version(operations: Sequence[BatchOperation], version: str | None) -> str | None:
    pinned = {operation.version for operation in operations if operation.version is not None}
    if len(pinned) > 1:
        raise ValueError(
            f"Operations pin different Graph versions {sorted(pinned)}: send them apart"
        )
    if version is not None and pinned and pinned != {version}:
        raise ValueError(f"Operations need Graph {pinned.pop()}, the batch asked for {version}")
    return version or (pinned.pop() if pinned else None)


def _operation_secrets(operation: BatchOperation) -> list[str]:
    fields = parse_qsl(urlsplit(operation.relative_url).query) + parse_qsl(operation.body or "")
    return [value for key, value in fields if key in _TOKEN_PARAMS]


def _batch_result(
    entry: object, batch_headers: Mapping[str, str], secrets: Sequence[str]
) -> BatchResult:
    """One entry of a batch answer. An operation's own usage headers win over the batch's."""
    if entry is None:
        error = GraphError.from_response(None, None, batch_headers)
        return BatchResult(status=None, error=error, usage=error.usage)
    if not isinstance(entry, dict) or not isinstance(entry.get("code"), int):
        error = UnexpectedResponseError(
            "A batch entry has no status code", usage=Usage.from_headers(batch_headers)
        )
        return BatchResult(status=None, error=error, usage=error.usage)
    status: int = entry["code"]
    headers = {**batch_headers}
    for header in entry.get("headers") or ():
        if isinstance(header, dict) and isinstance(header.get("name"), str):
            headers[header["name"]] = str(header.get("value", ""))
    raw = entry.get("body")
    try:
        body: object = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        body = raw
    if status >= 400 or (isinstance(body, dict) and "error" in body):
        error = GraphError.from_response(status, body, headers, secrets=secrets)
        return BatchResult(status=status, body=body, error=error, usage=error.usage)
    return BatchResult(status=status, body=body, usage=Usage.from_headers(headers))


def _next_cursor(body: object) -> str | None:
    """The ``after`` cursor of the next page, or None on the last page."""
    if not isinstance(body, dict):
        return None
    paging = body.get("paging")
    if not isinstance(paging, dict) or not isinstance(paging.get("next"), str):
        return None
    cursors = paging.get("cursors")
    if isinstance(cursors, dict) and isinstance(cursors.get("after"), str) and cursors["after"]:
        return str(cursors["after"])
    after = parse_qs(urlsplit(paging["next"]).query).get("after")
    return after[0] if after else None


def _object(response: _Response, key: str | None = None) -> dict[str, Any]:
    body = response.body
    if key is not None and isinstance(body, dict):
        body = body.get(key)
    if not isinstance(body, dict):
        raise _unexpected(response, key or "a JSON object")
    return body


def _data_items(response: _Response) -> list[dict[str, Any]]:
    data = _object(response).get("data")
    if not isinstance(data, list):
        raise _unexpected(response, "data")
    return [item for item in data if isinstance(item, dict)]


def _success(response: _Response) -> bool:
    return _object(response).get("success") is True


def _access_token(response: _Response) -> AccessToken:
    body = _object(response)
    expires_in = body.get("expires_in")
    return AccessToken(
        access_token=_required_str(body, "access_token"),
        token_type=_optional_str(body.get("token_type")),
        expires_in=expires_in
        if isinstance(expires_in, int) and not isinstance(expires_in, bool)
        else None,
        usage=response.usage,
    )


def _token_info(data: Mapping[str, Any], usage: Usage) -> TokenInfo:
    error = data.get("error")
    granular: list[GranularScope] = []
    for item in data.get("granular_scopes") or ():
        if isinstance(item, dict) and isinstance(item.get("scope"), str):
            granular.append(
                GranularScope(scope=item["scope"], target_ids=_str_tuple(item.get("target_ids")))
            )
    return TokenInfo(
        is_valid=data.get("is_valid") is True,
        app_id=_optional_id(data.get("app_id")),
        type=_optional_str(data.get("type")),
        expires_at=_timestamp(data.get("expires_at")),
        data_access_expires_at=_timestamp(data.get("data_access_expires_at")),
        issued_at=_timestamp(data.get("issued_at")),
        scopes=_str_tuple(data.get("scopes")),
        granular_scopes=tuple(granular),
        user_id=_optional_id(data.get("user_id")),
        profile_id=_optional_id(data.get("profile_id")),
        error=TokenDebugError(
            code=error.get("code") if isinstance(error.get("code"), int) else None,
            message=str(error.get("message", "")),
            subcode=error.get("subcode") if isinstance(error.get("subcode"), int) else None,
        )
        if isinstance(error, dict)
        else None,
        usage=usage,
    )


def _insights_row(item: Mapping[str, Any], response: _Response) -> InsightsRow:
    return InsightsRow(
        actions=_actions(item.get("actions"), response),
        date_start=_optional_str(item.get("date_start")),
        date_stop=_optional_str(item.get("date_stop")),
        usage=response.usage,
    )


def _actions(values: object, response: _Response) -> tuple[InsightsAction, ...]:
    actions: list[InsightsAction] = []
    for action in values if isinstance(values, list) else ():
        if not isinstance(action, dict) or not isinstance(action.get("action_type"), str):
            continue
        value = _number(action.get("value"))
        if value is None:
            raise _unexpected(response, "a numeric actions[].value")
        actions.append(InsightsAction(action_type=action["action_type"], value=value))
    return tuple(actions)


def _ad_insights_row(item: Mapping[str, Any], response: _Response) -> AdInsightsRow:
    spend = _number(item.get("spend", "0"))
    if spend is None:
        raise _unexpected(response, "a numeric spend")
    return AdInsightsRow(
        ad_id=_required_str(item, "ad_id"),
        date_start=_required_str(item, "date_start"),
        date_stop=_required_str(item, "date_stop"),
        ad_name=_optional_str(item.get("ad_name")) or "",
        campaign_name=_optional_str(item.get("campaign_name")) or "",
        spend=float(spend),
        actions=_actions(item.get("actions"), response),
        action_values=_actions(item.get("action_values"), response),
        usage=response.usage,
    )


def _number(value: object) -> int | float | None:
    """Insights values are strings ("12", "3.5"); whole numbers become int."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str):
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return None


def _timestamp(value: object) -> datetime | None:
    """A Unix time as an aware UTC datetime; 0 (Facebook's "never") and absence are None."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _required_str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # ids are strings in Graph, but tolerate a number
    if not isinstance(value, str) or not value:
        raise UnexpectedResponseError(f"Graph's answer has no {key!r}")
    return value


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _optional_id(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _optional_str(value)


def _str_tuple(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(item) for item in value if isinstance(item, str | int))


def _path_id(value: str, name: str) -> str:
    """An id that goes into a URL path: letters, digits and underscores only (``act_123``),
    so nothing from a caller can add a path segment or a query string."""
    if not _PATH_ID_RE.fullmatch(value):
        raise ValueError(f"{name} must be a Graph id (letters, digits, _), got {value!r}")
    return value


def _int_id(value: str | int, name: str) -> int:
    """A numeric Graph id as the integer the page_activities guide sends."""
    text = str(value)
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise ValueError(f"{name} must be a numeric id, got {value!r}")
    return int(value)


def _unexpected(response: _Response, what: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        f"Graph's answer has no {what}", http_status=response.status, usage=response.usage
    )


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _log_failure(log_fields: Mapping[str, Any], started: float, error: GraphError) -> None:
    logger.warning(
        "graph_api.call.failed",
        extra={
            **log_fields,
            "status": error.http_status,
            "duration_ms": _elapsed_ms(started),
            "error_class": type(error).__name__,
            "graph_code": error.code,
            "graph_subcode": error.error_subcode,
            "fbtrace_id": error.fbtrace_id,
            "usage_percent": error.usage.max_percent,
        },
    )
