"""events.charts: y-axis tops, stacked and simple bar geometry, the by-name rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.charts import (
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    WIDTH,
    name_rows,
    nice_ceiling,
    simple_bars,
    stacked_bars,
)
from events.stats import Bucket, NameCount

START = datetime(2026, 11, 25, tzinfo=UTC)
BASELINE = HEIGHT - 26


@pytest.mark.parametrize(
    ("value", "top"),
    [
        (0, 4),
        (1, 4),
        (4, 4),
        (5, 8),
        (7, 8),
        (9, 20),
        (13, 20),
        (21, 40),
        (99, 100),
        (120, 200),
        (1001, 2000),
    ],
)
def test_nice_ceiling_gives_whole_gridlines(value: int, top: int) -> None:
    assert nice_ceiling(value) == top
    assert top % 4 == 0


def _buckets(*counts: dict[str, int]) -> list[Bucket]:
    return [Bucket(start=START + timedelta(days=i), counts=c) for i, c in enumerate(counts)]


def test_stacked_bars_stack_statuses_from_the_baseline_in_order() -> None:
    chart = stacked_bars(_buckets({"failed": 1, "delivered": 3}, {}, {"dead": 6}), "day")

    assert chart.total == 10
    assert [g.text for g in chart.gridlines] == ["0", "2", "4", "6", "8"]
    slot = (WIDTH - LEFT - RIGHT) / 3
    unit = (BASELINE - TOP) / 8
    delivered, failed, dead = chart.bars
    assert (delivered.css_class, failed.css_class, dead.css_class) == (
        "st-delivered",
        "st-failed",
        "st-dead",
    )
    assert delivered.y + delivered.height == pytest.approx(BASELINE, abs=0.1)
    assert delivered.height == pytest.approx(3 * unit, abs=0.1)
    assert failed.y + failed.height == pytest.approx(delivered.y, abs=0.1)  # on top of it
    assert dead.x == pytest.approx(LEFT + 2 * slot + 3, abs=0.1)
    assert delivered.title == "Wed 25 Nov 2026: 3 delivered"
    assert [label.text for label in chart.x_labels] == ["Wed 25 Nov", "Thu 26 Nov", "Fri 27 Nov"]


def test_at_most_eight_x_labels() -> None:
    chart = stacked_bars(_buckets(*[{"delivered": 1}] * 30), "day")
    assert len(chart.x_labels) == 8


def test_an_empty_period_is_an_empty_chart() -> None:
    chart = stacked_bars(_buckets({}, {}), "day")
    assert chart.empty
    assert chart.bars == []


def test_simple_bars_name_their_counts() -> None:
    chart = simple_bars(
        [(START, 1), (START + timedelta(hours=1), 0), (START + timedelta(hours=2), 3)],
        "hour",
        noun="lead",
    )
    assert [bar.title for bar in chart.bars] == [
        "Wed 25 Nov, 00:00: 1 lead",
        "Wed 25 Nov, 02:00: 3 leads",
    ]
    assert {bar.css_class for bar in chart.bars} == {"lead"}
    assert [label.text for label in chart.x_labels] == ["00:00", "01:00", "02:00"]


def test_name_rows_scale_to_the_longest_and_split_by_status() -> None:
    rows = name_rows(
        [
            NameCount("lead_submitted", {"delivered": 3, "dead": 1}),
            NameCount("purchase", {"delivered": 1, "failed": 1}),
            NameCount("nothing", {"delivered": 0}),
        ]
    )
    assert [(r.event, r.total, r.percent) for r in rows] == [
        ("lead_submitted", 4, 100.0),
        ("purchase", 2, 50.0),
    ]
    assert [(s.status, s.count, s.percent) for s in rows[0].segments] == [
        ("delivered", 3, 75.0),
        ("dead", 1, 25.0),
    ]


def test_name_row_segments_start_where_the_one_before_ends() -> None:
    """The overview draws them as SVG rects (x, width), not inline styles, for the CSP."""
    [row] = name_rows([NameCount("purchase", {"delivered": 2, "retrying": 1, "failed": 1})])
    assert [(s.status, s.offset, s.percent) for s in row.segments] == [
        ("delivered", 0.0, 50.0),
        ("retrying", 50.0, 25.0),
        ("failed", 75.0, 25.0),
    ]
