"""Celery entry points of the events app (queue: delivery, by the route for events.tasks.*).

Thin: they take ids, and events.delivery does the work. Both are idempotent: the outbox rows
and their claims decide what is sent, so a task delivered twice sends nothing twice.
"""

from __future__ import annotations

from celery import shared_task

from events import delivery


@shared_task(name="events.tasks.deliver_page")
def deliver_page(tenant_id: int, page_id: int) -> int:
    """Deliver one Page's due events; returns how many were delivered."""
    return delivery.page_deliver(tenant_id=tenant_id, page_id=page_id).delivered


@shared_task(name="events.tasks.sweep_due")
def sweep_due() -> int:
    """Beat, every EVENTS_SWEEP_SECONDS: take back expired claims, release the blocked events
    of Pages that can deliver again, enqueue every Page with due events. Returns how many
    Pages were enqueued."""
    return delivery.sweep_due().enqueued
