"""Signals other apps may listen to; tenants imports nothing above it, so it announces instead
of calling (the events app releases a Page's held events when the Page is active again)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from tenants.models import ConnectedPage

page_active = Signal()
"""Sent with ``page`` once a Page is connected, reconnected or found healthy again, after the
transaction that made it active commits."""


def announce_page_active(page: ConnectedPage) -> None:
    transaction.on_commit(lambda: page_active.send(sender=ConnectedPage, page=page), robust=True)
