"""When a person's message opens the 24-hour window: its own timestamp, within reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from messenger.runtime import _moment

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    ("timestamp_ms", "expected"),
    [
        (ms(NOW - timedelta(minutes=3)), NOW - timedelta(minutes=3)),
        # Facebook retried it for a day: the window opened a day ago, so no reply now.
        (ms(NOW - timedelta(hours=25)), NOW - timedelta(hours=25)),
        (ms(NOW + timedelta(minutes=2)), NOW),  # a clock ahead of ours
        (0, NOW),
        # No delivery from Facebook is older than 36 hours: the reference's sample time (2016),
        # or seconds sent for milliseconds, say nothing about when the person wrote.
        (1458692752478, NOW),
        (int(NOW.timestamp()), NOW),
    ],
)
def test_the_moment_a_message_opens_the_window(timestamp_ms: int, expected: datetime) -> None:
    assert _moment(timestamp_ms, NOW) == expected
