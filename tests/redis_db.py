"""The test run's namespace in Redis.

Every test run, and every pytest-xdist worker of a run, has its own ``REDIS_KEY_PREFIX``
(config/settings_test.py): the app's keys (rate limits, locks) and Celery's broker keys (its
queues) all start with it. Tests share the Redis server REDIS_URL names (a private one under
`make test` when it is unset; see scripts/with_redis.py) and its database, and a test empties
only its own namespace: two runs on one Redis never see or delete each other's keys. Nothing
here may FLUSHDB.
"""

from __future__ import annotations

import redis
from django.conf import settings


def namespace() -> str:
    """The key pattern of this run's namespace (``<prefix>:*``)."""
    prefix = str(settings.REDIS_KEY_PREFIX)
    assert prefix, "the tests need a REDIS_KEY_PREFIX (config/settings_test.py sets one)"
    return f"{prefix}:*"


def own_keys(client: redis.Redis) -> list[bytes]:
    """Every key of this run's namespace."""
    return list(client.scan_iter(match=namespace(), count=1000))


def empty_namespace(client: redis.Redis) -> int:
    """Delete every key of this run's namespace, and nothing else; returns how many."""
    keys = own_keys(client)
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    return len(keys)
