"""Each test run has its own namespace in Redis (tests/redis_db.py): the app's keys and
Celery's queues carry the run's REDIS_KEY_PREFIX, and emptying it leaves other runs' keys."""

from __future__ import annotations

import os

import pytest
import redis
from django.conf import settings

from config.celery import app
from events import ratelimit
from tests.redis_db import empty_namespace, own_keys

pytestmark = pytest.mark.usefixtures("runtime_redis")

PAGE = 4242


@pytest.fixture
def client() -> redis.Redis:
    return ratelimit.redis_client()


def test_the_run_and_its_xdist_worker_name_the_namespace() -> None:
    run = os.environ["PAGEPULSE_TEST_RUN"]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert f"test-{run}-{worker}" == settings.REDIS_KEY_PREFIX
    assert app.conf.broker_transport_options["global_keyprefix"] == f"test-{run}-{worker}:"


def test_the_apps_keys_are_in_the_namespace(client: redis.Redis) -> None:
    ratelimit.acquire(PAGE, 1, rate=1.0)
    ratelimit.pause(PAGE, 5)
    ratelimit.mark_queued(PAGE, seconds=5)
    ratelimit.observe_usage(PAGE, 95)

    prefix = f"{settings.REDIS_KEY_PREFIX}:pagepulse:events:"
    assert sorted(key.decode() for key in own_keys(client)) == [
        f"{prefix}bucket:{PAGE}",
        f"{prefix}pause:{PAGE}",
        f"{prefix}queued:{PAGE}",
        f"{prefix}slow:{PAGE}",
    ]
    assert not client.exists(f"pagepulse:events:pause:{PAGE}")


def test_celerys_queues_are_in_the_namespace(client: redis.Redis) -> None:
    app.send_task("events.tasks.deliver_page", args=(0, 0))

    assert client.llen(f"{settings.REDIS_KEY_PREFIX}:delivery") == 1


def test_emptying_the_namespace_leaves_another_runs_keys(client: redis.Redis) -> None:
    other = f"test-another-run-gw0:pagepulse:events:pause:{PAGE}"
    client.set(other, "1", ex=60)
    ratelimit.pause(PAGE, 5)
    try:
        assert empty_namespace(client) == 1
        assert own_keys(client) == []
        assert client.get(other) == b"1"
    finally:
        client.delete(other)
