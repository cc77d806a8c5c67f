"""People's names and pictures (User Profile API), cached, for the inbox and the runtime.

``people_profile(page, psid)`` answers from Django's cache (Redis) for
PEOPLE_PROFILE_CACHE_SECONDS (a day by default) and asks Facebook through ``graph_api`` on a
miss. It never raises: a person without a name is shown by PSID, so every failure is logged
(without the token) and answered with ``None``. Failures that would fail again are remembered
briefly, so a screen listing fifty people does not make fifty doomed calls:

- a Page whose token is dead or lacks ``pages_messaging`` (190, 10, 200-299): for
  PAGE_REFUSED_SECONDS, for every PSID of that Page (the Pages screen says what to fix);
- a PSID Facebook does not know for the Page (100): for UNKNOWN_PSID_SECONDS;
- throttling and outages: for TRANSIENT_SECONDS, or the ``retry_after`` Facebook gave.

It depends only on ``tenants`` and ``graph_api``, so it can move to ``messenger/`` with the inbox.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache

from graph_api.client import GraphClient
from graph_api.errors import (
    GraphError,
    InvalidRequestError,
    PermissionMissingError,
    RateLimitedError,
    TokenInvalidError,
)
from graph_api.types import UserProfile
from tenants.crypto import TokenDecryptError, decrypt_token
from tenants.models import ConnectedPage, PageStatus

logger = logging.getLogger(__name__)

PAGE_REFUSED_SECONDS = 10 * 60
"""How long a Page whose token Facebook refused is not asked again (a reconnect clears it)."""
UNKNOWN_PSID_SECONDS = 60 * 60
"""How long a PSID Facebook does not know for the Page is not asked again."""
TRANSIENT_SECONDS = 60
"""How long after an outage or a timeout a profile is not asked again."""

_MISSING = "missing"


def profile_key(page_id: str, psid: str) -> str:
    return f"people:profile:{page_id}:{psid}"


def refused_key(page_id: str) -> str:
    return f"people:profile-refused:{page_id}"


def people_profile(
    page: ConnectedPage, psid: str, *, graph: GraphClient | None = None
) -> UserProfile | None:
    """The person's profile on ``page``, or ``None`` when it cannot be had now (never raises)."""
    key = profile_key(page.page_id, psid)
    try:
        cached = cache.get(key)
        refused = cache.get(refused_key(page.page_id))
    except redis.RedisError:  # Redis down: go without the cache rather than without names
        logger.warning("people.profile_cache_unavailable", exc_info=True)
        cached = refused = None
    if cached == _MISSING or refused is not None:
        return None
    if isinstance(cached, dict):
        return UserProfile(**cached)
    if page.status == PageStatus.DISCONNECTED or not page.token_encrypted:
        return None
    try:
        token = decrypt_token(page.token_encrypted)
    except TokenDecryptError:
        logger.warning("people.profile_failed", extra=_fields(page, psid, "token_undecryptable"))
        return None
    try:
        profile = (graph or GraphClient.from_settings()).user_profile(psid=psid, token=token)
    except (TokenInvalidError, PermissionMissingError) as error:
        _remember(refused_key(page.page_id), PAGE_REFUSED_SECONDS, _describe(error))
        _log_failure(page, psid, error)
        return None
    except InvalidRequestError as error:
        _remember(key, UNKNOWN_PSID_SECONDS, _MISSING)
        _log_failure(page, psid, error)
        return None
    except GraphError as error:
        seconds = error.retry_after if isinstance(error, RateLimitedError) else TRANSIENT_SECONDS
        _remember(key, seconds, _MISSING)
        _log_failure(page, psid, error)
        return None
    values = asdict(profile)
    values.pop("usage", None)
    _remember(key, int(settings.PEOPLE_PROFILE_CACHE_SECONDS), values)
    return profile


def _remember(key: str, seconds: int, value: Any) -> None:
    try:
        cache.set(key, value, timeout=seconds)
    except redis.RedisError:
        logger.warning("people.profile_cache_unavailable", exc_info=True)


def _describe(error: GraphError) -> str:
    return f"{type(error).__name__} {error.code}/{error.error_subcode}"


def _log_failure(page: ConnectedPage, psid: str, error: GraphError) -> None:
    # GraphError's text has every secret it was given removed (graph_api/redaction.py).
    logger.warning(
        "people.profile_failed",
        extra={
            **_fields(page, psid, type(error).__name__),
            "code": error.code,
            "error": str(error),
        },
    )


def _fields(page: ConnectedPage, psid: str, reason: str) -> dict[str, Any]:
    return {"page_id": page.page_id, "psid": psid, "reason": reason}
