"""Steps appended to social-auth's pipeline after a Facebook Login (settings.SOCIAL_AUTH_PIPELINE).

The pipeline never connects Pages by itself: it records what the login found (the Pages, their
tokens, the granted scopes) for the page picker, renews Pages that needed re-authorization,
and makes sure the person has a workspace to land in.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from social_core.exceptions import AuthProviderError

from graph_api.client import GraphClient
from graph_api.errors import GraphError
from tenants import services
from tenants.models import Membership

logger = logging.getLogger(__name__)

SESSION_MISSING_SCOPES = "facebook_missing_scopes"
SESSION_RENEWED_PAGES = "facebook_renewed_pages"
SESSION_WORKSPACE = "current_workspace"


def ensure_workspace(strategy: Any, user: User, details: dict[str, Any], **kwargs: Any) -> None:
    """A person's first login creates a workspace named after them, which they own."""
    membership = Membership.objects.filter(user=user).select_related("tenant").first()
    if membership is None:
        name = details.get("fullname") or user.get_full_name() or user.get_username()
        tenant = services.tenant_create(
            name=f"{name}'s workspace", country="US", owner=user, actor=services.Actor(user=user)
        )
        strategy.session_set(SESSION_WORKSPACE, tenant.slug)
    elif not strategy.session_get(SESSION_WORKSPACE):
        strategy.session_set(SESSION_WORKSPACE, membership.tenant.slug)


def discover_pages(
    backend: Any, strategy: Any, user: User, response: dict[str, Any], **kwargs: Any
) -> None:
    """Long-lived token, granted scopes and every Page with its tasks, kept for the picker."""
    graph = GraphClient.from_settings()
    try:
        long_lived = graph.exchange_long_lived(user_token=response["access_token"])
        info = graph.debug_token(input_token=long_lived.access_token)
        accounts = graph.my_accounts(user_token=long_lived.access_token)
    except GraphError as error:
        logger.warning("tenants.login.graph_failed", extra={"error_class": type(error).__name__})
        raise AuthProviderError(
            backend, "Facebook did not answer while listing your Pages; please try again."
        ) from None
    services.page_grants_replace(user=user, accounts=accounts, token_info=info)
    missing = [scope for scope in services.FACEBOOK_SCOPES if scope not in info.scopes]
    strategy.session_set(SESSION_MISSING_SCOPES, missing)
    strategy.session_set(SESSION_RENEWED_PAGES, services.pages_reconnect_after_login(user=user))
    logger.info(
        "tenants.login.pages_found",
        extra={"user_id": user.pk, "pages": len(accounts), "missing_scopes": missing},
    )


def forget_user_token(social: Any, **kwargs: Any) -> None:
    """social-auth keeps the user token in extra_data in the clear; we need none of it later."""
    if social.extra_data.pop("access_token", None) is not None:
        social.save(update_fields=["extra_data"])
