"""The Celery app's configuration: the delivery guarantees in DESIGN.md §7 depend on it."""

from __future__ import annotations

from fnmatch import fnmatch

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


# Each app's tasks go to its own queue (DESIGN.md §7): a task of an app not listed here, or
# one its route sends elsewhere, fails below until its queue is decided and written down.
QUEUE_OF_APP = {
    "events": "delivery",
    "flows": "runtime",
    "insights": "maintenance",
    "messenger": "runtime",
    "tenants": "maintenance",
}


# A task that runs elsewhere than its app's queue, and why.
QUEUE_OF_TASK = {
    "messenger.tasks.transcripts_prune": "maintenance",  # daily housekeeping, not a reply
    "messenger.tasks.deliveries_prune": "maintenance",  # hourly housekeeping
    "messenger.tasks.handoff_notify": "default",  # an email must not wait behind webhooks
}


def queue_of(task_name: str) -> str:
    return QUEUE_OF_TASK.get(task_name) or QUEUE_OF_APP[task_name.split(".")[0]]


def registered_tasks() -> list[str]:
    """Every task the worker would run: the app's own, not Celery's built-in ``celery.*``."""
    app.loader.import_default_modules()  # what a worker imports at start (autodiscovery)
    return sorted(name for name in app.tasks if not name.startswith("celery."))


TASKS = registered_tasks()


def test_the_tasks_are_found_at_all() -> None:
    assert {
        "events.tasks.deliver_page",
        "events.tasks.sweep_due",
        "flows.tasks.process_delivery",
        "flows.tasks.send_conversation",
        "flows.tasks.runtime_sweep",
        "tenants.tasks.check_page_tokens",
        "tenants.tasks.check_page_token",
        "tenants.tasks.forget_page_grant_tokens",
    } <= set(TASKS)


@pytest.mark.parametrize("task_name", TASKS)
def test_every_registered_task_has_a_route_to_its_apps_queue(task_name: str) -> None:
    routes = [pattern for pattern in app.conf.task_routes if fnmatch(task_name, pattern)]
    assert routes, f"{task_name} has no route in CELERY_TASK_ROUTES: it would land in 'default'"
    owner = task_name.split(".")[0]
    assert owner in QUEUE_OF_APP, f"{task_name}: no queue decided for the {owner!r} app's tasks"
    assert app.amqp.router.route({}, task_name)["queue"].name == queue_of(task_name)


def test_the_runtime_tasks_moved_to_messenger_keep_their_names_and_queue() -> None:
    # A task queued as "flows.tasks.*" before messenger/ existed must still find its code after
    # a deploy (docs/adr/0013-messenger-app.md); new messenger tasks go to runtime as well.
    for name in ("process_delivery", "send_conversation", "runtime_sweep"):
        task = app.tasks[f"flows.tasks.{name}"]
        assert task.run.__module__ == "messenger.tasks"
        assert app.amqp.router.route({}, task.name)["queue"].name == "runtime"
    assert app.amqp.router.route({}, "messenger.tasks.anything")["queue"].name == "runtime"


def test_every_scheduled_task_is_registered() -> None:
    # beat sends names: a typo would be a message no worker can run.
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled - set(TASKS) == set()


def test_a_task_name_without_a_route_lands_in_default() -> None:
    assert app.amqp.router.route({}, "config.tasks.anything_else")["queue"].name == "default"


@pytest.mark.parametrize("task_name", TASKS)
def test_a_routed_message_lands_in_its_queue_only(task_name: str) -> None:
    # The queues share one exchange and routing key; this proves that publishing still picks
    # the queue by name, so a worker consuming all four never runs a task four times.
    # kombu's in-memory transport routes like the Redis one (both are virtual transports).
    queue = queue_of(task_name)
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
