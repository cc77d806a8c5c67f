"""TEST_TIME_SCALE: one setting that stretches every deadline of the suite.

Tests never pass or fail on how fast something ran: they wait (polling) until the outcome
they assert on is there, and give up only after a deadline that is generous on an idle
machine. On a slow or busy one (CI runners sharing cores, another job running), set
``TEST_TIME_SCALE`` (default 1; 3 gives every deadline three times as long):

    TEST_TIME_SCALE=3 make test

It scales the waits of tests/system (workers ready, events delivered, conversations
finished), the Graph sandbox's start-up, the subprocess tests (tests/test_access_logs.py,
tests/test_sqlite_concurrency.py) and pytest-timeout's limit per test (tests/conftest.py).
A passing test takes as long as the work does, whatever the scale.
"""

from __future__ import annotations

import os


def _scale() -> float:
    raw = os.environ.get("TEST_TIME_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"TEST_TIME_SCALE must be a number above 0 (like 1 or 2.5), not {raw!r}")
    return value


TIME_SCALE = _scale()


def deadline(seconds: float) -> float:
    """``seconds`` of waiting at most, scaled by TEST_TIME_SCALE."""
    return seconds * TIME_SCALE
