"""The funnel counters: one upsert per turn into `NodeDailyCount`, in the turn's transaction.

A turn (messenger.runtime.conversation_apply) knows from the interpreter which blocks the
conversation arrived at (`Result.entered`), which handles it left by (`Result.exits`) and
where it stopped (ended, or handed off). `turn_counts` turns that into increments keyed by
(node, handle); `counts_add` adds them to the day's rows with a single
``INSERT ... ON CONFLICT (...) DO UPDATE SET entered = entered + EXCLUDED.entered, ...``,
which PostgreSQL and SQLite (3.24+) both speak. Django's ``bulk_create(update_conflicts=True)``
can only overwrite a column with the inserted value, not add to it, hence the hand-written
statement. Keys are sorted, so two turns that touch the same rows lock them in the same order
(no deadlock), and merged first (PostgreSQL refuses to update one row twice in a statement).
See docs/adr/0011-funnel-counters.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from flows.blocks.steps import ENDED, HANDED_OFF
from flows.models import NodeDailyCount

COLUMNS = ("entered", "exited", "ended", "handed_off")
Key = tuple[str, str]  # (node id, handle or "" for the block itself)


@dataclass(frozen=True)
class TurnPath:
    """What one turn did, as the counters see it (the interpreter's Result, reduced)."""

    entered: tuple[str, ...]
    exits: tuple[tuple[str, str], ...]
    status: str
    node_id: str | None


def turn_counts(turn: TurnPath) -> dict[Key, Counter[str]]:
    """The increments of one turn: +1 entered per block arrived at, +1 exited per handle left
    by, +1 ended or handed_off at the block where the conversation stopped."""
    counts: dict[Key, Counter[str]] = {}
    for node_id in turn.entered:
        counts.setdefault((node_id, ""), Counter())["entered"] += 1
    for node_id, handle in turn.exits:
        counts.setdefault((node_id, handle), Counter())["exited"] += 1
    if turn.node_id and turn.status in (ENDED, HANDED_OFF):
        column = "ended" if turn.status == ENDED else "handed_off"
        counts.setdefault((turn.node_id, ""), Counter())[column] += 1
    return counts


def counts_add(
    *,
    tenant_id: int,
    flow_version_id: int,
    counts: Mapping[Key, Mapping[str, int]],
    day: date,
    now: datetime | None = None,
) -> int:
    """Add ``counts`` to the version's rows of ``day`` in one statement; returns rows touched."""
    rows = [
        (key, [int(increments.get(column, 0)) for column in COLUMNS])
        for key, increments in sorted(counts.items())
        if any(increments.get(column, 0) for column in COLUMNS)
    ]
    if not rows:
        return 0
    now = now or timezone.now()
    table = connection.ops.quote_name(NodeDailyCount._meta.db_table)
    insert_columns = [
        "tenant_id",
        "flow_version_id",
        "node_id",
        "handle",
        "day",
        *COLUMNS,
        "created_at",
        "updated_at",
    ]
    placeholders = "(" + ", ".join(["%s"] * len(insert_columns)) + ")"
    params: list[Any] = []
    for (node_id, handle), values in rows:
        params += [tenant_id, flow_version_id, node_id, handle, day, *values, now, now]
    updates = ", ".join(f"{column} = {table}.{column} + EXCLUDED.{column}" for column in COLUMNS)
    # Only identifiers of this module and %s placeholders are formatted in; values are params.
    sql = (
        f"INSERT INTO {table} ({', '.join(insert_columns)}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(rows))} "
        "ON CONFLICT (tenant_id, flow_version_id, node_id, handle, day) "
        f"DO UPDATE SET {updates}, updated_at = EXCLUDED.updated_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(rows)


def turn_record(
    *,
    tenant_id: int,
    flow_version_id: int | None,
    turn: TurnPath,
    now: datetime,
) -> int:
    """Count one turn of a conversation on a published version (test chats are not counted)."""
    if flow_version_id is None:
        return 0
    return counts_add(
        tenant_id=tenant_id,
        flow_version_id=flow_version_id,
        counts=turn_counts(turn),
        day=now.astimezone(UTC).date(),
        now=now,
    )
