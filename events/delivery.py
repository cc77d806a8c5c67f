"""Delivering the outbox: claim due events of a Page, send them through its transport, settle.

The lifecycle (events/README.md "Delivery lifecycle", docs/adr/0003-delivery-state-machine.md):

- ``enqueue_delivery`` is the one way to ask for a Page's delivery: after the current
  transaction commits, a ``deliver_page`` task goes to the ``delivery`` queue (at most one
  queued per Page at a time; the task clears the mark when it starts).
- ``page_deliver`` (the task's body) claims due rows of one Page with ``SELECT ... FOR UPDATE
  SKIP LOCKED`` (a conditional UPDATE on SQLite) under a lease and a claim token, takes tokens
  from the Page's rate limiter, sends, and settles every event of a call in bulk, as
  ``events.policy`` decides.
- ``sweep_due`` (beat, every ``EVENTS_SWEEP_SECONDS``) takes back expired leases, releases the
  blocked events of Pages that are active again, and enqueues every Page with due events, so a
  lost broker message only delays an event.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.db import transaction

from events import ratelimit
from tenants.models import ConnectedPage, PageStatus, Transport
from tenants.services import region_allows_page_activities

logger = logging.getLogger(__name__)

QUEUED_MARK_SECONDS = 60
"""How long "a deliver_page task is queued for this Page" holds without the task starting."""


def enqueue_delivery(*, tenant_id: int, page_id: int, countdown: float = 0) -> None:
    """Ask for the Page's delivery once the current transaction commits (at once outside one).

    The one helper that wraps ``transaction.on_commit``: a rolled-back transaction enqueues
    nothing, and a failure to reach the broker is logged, not raised (the beat sweep finds the
    events anyway). ``countdown`` is capped at ``CELERY_MAX_COUNTDOWN_SECONDS``.
    """
    transaction.on_commit(
        functools.partial(_send, tenant_id=tenant_id, page_id=page_id, countdown=countdown),
        robust=True,
    )


def _send(*, tenant_id: int, page_id: int, countdown: float) -> None:
    from events.tasks import deliver_page  # the task module imports this one

    countdown = min(max(countdown, 0.0), float(settings.CELERY_MAX_COUNTDOWN_SECONDS))
    if countdown <= 0 and not ratelimit.mark_queued(page_id, seconds=QUEUED_MARK_SECONDS):
        return  # a task for this Page is queued and has not started: it will see these rows
    deliver_page.apply_async(args=(tenant_id, page_id), countdown=countdown or None)


def page_block_reason(page: ConnectedPage) -> str:
    """Why the Page's events cannot be sent now ("" when they can): they wait as ``blocked``
    and flow again by themselves once the cause is fixed."""
    if page.status == PageStatus.DISCONNECTED:
        return "The Page is disconnected from Pagepulse. Connect it again and its events are sent."
    if page.status == PageStatus.NEEDS_REAUTH:
        return page.last_error or (
            "Facebook no longer accepts the Page's access token. Continue with Facebook to "
            "renew it; its events are sent then."
        )
    if page.status == PageStatus.MISSING_PERMISSION:
        return page.last_error or (
            "A permission (page_events) or Page task is missing. Continue with Facebook and "
            "allow it; its events are sent then."
        )
    if page.transport == Transport.PAGE_ACTIVITIES and not region_allows_page_activities(
        page.tenant
    ):
        return (
            "The Events API (page_activities) is not available to businesses in Europe or "
            f"Japan, and this workspace is in {page.tenant.country.name}. Switch the Page to "
            "the Conversions API and its events are sent."
        )
    if page.transport == Transport.CONVERSIONS_API and not page.dataset_id:
        return (
            "The Page has no Conversions API dataset yet. Connect it again with Facebook and "
            "its events are sent."
        )
    return ""
