"""The one place that decides what happens to an event after a Graph call.

Pure: no database, no Redis, no clock, no randomness of its own. Delivery passes in the error
(or None for success), the event's history, the time and a jitter draw, and gets back a
`Decision` it applies in bulk. Errors are classified by class only (graph_api.errors has the
one code table):

============================  ===========  ================================================
Graph answer                  event        page
============================  ===========  ================================================
success                       delivered
TransientError                retrying     back-off: full jitter, doubling to a cap, for the
                              then dead    retry window (24 h) from the first failure
RateLimitedError              retrying     paused for ``retry_after``; no attempt consumed
TokenInvalidError             blocked      needs_reauth (tenants.services)
PermissionMissingError        blocked      missing_permission (tenants.services)
InvalidRequestError           failed       (a call of several events is split first)
============================  ===========  ================================================

docs/adr/0003-delivery-state-machine.md explains the choices.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from events.models import AttemptOutcome, EventStatus
from graph_api.errors import (
    GraphError,
    InvalidRequestError,
    PermissionMissingError,
    RateLimitedError,
    TokenInvalidError,
)

MAX_EVENT_AGE = timedelta(days=7)
"""The Conversions API refuses a whole request holding an event older than this (reference §3.3)."""
EVENT_AGE_MARGIN = timedelta(minutes=5)
"""Events this close to the limit are not sent either: Facebook checks after the request's
transit and our clocks may differ a little, and one refused event fails its whole call."""


class PageAction(enum.StrEnum):
    """What happens to the Page after an outcome."""

    NONE = "none"
    PAUSE = "pause"
    TOKEN_INVALID = "token_invalid"  # noqa: S105 (a state, not a secret)
    PERMISSION_MISSING = "permission_missing"


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential back-off with full jitter inside a retry window."""

    base_seconds: float
    cap_seconds: float
    window_seconds: float

    @classmethod
    def from_settings(cls) -> RetrySchedule:
        return cls(
            base_seconds=settings.EVENTS_RETRY_BASE_SECONDS,
            cap_seconds=settings.EVENTS_RETRY_CAP_SECONDS,
            window_seconds=settings.EVENTS_RETRY_WINDOW_SECONDS,
        )

    def ceiling(self, attempt: int) -> float:
        """The longest wait after the ``attempt``-th try (1-based): base x 2^(n-1), capped."""
        exponent = min(max(attempt - 1, 0), 32)  # 2**32 x base is past any cap
        return float(min(self.cap_seconds, self.base_seconds * 2**exponent))

    def delay(self, attempt: int, jitter: float) -> timedelta:
        """Full jitter: uniformly between 0 and the ceiling (``jitter`` is a draw in [0, 1))."""
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"jitter is a draw in [0, 1], got {jitter}")
        return timedelta(seconds=jitter * self.ceiling(attempt))


@dataclass(frozen=True)
class Decision:
    """Where an event goes after a call, and what happens to its Page."""

    outcome: AttemptOutcome
    status: EventStatus
    reason: str = ""
    next_attempt_at: datetime | None = None
    first_failed_at: datetime | None = None
    consumes_attempt: bool = True
    page_action: PageAction = PageAction.NONE
    pause_seconds: int = 0


def outcome_of(error: GraphError | None) -> AttemptOutcome:
    """The attempt's recorded outcome for a Graph answer."""
    if error is None:
        return AttemptOutcome.DELIVERED
    if isinstance(error, RateLimitedError):
        return AttemptOutcome.RATE_LIMITED
    if isinstance(error, TokenInvalidError):
        return AttemptOutcome.TOKEN_INVALID
    if isinstance(error, PermissionMissingError):
        return AttemptOutcome.PERMISSION_MISSING
    if isinstance(error, InvalidRequestError):
        return AttemptOutcome.INVALID
    # TransientError and anything unforeseen: trying again later is the safe side.
    return AttemptOutcome.TRANSIENT


def should_split(error: GraphError | None, event_count: int) -> bool:
    """A call of several events that Facebook refused as invalid is split in two and each half
    sent again, so only the bad event fails (one invalid event rejects a whole CAPI call)."""
    return isinstance(error, InvalidRequestError) and event_count > 1


def decide(
    error: GraphError | None,
    *,
    attempts: int,
    first_failed_at: datetime | None,
    now: datetime,
    jitter: float,
    schedule: RetrySchedule,
) -> Decision:
    """The decision for one event that rode a call which ended with ``error`` (None: success).

    ``attempts`` counts the event's tries before this one; ``first_failed_at`` is when its
    current run of temporary failures began (None if it has none). Events of one call share
    one ``jitter`` draw, so those with the same history get the same decision and settle in
    one UPDATE.
    """
    outcome = outcome_of(error)
    if error is None:
        return Decision(outcome=outcome, status=EventStatus.DELIVERED)
    if isinstance(error, RateLimitedError):
        # Throttling says nothing about the event: wait as long as Facebook asks, try again,
        # and do not count it toward giving up.
        return Decision(
            outcome=outcome,
            status=EventStatus.RETRYING,
            reason=f"Facebook throttled the Page; trying again in {error.retry_after} s: {error}",
            next_attempt_at=now + timedelta(seconds=error.retry_after),
            first_failed_at=first_failed_at,
            consumes_attempt=False,
            page_action=PageAction.PAUSE,
            pause_seconds=error.retry_after,
        )
    if isinstance(error, TokenInvalidError):
        return Decision(
            outcome=outcome,
            status=EventStatus.BLOCKED,
            reason=(
                f"Facebook rejected the Page's access token ({error}). Reconnect the Page with "
                "Facebook; its events are sent then."
            ),
            page_action=PageAction.TOKEN_INVALID,
        )
    if isinstance(error, PermissionMissingError):
        return Decision(
            outcome=outcome,
            status=EventStatus.BLOCKED,
            reason=(
                f"A permission or Page task is missing ({error}). Reconnect the Page with "
                "Facebook and allow page_events; its events are sent then."
            ),
            page_action=PageAction.PERMISSION_MISSING,
        )
    if isinstance(error, InvalidRequestError):
        return Decision(outcome=outcome, status=EventStatus.FAILED, reason=invalid_reason(error))
    return _transient(
        error,
        attempts=attempts,
        first_failed_at=first_failed_at,
        now=now,
        jitter=jitter,
        schedule=schedule,
    )


def _transient(
    error: GraphError,
    *,
    attempts: int,
    first_failed_at: datetime | None,
    now: datetime,
    jitter: float,
    schedule: RetrySchedule,
) -> Decision:
    attempt = attempts + 1
    window_start = first_failed_at or now
    deadline = window_start + timedelta(seconds=schedule.window_seconds)
    if now >= deadline:
        hours = schedule.window_seconds / 3600
        return Decision(
            outcome=AttemptOutcome.TRANSIENT,
            status=EventStatus.DEAD,
            reason=f"Gave up after {attempt} attempts over {hours:g} hours; the last: {error}",
            first_failed_at=window_start,
        )
    # The last try of the window happens at its end, so an event is never dead early.
    next_attempt_at = min(now + schedule.delay(attempt, jitter), deadline)
    return Decision(
        outcome=AttemptOutcome.TRANSIENT,
        status=EventStatus.RETRYING,
        reason=f"Temporary failure, attempt {attempt}: {error}",
        next_attempt_at=next_attempt_at,
        first_failed_at=window_start,
    )


def invalid_reason(error: GraphError) -> str:
    """Facebook's refusal as a person reads it: its message, its explanation for users when
    it gave one (the Conversions API says which event and why), and the fbtrace_id."""
    parts = [f"Facebook refused the event: {error}"]
    if error.error_user_title or error.error_user_msg:
        parts.append(
            ": ".join(part for part in (error.error_user_title, error.error_user_msg) if part)
        )
    return " — ".join(parts)


def too_old(event_time: datetime, *, now: datetime) -> bool:
    """Whether the Conversions API would refuse an event this old (and with it, its call)."""
    return event_time < now - MAX_EVENT_AGE + EVENT_AGE_MARGIN


TOO_OLD_REASON = (
    "The event happened more than 7 days ago; the Conversions API refuses such events "
    "(and every other event of the same call), so it was not sent."
)
