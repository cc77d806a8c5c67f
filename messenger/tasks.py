"""Celery entry points of the runtime (queue: runtime, by the route for flows.tasks.*).

They keep the names they had in flows/ (``flows.tasks.*``), so a task queued before the move
still runs after it (docs/adr/0013-messenger-app.md).

Thin: they take ids and call messenger.runtime or messenger.sending, which are idempotent (processed
mids are skipped, sent messages are never sent again), so a task delivered twice does no harm.
"""

from __future__ import annotations

from celery import shared_task

from messenger import inbox, intake, runtime, sending, transcripts


@shared_task(name="flows.tasks.drain_deliveries")
def drain_deliveries() -> int:
    """Process a batch of new webhook deliveries (messenger/intake.py); returns how many."""
    return intake.deliveries_drain()


@shared_task(name="flows.tasks.process_delivery")
def process_delivery(delivery_id: int) -> int:
    """Route one stored webhook delivery; returns how many turns ran."""
    return runtime.delivery_process(delivery_id=delivery_id).ran


@shared_task(name="flows.tasks.send_conversation")
def send_conversation(conversation_id: int) -> int:
    """Send a conversation's pending messages in order; returns how many were sent."""
    report = sending.conversation_send(conversation_id=conversation_id)
    if report.retry_in > 0:
        runtime.enqueue("send_conversation", conversation_id, countdown=report.retry_in)
    return report.sent


@shared_task(name="flows.tasks.runtime_sweep")
def runtime_sweep() -> int:
    """Beat: re-enqueue deliveries and pending messages a lost task left; returns how many."""
    return runtime.runtime_sweep()


@shared_task(name="messenger.tasks.transcripts_prune")
def transcripts_prune() -> int:
    """Beat, daily (queue maintenance): delete messages older than each workspace keeps them."""
    return transcripts.transcripts_prune()


@shared_task(name="messenger.tasks.deliveries_prune")
def deliveries_prune() -> int:
    """Beat, hourly (queue maintenance): delete processed webhook deliveries past their
    retention and message keys past Facebook's retry window; returns the deliveries deleted."""
    deliveries, _keys = intake.deliveries_prune()
    return deliveries


@shared_task(name="messenger.tasks.handoff_notify")
def handoff_notify(conversation_id: int) -> int:
    """Email the admins who asked for it that a conversation needs a person (queue default)."""
    return inbox.handoff_notify(conversation_id=conversation_id)
