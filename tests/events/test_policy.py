"""events.policy: one decision per Graph error class; back-off with full jitter in a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events import policy
from events.models import AttemptOutcome, EventStatus
from events.policy import PageAction
from graph_api.errors import (
    GraphError,
    GraphTimeout,
    InvalidRequestError,
    PermissionMissingError,
    RateLimitedError,
    TokenInvalidError,
    TransientError,
    UnexpectedResponseError,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SCHEDULE = policy.RetrySchedule(base_seconds=30, cap_seconds=3600, window_seconds=86400)


def decide(
    error: GraphError | None,
    *,
    attempts: int = 0,
    first_failed_at: datetime | None = None,
    jitter: float = 0.5,
) -> policy.Decision:
    return policy.decide(
        error,
        attempts=attempts,
        first_failed_at=first_failed_at,
        now=NOW,
        jitter=jitter,
        schedule=SCHEDULE,
    )


@pytest.mark.parametrize(
    ("error", "outcome", "status", "consumes", "page_action"),
    [
        (None, AttemptOutcome.DELIVERED, EventStatus.DELIVERED, True, policy.PageAction.NONE),
        (
            TransientError("down", code=2),
            AttemptOutcome.TRANSIENT,
            EventStatus.RETRYING,
            True,
            policy.PageAction.NONE,
        ),
        (
            GraphTimeout("slow"),
            AttemptOutcome.TRANSIENT,
            EventStatus.RETRYING,
            True,
            policy.PageAction.NONE,
        ),
        (
            UnexpectedResponseError("html"),
            AttemptOutcome.TRANSIENT,
            EventStatus.RETRYING,
            True,
            policy.PageAction.NONE,
        ),
        (
            RateLimitedError("slow down", code=80001, retry_after=120),
            AttemptOutcome.RATE_LIMITED,
            EventStatus.RETRYING,
            False,
            policy.PageAction.PAUSE,
        ),
        (
            TokenInvalidError("expired", code=190, error_subcode=463),
            AttemptOutcome.TOKEN_INVALID,
            EventStatus.BLOCKED,
            True,
            policy.PageAction.TOKEN_INVALID,
        ),
        (
            PermissionMissingError("no page_events", code=200),
            AttemptOutcome.PERMISSION_MISSING,
            EventStatus.BLOCKED,
            True,
            policy.PageAction.PERMISSION_MISSING,
        ),
        (
            InvalidRequestError("Invalid parameter", code=100),
            AttemptOutcome.INVALID,
            EventStatus.FAILED,
            True,
            policy.PageAction.NONE,
        ),
        (
            GraphError("something new"),
            AttemptOutcome.TRANSIENT,
            EventStatus.RETRYING,
            True,
            policy.PageAction.NONE,
        ),
    ],
)
def test_each_error_class_has_one_decision(
    error: GraphError | None,
    outcome: AttemptOutcome,
    status: EventStatus,
    consumes: bool,
    page_action: PageAction,
) -> None:
    decision = decide(error)

    assert (decision.outcome, decision.status, decision.consumes_attempt, decision.page_action) == (
        outcome,
        status,
        consumes,
        page_action,
    )


def test_throttling_waits_as_long_as_facebook_asks() -> None:
    decision = decide(RateLimitedError("slow down", code=4, retry_after=600), attempts=3)

    assert decision.next_attempt_at == NOW + timedelta(seconds=600)
    assert decision.pause_seconds == 600


def test_an_invalid_event_keeps_facebooks_explanation() -> None:
    error = InvalidRequestError(
        "Invalid parameter",
        code=100,
        fbtrace_id="AbC",
        error_user_title="Invalid Currency Code",
        error_user_msg="custom_data.currency must be an ISO 4217 code.",
    )

    assert decide(error).reason == (
        "Facebook refused the event: (#100) Invalid parameter [fbtrace_id=AbC] — "
        "Invalid Currency Code: custom_data.currency must be an ISO 4217 code."
    )


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (40, 3600)]
)
def test_the_ceiling_doubles_to_the_cap(attempt: int, ceiling: int) -> None:
    assert SCHEDULE.ceiling(attempt) == ceiling


@pytest.mark.parametrize(("jitter", "seconds"), [(0.0, 0), (0.25, 30), (1.0, 120)])
def test_full_jitter_spreads_the_wait_between_zero_and_the_ceiling(
    jitter: float, seconds: int
) -> None:
    decision = decide(TransientError("down"), attempts=2, jitter=jitter)

    assert decision.next_attempt_at == NOW + timedelta(seconds=seconds)
    assert decision.first_failed_at == NOW


def test_an_event_is_dead_only_after_the_window() -> None:
    started = NOW - timedelta(hours=23, minutes=59, seconds=30)
    inside = decide(TransientError("down"), attempts=20, first_failed_at=started, jitter=1.0)
    after = decide(TransientError("down"), attempts=21, first_failed_at=NOW - timedelta(hours=24))

    # The last try of the window is at its end, never past it, and never dead early.
    assert inside.status == EventStatus.RETRYING
    assert inside.next_attempt_at == started + timedelta(hours=24)
    assert after.status == EventStatus.DEAD
    assert after.reason == "Gave up after 22 attempts over 24 hours; the last: down"


def test_jitter_must_be_a_draw() -> None:
    with pytest.raises(ValueError, match="jitter"):
        SCHEDULE.delay(1, 1.5)


@pytest.mark.parametrize(
    ("error", "count", "split"),
    [
        (InvalidRequestError("bad"), 2, True),
        (InvalidRequestError("bad"), 1, False),
        (TransientError("down"), 5, False),
        (None, 5, False),
    ],
)
def test_only_a_refused_call_of_several_events_is_split(
    error: GraphError | None, count: int, split: bool
) -> None:
    assert policy.should_split(error, count) is split


@pytest.mark.parametrize(
    ("age", "old"),
    [
        (timedelta(days=6, hours=23), False),
        (timedelta(days=6, hours=23, minutes=56), True),
        (timedelta(days=8), True),
    ],
)
def test_too_old_keeps_a_margin_before_seven_days(age: timedelta, old: bool) -> None:
    assert policy.too_old(NOW - age, now=NOW) is old
