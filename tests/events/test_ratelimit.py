"""events.ratelimit against real Redis (database 5): the bucket, pauses, usage slowdown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import override_settings

from events import ratelimit

pytestmark = pytest.mark.usefixtures("runtime_redis")

PAGE = 4242
T0 = 1_800_000_000_000  # ms


def test_a_new_bucket_grants_its_capacity_then_refills_at_the_rate() -> None:
    # 10 calls/s x 10 s of burst = 100 tokens.
    full = ratelimit.acquire(PAGE, 150, rate=10.0, now_ms=T0)
    empty = ratelimit.acquire(PAGE, 1, rate=10.0, now_ms=T0)
    refilled = ratelimit.acquire(PAGE, 10, rate=10.0, now_ms=T0 + 500)

    assert (full.granted, empty.granted, empty.wait_seconds) == (100, 0, 0.1)
    assert refilled.granted == 5


def test_the_bucket_holds_at_least_one_full_batch() -> None:
    assert ratelimit.capacity_for(0.1) == 50
    assert ratelimit.acquire(PAGE, 50, rate=0.1, now_ms=T0).granted == 50


def test_pages_have_their_own_buckets() -> None:
    ratelimit.acquire(PAGE, 100, rate=10.0, now_ms=T0)

    assert ratelimit.acquire(PAGE + 1, 100, rate=10.0, now_ms=T0).granted == 100


def test_refund_gives_tokens_back() -> None:
    ratelimit.acquire(PAGE, 100, rate=10.0, now_ms=T0)
    ratelimit.refund(PAGE, 7)

    assert ratelimit.acquire(PAGE, 100, rate=10.0, now_ms=T0).granted == 7


def test_a_paused_page_is_granted_nothing_until_the_pause_ends() -> None:
    ratelimit.pause(PAGE, 120, now_ms=T0)
    ratelimit.pause(PAGE, 5, now_ms=T0 + 1000)  # never shortens a longer pause

    grant = ratelimit.acquire(PAGE, 10, rate=10.0, now_ms=T0 + 1000)

    assert grant == ratelimit.Grant(granted=0, wait_seconds=119.0)
    assert ratelimit.paused_for(PAGE, now_ms=T0 + 1000) == 119.0
    assert ratelimit.paused_for(PAGE, now_ms=T0 + 119_999) == 0.001
    assert ratelimit.paused_for(PAGE + 1, now_ms=T0) == 0
    # When it ends, the bucket grants again.
    assert ratelimit.paused_for(PAGE, now_ms=T0 + 120_000) == 0
    assert ratelimit.acquire(PAGE, 10, rate=10.0, now_ms=T0 + 120_000).granted == 10


def test_a_longer_pause_replaces_a_shorter_one() -> None:
    ratelimit.pause(PAGE, 5, now_ms=T0)
    ratelimit.pause(PAGE, 60, now_ms=T0 + 2000)

    assert ratelimit.paused_for(PAGE, now_ms=T0 + 2000) == 60.0


def test_without_a_clock_the_pause_runs_on_redis_time() -> None:
    before = ratelimit.paused_for(PAGE)
    ratelimit.pause(PAGE, 3600)

    assert before == 0
    assert ratelimit.paused_for(PAGE) > 0
    assert ratelimit.acquire(PAGE, 1, rate=10.0).granted == 0


@pytest.mark.parametrize(
    ("percent", "factor"), [(0, 1.0), (89, 1.0), (90, 0.5), (95, 0.25), (99, 0.05), (100, 0.05)]
)
def test_usage_above_90_percent_slows_the_page(percent: int, factor: float) -> None:
    assert ratelimit.observe_usage(PAGE, percent) == pytest.approx(factor)


def test_a_slowed_page_refills_more_slowly_until_usage_drops() -> None:
    ratelimit.acquire(PAGE, 100, rate=10.0, now_ms=T0)
    ratelimit.observe_usage(PAGE, 90)  # half the rate

    slowed = ratelimit.acquire(PAGE, 100, rate=10.0, now_ms=T0 + 1000)
    ratelimit.observe_usage(PAGE, 20)
    normal = ratelimit.acquire(PAGE, 100, rate=10.0, now_ms=T0 + 2000)

    assert (slowed.granted, normal.granted) == (5, 10)


@override_settings(EVENTS_RATE_MIN_CALLS_PER_SECOND=2.0)
def test_the_default_rate_is_facebooks_formula_with_a_floor() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert ratelimit.page_rate(PAGE, override=None, now=now) == 2.0

    ratelimit.record_engaged_users(PAGE, (str(n) for n in range(90)), now=now)

    # 4,800 calls per engaged user per 24 hours: 90 users -> 5 calls/s.
    assert ratelimit.engaged_users(PAGE, now=now) == 90
    assert ratelimit.page_rate(PAGE, override=None, now=now) == pytest.approx(5.0)
    assert ratelimit.page_rate(PAGE, override=0.5, now=now) == 0.5


def test_one_queued_mark_per_page_until_the_task_starts() -> None:
    assert ratelimit.mark_queued(PAGE, seconds=60) is True
    assert ratelimit.mark_queued(PAGE, seconds=60) is False
    ratelimit.clear_queued(PAGE)
    assert ratelimit.mark_queued(PAGE, seconds=60) is True


@pytest.mark.parametrize(("calls", "rate"), [(-1, 1.0), (1, 0.0)])
def test_bad_arguments_are_refused(calls: int, rate: float) -> None:
    with pytest.raises(ValueError):
        ratelimit.acquire(PAGE, calls, rate=rate)
