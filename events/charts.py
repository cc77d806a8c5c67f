"""Small charts for the delivery log's overview, drawn as inline SVG by the server.

No chart library and no JavaScript: the geometry is computed here, the template only writes
the `<rect>`s, so the charts work offline, without scripts, and in screenshots. Each bar
carries a `<title>`, which browsers show as a tooltip and screen readers read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import formats, timezone

from events.stats import STATUS_ORDER, Bucket, NameCount, Unit

WIDTH = 760
HEIGHT = 240
LEFT = 44  # room for the y-axis labels
RIGHT = 8
TOP = 10
BOTTOM = 26  # room for the x-axis labels
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass
class BarChart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Rect] = field(default_factory=list)
    gridlines: list[Label] = field(default_factory=list)  # y position and the value it marks
    x_labels: list[Label] = field(default_factory=list)
    baseline: float = HEIGHT - BOTTOM
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    total: int = 0

    @property
    def empty(self) -> bool:
        return self.total == 0


@dataclass(frozen=True)
class Segment:
    status: str
    count: int
    percent: float
    offset: float = 0.0  # where it starts, in % of its row (drawn as SVG: no inline styles)


@dataclass(frozen=True)
class NameRow:
    event: str
    total: int
    percent: float  # of the longest row
    segments: list[Segment]
    label: str = ""  # the catalog's plain words for a standard event, "" for a custom one


GRID_STEPS = 4  # gridlines above the baseline


def nice_ceiling(value: int) -> int:
    """The top of a y axis for counts up to `value`: 4 gridline steps of 1, 2, 2.5 or 5 times
    a power of ten, each a whole number (7 -> 8, 13 -> 20, 99 -> 100, 120 -> 200)."""
    needed = max(value, 1) / GRID_STEPS
    magnitude = 10.0 ** max(0, math.floor(math.log10(needed)))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= needed and step.is_integer():
            return int(step) * GRID_STEPS
    return int(10 * magnitude) * GRID_STEPS  # pragma: no cover - the loop always returns


def bucket_label(moment: datetime, unit: Unit) -> str:
    local = timezone.localtime(moment)
    return formats.date_format(local, "H:i" if unit == "hour" else "D j M")


def _bucket_title(moment: datetime, unit: Unit) -> str:
    local = timezone.localtime(moment)
    return formats.date_format(local, "D j M, H:i" if unit == "hour" else "D j M Y")


def _frame(chart: BarChart, top_value: int) -> float:
    """Draw the gridlines for a y axis running to `top_value`; return pixels per unit."""
    plot_height = chart.baseline - TOP
    for step in range(GRID_STEPS + 1):
        y = chart.baseline - plot_height * step / GRID_STEPS
        chart.gridlines.append(
            Label(x=LEFT - 6, y=round(y, 1), text=f"{top_value * step // GRID_STEPS:,}")
        )
    return plot_height / top_value


def _x_labels(chart: BarChart, starts: Sequence[datetime], unit: Unit, slot: float) -> None:
    every = max(1, math.ceil(len(starts) / MAX_X_LABELS))
    for index, moment in enumerate(starts):
        if index % every == 0:
            chart.x_labels.append(
                Label(
                    x=round(LEFT + slot * index + slot / 2, 1),
                    y=HEIGHT - 8,
                    text=bucket_label(moment, unit),
                )
            )


def stacked_bars(buckets: Sequence[Bucket], unit: Unit) -> BarChart:
    """One bar a bucket, its statuses stacked in `STATUS_ORDER` from the bottom."""
    chart = BarChart()
    chart.total = sum(bucket.total for bucket in buckets)
    if not buckets:
        return chart
    scale = _frame(chart, nice_ceiling(max(bucket.total for bucket in buckets)))
    slot = (WIDTH - LEFT - RIGHT) / len(buckets)
    gap = min(6.0, slot * 0.2)
    for index, bucket in enumerate(buckets):
        y = chart.baseline
        when = _bucket_title(bucket.start, unit)
        for status in STATUS_ORDER:
            count = bucket.counts.get(status, 0)
            if not count:
                continue
            height = count * scale
            y -= height
            chart.bars.append(
                Rect(
                    x=round(LEFT + slot * index + gap / 2, 1),
                    y=round(y, 1),
                    width=round(slot - gap, 1),
                    height=round(height, 1),
                    css_class=f"st-{status}",
                    title=f"{when}: {count} {status}",
                )
            )
    _x_labels(chart, [bucket.start for bucket in buckets], unit, slot)
    return chart


def simple_bars(points: Sequence[tuple[datetime, int]], unit: Unit, *, noun: str) -> BarChart:
    """One bar a bucket (e.g. leads over time)."""
    chart = BarChart()
    chart.total = sum(count for _, count in points)
    if not points:
        return chart
    scale = _frame(chart, nice_ceiling(max(count for _, count in points)))
    slot = (WIDTH - LEFT - RIGHT) / len(points)
    gap = min(6.0, slot * 0.2)
    for index, (moment, count) in enumerate(points):
        if not count:
            continue
        height = count * scale
        chart.bars.append(
            Rect(
                x=round(LEFT + slot * index + gap / 2, 1),
                y=round(chart.baseline - height, 1),
                width=round(slot - gap, 1),
                height=round(height, 1),
                css_class="lead",
                title=f"{_bucket_title(moment, unit)}: {count} {noun}{'s' if count != 1 else ''}",
            )
        )
    _x_labels(chart, [moment for moment, _ in points], unit, slot)
    return chart


def name_rows(names: Sequence[NameCount]) -> list[NameRow]:
    """Horizontal bars for the most logged names, each split by status (widths and offsets in
    %, drawn as SVG attributes, which a Content-Security-Policy does not govern)."""
    longest = max((name.total for name in names), default=0)
    rows: list[NameRow] = []
    for name in names:
        if not name.total:
            continue
        segments: list[Segment] = []
        offset = 0.0
        for status in STATUS_ORDER:
            if count := name.counts.get(status, 0):
                percent = round(100 * count / name.total, 2)
                segments.append(
                    Segment(status=status, count=count, percent=percent, offset=round(offset, 2))
                )
                offset += percent
        rows.append(
            NameRow(
                event=name.event,
                total=name.total,
                percent=round(100 * name.total / longest, 2),
                segments=segments,
            )
        )
    return rows
