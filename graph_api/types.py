"""What the Graph client returns: frozen dataclasses, never raw dicts.

Fields that hold a token are left out of ``repr()``, so printing a result, or an assertion
failure that shows one, never prints a secret. Every result that came from a response
carries that response's ``usage``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from graph_api.errors import GraphError
from graph_api.redaction import redact
from graph_api.usage import Usage


@dataclass(frozen=True)
class AccessToken:
    """A token from ``oauth/access_token`` (a code exchange or a long-lived exchange)."""

    access_token: str = field(repr=False)
    token_type: str | None = None
    expires_in: int | None = None
    """Seconds until it expires; None when Facebook did not say (long-lived Page tokens)."""
    usage: Usage = field(default_factory=Usage, compare=False)


@dataclass(frozen=True)
class GranularScope:
    """One permission and the objects it was granted for (empty: granted for all of them)."""

    scope: str
    target_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenDebugError:
    """Why ``debug_token`` says a token is invalid."""

    code: int | None
    message: str
    subcode: int | None = None


@dataclass(frozen=True)
class TokenInfo:
    """What ``debug_token`` knows about a token (reference §5.5)."""

    is_valid: bool
    app_id: str | None = None
    type: str | None = None
    """"USER", "PAGE", "APP" or "SYSTEM_USER"."""
    expires_at: datetime | None = None
    """None when the token does not expire (Facebook sends 0) or Facebook did not say."""
    data_access_expires_at: datetime | None = None
    issued_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    granular_scopes: tuple[GranularScope, ...] = ()
    user_id: str | None = None
    profile_id: str | None = None
    """The Page's id for a Page token (unconfirmed by Meta's docs)."""
    error: TokenDebugError | None = None
    usage: Usage = field(default_factory=Usage, compare=False)

    def target_ids(self, scope: str) -> tuple[str, ...] | None:
        """The object ids ``scope`` was granted for: () for all of them, None if not granted."""
        for granular in self.granular_scopes:
            if granular.scope == scope:
                return granular.target_ids
        return () if scope in self.scopes else None


@dataclass(frozen=True)
class GraphUser:
    """The person behind a user token (``/me``)."""

    id: str
    name: str | None = None
    email: str | None = None
    usage: Usage = field(default_factory=Usage, compare=False)


@dataclass(frozen=True)
class UserProfile:
    """A Messenger user's public profile (User Profile API, ``GET /{psid}``).

    ``profile_pic`` is a URL that expires (Facebook signs it with a time limit): show it, do not
    keep it for long. It is empty when Facebook sends none.
    """

    psid: str
    first_name: str
    last_name: str
    profile_pic: str = ""
    usage: Usage = field(default_factory=Usage, compare=False)


@dataclass(frozen=True)
class PageAccount:
    """A Page the person can act on (``/me/accounts``), with its Page token and their tasks."""

    id: str
    name: str
    access_token: str = field(repr=False)
    tasks: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage, compare=False)


@dataclass(frozen=True)
class SuccessResult:
    """An edge that answers ``{"success": true}`` (``subscribed_apps``, ``page_activities``)."""

    success: bool
    usage: Usage = field(default_factory=Usage, compare=False)


@dataclass(frozen=True)
class PageActivitiesResult(SuccessResult):
    """The answer of ``POST /{app-id}/page_activities``: ``{"success": true}``."""


@dataclass(frozen=True)
class CapiResult:
    """The answer of the Conversions API (``POST /{dataset-id}/events``)."""

    events_received: int
    messages: tuple[str, ...] = ()
    fbtrace_id: str | None = None
    usage: Usage = field(default_factory=Usage, compare=False)


@dataclass(frozen=True)
class SendResult:
    """The answer of the Send API; ``recipient_id`` is absent for ``user_ref`` recipients."""

    recipient_id: str | None
    message_id: str
    usage: Usage = field(default_factory=Usage, compare=False)


class InsightsAction(NamedTuple):
    """One ``actions`` entry of an insights row; Facebook sends the value as a string."""

    action_type: str
    value: int | float


@dataclass(frozen=True)
class InsightsRow:
    """One row of ``/{object-id}/insights``."""

    actions: tuple[InsightsAction, ...] = ()
    date_start: str | None = None
    date_stop: str | None = None
    usage: Usage = field(default_factory=Usage, compare=False)


@dataclass(frozen=True)
class AdAccount:
    """One entry of ``/me/adaccounts``: ``id`` is ``act_<account_id>``."""

    id: str
    account_id: str
    name: str
    currency: str | None = None
    usage: Usage = field(default_factory=Usage, compare=False)


@dataclass(frozen=True)
class AdInsightsRow:
    """One row of ``/act_<id>/insights?level=ad&time_increment=1``: one ad on one day.

    ``spend`` is in the ad account's currency; ``actions`` and ``action_values`` keep every
    action type Facebook sent, values parsed to numbers.
    """

    ad_id: str
    date_start: str
    date_stop: str
    ad_name: str = ""
    campaign_name: str = ""
    spend: float = 0.0
    actions: tuple[InsightsAction, ...] = ()
    action_values: tuple[InsightsAction, ...] = ()
    usage: Usage = field(default_factory=Usage, compare=False)

    def action(self, action_type: str) -> int | float:
        """The value of one action type in ``actions``; 0 when Facebook sent none."""
        return sum(a.value for a in self.actions if a.action_type == action_type)

    def action_value(self, action_type: str) -> int | float:
        """The value of one action type in ``action_values``; 0 when Facebook sent none."""
        return sum(a.value for a in self.action_values if a.action_type == action_type)


@dataclass(frozen=True, repr=False)
class BatchOperation:
    """One operation of a Graph batch request, with its own token and ``appsecret_proof``.

    Build these with ``GraphClient.batch_operation`` or ``GraphClient.page_activities_operation``,
    which sign them; ``as_dict()`` is the JSON Facebook expects in the ``batch`` field.
    """

    method: str
    relative_url: str
    body: str | None = None
    name: str | None = None
    version: str | None = None
    """The Graph version this operation needs (page_activities: v20.0), or None for any."""

    def __repr__(self) -> str:
        # A GET's relative_url and a POST's body carry the operation's token and proof.
        return (
            f"BatchOperation(method={self.method!r}, relative_url={redact(self.relative_url)!r}, "
            f"body={None if self.body is None else redact(self.body)!r}, name={self.name!r}, "
            f"version={self.version!r})"
        )

    def as_dict(self) -> dict[str, str]:
        """The operation as it goes into the ``batch`` JSON array."""
        operation = {"method": self.method, "relative_url": self.relative_url}
        if self.body is not None:
            operation["body"] = self.body
        if self.name is not None:
            operation["name"] = self.name
        return operation


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one batch operation, in the order the operations were sent.

    ``status`` is None when Facebook answered ``null`` (the operation timed out inside the
    batch); ``error`` is then a ``TransientError``, and the operation can be sent again.
    """

    status: int | None
    body: object = None
    error: GraphError | None = None
    usage: Usage = field(default_factory=Usage, compare=False)

    @property
    def ok(self) -> bool:
        """True when the operation succeeded."""
        return self.error is None
