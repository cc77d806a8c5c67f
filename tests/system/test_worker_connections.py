"""A Celery worker keeps its PostgreSQL connection from task to task (CONN_MAX_AGE).

Celery's Django fixup closes the connection before and after every task unless
CELERY_DB_REUSE_MAX is set (config/settings.py): a backend forked and authenticated per task.
A real worker runs twenty tasks here; the database counts the sessions it opened.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from events.tasks import sweep_due
from tests.system.harness import Cluster, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = 20


def sessions() -> int:
    """Sessions PostgreSQL has opened to the test database (its statistics, flushed)."""
    time.sleep(1.5)  # backends report their statistics at most once a second
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def test_a_worker_reuses_its_database_connection_across_tasks(cluster: Cluster) -> None:
    cluster.configure(CONN_MAX_AGE="60")
    worker = cluster.worker("reuse", concurrency=1)
    before = sessions()

    for _ in range(TASKS):
        sweep_due.apply_async()

    def done() -> int:
        lines = worker.output_since_start().splitlines()
        return sum("events.tasks.sweep_due[" in line and " succeeded in " in line for line in lines)

    wait_for(lambda: done() >= TASKS, timeout=60, what=f"{TASKS} tasks", on_timeout=worker.log_tail)
    opened = sessions() - before
    assert opened <= 2, f"the worker opened {opened} database sessions for {TASKS} tasks"
