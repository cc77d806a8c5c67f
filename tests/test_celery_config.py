"""The Celery app's configuration: the delivery guarantees in DESIGN.md §7 depend on it."""

from __future__ import annotations

import pytest
from django.conf import settings
from kombu import Connection

from config.celery import app

QUEUES = {"default", "delivery", "runtime", "maintenance"}


def test_messages_are_json_only() -> None:
    # pickle would let anyone who can write to Redis run code in the worker.
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert list(app.conf.accept_content) == ["json"]


def test_results_are_ignored() -> None:
    # Outcomes live in the database (the outbox); nothing reads task results.
    assert app.conf.task_ignore_result is True


def test_declares_the_four_queues_with_default_as_default() -> None:
    assert {queue.name for queue in app.conf.task_queues} == QUEUES
    assert app.conf.task_default_queue == "default"


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("events.tasks.deliver_due_events", "delivery"),
        ("flows.tasks.process_webhook_event", "runtime"),
        ("tenants.tasks.rotate_token_keys", "maintenance"),
        ("config.tasks.anything_else", "default"),
    ],
)
def test_routes_each_app_to_its_queue(task_name: str, queue: str) -> None:
    assert app.amqp.router.route({}, task_name)["queue"].name == queue


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("events.tasks.deliver_due_events", "delivery"),
        ("flows.tasks.process_webhook_event", "runtime"),
        ("tenants.tasks.rotate_token_keys", "maintenance"),
    ],
)
def test_a_routed_message_lands_in_its_queue_only(task_name: str, queue: str) -> None:
    # The queues share one exchange and routing key; this proves that publishing still picks
    # the queue by name, so a worker consuming all four never runs a task four times.
    # kombu's in-memory transport routes like the Redis one (both are virtual transports).
    with Connection("memory://") as connection:
        channel = connection.default_channel
        for declared in app.conf.task_queues:
            declared(channel).declare()
            # kombu's virtual Channel has these; the stubs' StdChannel does not.
            channel.queue_purge(declared.name)  # type: ignore[attr-defined]

        app.send_task(task_name, connection=connection)

        counts = {
            name: channel.queue_declare(name, passive=True).message_count  # type: ignore[attr-defined]
            for name in QUEUES
        }
    assert counts == {name: int(name == queue) for name in QUEUES}


def test_a_task_survives_a_worker_that_dies() -> None:
    # Ack after the work and requeue when the worker process is lost: tasks are idempotent.
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_redis_does_not_redeliver_before_a_task_could_have_finished() -> None:
    # Redis hands an unacknowledged message to another worker after the visibility timeout. It
    # must outlast both the longest countdown we schedule and the longest a task may run.
    visibility_timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility_timeout > settings.CELERY_MAX_COUNTDOWN_SECONDS
    assert visibility_timeout > app.conf.task_time_limit
