"""Signals other apps may listen to; tenants imports nothing above it, so it announces instead
of calling (the events app releases a Page's held events when the Page is active again)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.dispatch import Signal

from tenants.models import ConnectedPage

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

page_active = Signal()
"""Sent with ``page`` once a Page is connected, reconnected or found healthy again, after the
transaction that made it active commits."""


def announce_page_active(page: ConnectedPage) -> None:
    transaction.on_commit(lambda: page_active.send(sender=ConnectedPage, page=page), robust=True)


def forget_page_tokens_at_sign_out(
    sender: object, user: AbstractBaseUser | None, **kwargs: object
) -> None:
    """Connected with `user_logged_out` in TenantsConfig.ready: a login's page tokens do not
    outlive the session that found them."""
    from tenants.services import page_grants_forget_tokens

    if user is not None:
        page_grants_forget_tokens(user=user)  # type: ignore[arg-type]  # our User model
