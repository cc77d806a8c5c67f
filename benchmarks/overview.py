"""The marketer's overview and a flow's totals at scale: daily aggregates against the naive COUNT.

    DATABASE_URL=postgres://... uv run python benchmarks/overview.py [--scale 1.0] [--repeats 15]

PostgreSQL only (a database of its own next to DATABASE_URL's, created and dropped here). At
``--scale 1`` it generates, with SQL ``generate_series``, 10,000,000 logged events and 1,000,000
conversations for one workspace (the worst case: every row is the tenant's) evenly over 400 days,
in time order as an outbox fills, on 5 Pages and 10 flows: leads, purchases in USD and EUR with
values, other events, every delivery status, 1% test events, and 2% of the last week's
conversations still waiting in a handoff (older handoffs were resolved). ``--scale 0.1`` is a tenth
of that for a quick run.

Then, in the same run and on the same data:

- aggregates: closed days folded into the daily tables (the beat task's work, timed once),
  then ``insights.selectors.overview`` and ``flow_totals`` for one flow, each ``--repeats``
  times: today's rows come from the raw tables, the 29 days before from the aggregates;
- naive: the same two answers with ``use_aggregates=False``, i.e. COUNT/SUM ... GROUP BY over
  the raw rows of the last 30 days, as a first version would.

Both answers are compared (they must be equal) and the medians and p95s printed with the
machine's load. The target is a median under 300 ms for both aggregate reads; the script exits
non-zero when it is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.delivery import database, django_here  # noqa: E402
from benchmarks.sandbox import machine  # noqa: E402

TARGET_MS = 300.0
FULL_EVENTS = 10_000_000
FULL_CONVERSATIONS = 1_000_000
DAYS = 400
PAGES = 5
FLOWS = 10


def load() -> str:
    """The machine's load as uptime reports it."""
    uptime = shutil.which("uptime")
    if uptime is not None:
        answer = subprocess.run([uptime], capture_output=True, text=True, check=False)
        if answer.returncode == 0:
            return answer.stdout.strip()
    return "load average: " + ", ".join(f"{value:.2f}" for value in os.getloadavg())


def timed(function: Callable[[], Any], repeats: int) -> tuple[Any, list[float]]:
    result, samples = None, []
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        samples.append((time.perf_counter() - started) * 1000)
    return result, samples


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):8.1f} ms, p95 {p95:8.1f} ms"


def seed_world() -> tuple[Any, list[Any], list[Any]]:
    from flows.models import Flow, FlowStatus, FlowVersion
    from tenants.crypto import encrypt_token
    from tenants.models import ConnectedPage, Tenant

    tenant = Tenant.objects.create(name="Benchmark Bakery", slug="benchmark-bakery", country="US")
    pages = [
        ConnectedPage.objects.create(
            tenant=tenant,
            page_id=str(310_000_000_000_001 + n),
            name=f"Page {n + 1}",
            tasks=["MANAGE"],
            granted_scopes=["page_events"],
            transport="conversions_api",
            token_encrypted=encrypt_token(f"bench-{n}"),
        )
        for n in range(PAGES)
    ]
    document = {
        "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}}],
        "edges": [],
    }
    versions = []
    for n in range(FLOWS):
        flow = Flow.objects.create(
            tenant=tenant,
            page=pages[n % PAGES],
            name=f"Flow {n + 1}",
            trigger_keywords=[f"go{n}"],
            status=FlowStatus.PUBLISHED,
            document=document,
        )
        versions.append(
            FlowVersion.objects.create(tenant=tenant, flow=flow, number=1, document=document)
        )
    return tenant, pages, versions


EMPTY_BY_TYPE = {
    "jsonb": "'{}'",
    "boolean": "false",
    "integer": "0",
    "bigint": "0",
    "smallint": "0",
}


def _default_missing_columns(cursor: Any, table: str, insert: str) -> list[str]:
    """Give a temporary default to NOT NULL columns the INSERT does not list (Django's defaults
    live in Python, not in the table), so a column added by a later migration does not break
    the benchmark; returns them, to drop the defaults afterwards."""
    listed = {name.strip() for name in insert.split("(", 1)[1].split(")", 1)[0].split(",")}
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'",
        [table],
    )
    missing = [(name, kind) for name, kind in cursor.fetchall() if name not in listed]
    for name, kind in missing:
        empty = EMPTY_BY_TYPE.get(kind, "now()" if "timestamp" in kind else "''")
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "{name}" SET DEFAULT {empty}')
    return [name for name, _ in missing]


def bulk_load(connection: Any, table: str, insert: str, params: dict[str, Any]) -> float:
    """Insert with the table's secondary indexes dropped, then rebuild them as they were (the
    queries are measured with every index the migrations create)."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE %s",
            [table, "%_pkey"],
        )
        indexes = cursor.fetchall()
        constraints = []
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        constraints = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            if name not in {c for c, _ in constraints}:
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        defaulted = _default_missing_columns(cursor, table, insert)
        cursor.execute("SET session_replication_role = replica")  # no FK triggers per row
        cursor.execute(insert, params)
        cursor.execute("SET session_replication_role = DEFAULT")
        for column in defaulted:
            cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" DROP DEFAULT')
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in indexes:
            if name not in {c for c, _ in constraints}:
                cursor.execute(definition)
        cursor.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


EVENTS_SQL = """
INSERT INTO events_loggedevent (
    tenant_id, created_at, updated_at, page_id, psid, event, params, value, currency,
    logging_target, event_time, source, source_ref, api_key_id, idempotency_key,
    idempotency_index, test, status, attempts, next_attempt_at, first_failed_at, claim_token,
    last_error, delivered_at)
SELECT %(tenant)s, t, t, (%(pages)s::bigint[])[1 + (g %% %(npages)s)], (6100000000000000 + g %% 500000)::text,
       e.name,
       '{}'::jsonb,
       CASE WHEN e.name = 'purchase' THEN round((5 + (g %% 200))::numeric, 2) END,
       CASE WHEN e.name = 'purchase' THEN (CASE WHEN g %% 3 = 0 THEN 'EUR' ELSE 'USD' END) ELSE '' END,
       'page', t,
       CASE WHEN g %% 10 = 0 THEN 'api' ELSE 'flow' END,
       CASE WHEN g %% 10 = 0 THEN 'api_key:1'
            ELSE (%(versions)s::bigint[])[1 + (g %% %(nversions)s)]::text || ':log' END,
       NULL, NULL, 0, g %% 100 = 0,
       (ARRAY['delivered','delivered','delivered','delivered','delivered','delivered','failed','retrying','not_sent','kept'])[1 + ((g / 10) %% 10)],
       1, t, NULL, '', '', t
FROM generate_series(1, %(n)s) AS g
CROSS JOIN LATERAL (SELECT now() - ((%(n)s - g)::float8 / %(n)s * %(days)s * 86400) * interval '1 second' AS t) AS ts
CROSS JOIN LATERAL (SELECT (ARRAY['lead_submitted','lead_submitted','purchase','add_to_cart',
    'view_content','lead_submitted','contact','purchase','initiate_checkout','subscribe'])[1 + (g * 7 %% 10)] AS name) AS e
"""

CONVERSATIONS_SQL = """
INSERT INTO flows_conversation (
    tenant_id, created_at, updated_at, page_id, psid, flow_id, flow_version_id, node_id,
    variables, step, retries, status, last_user_message_at, ended_at, handoff_note,
    handed_off_at, handoff_resolved_at, handoff_resolved_by_id, is_test)
SELECT %(tenant)s, t, t, v.page_id, (6300000000000000 + g)::text, v.flow_id, v.id, 'end',
       '{"email": "person@example.com"}'::jsonb, 3, 0,
       CASE WHEN g %% 50 = 0 AND t > now() - interval '7 days' THEN 'handed_off' ELSE 'ended' END, t,
       CASE WHEN g %% 50 = 0 AND t > now() - interval '7 days' THEN NULL ELSE t END, '',
       CASE WHEN g %% 50 = 0 THEN t END, NULL, NULL, g %% 100 = 1
FROM generate_series(1, %(n)s) AS g
CROSS JOIN LATERAL (SELECT now() - ((%(n)s - g)::float8 / %(n)s * %(days)s * 86400) * interval '1 second' AS t) AS ts
JOIN LATERAL (
    SELECT fv.id, fv.flow_id, f.page_id FROM flows_flowversion fv JOIN flows_flow f ON f.id = fv.flow_id
    WHERE fv.id = (%(versions)s::bigint[])[1 + (g %% %(nversions)s)]) AS v ON true
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = 10M events, 1M conversations"
    )
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("benchmarks/overview.py: skipped, it needs DATABASE_URL pointing at PostgreSQL")
        return
    events = int(FULL_EVENTS * args.scale)
    conversations = int(FULL_CONVERSATIONS * args.scale)

    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="pagepulse-bench-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        database_url = database(stack, tmp, name="overview")
        django_here(database_url)
        from django.core.management import call_command
        from django.db import connection
        from django.utils import timezone

        from insights import aggregates, selectors

        print(
            f"benchmark: {machine()}; PostgreSQL; scale {args.scale} = {events:,} logged events, {conversations:,} conversations over {DAYS} days"
        )
        print(f"load before: {load()}", flush=True)
        call_command("migrate", verbosity=0)
        tenant, pages, versions = seed_world()
        params = {
            "tenant": tenant.pk,
            "pages": [p.pk for p in pages],
            "npages": len(pages),
            "versions": [v.pk for v in versions],
            "nversions": len(versions),
            "days": DAYS,
        }
        seconds = bulk_load(connection, "events_loggedevent", EVENTS_SQL, {**params, "n": events})
        print(f"generated {events:,} logged events in {seconds:.0f} s", flush=True)
        seconds = bulk_load(
            connection, "flows_conversation", CONVERSATIONS_SQL, {**params, "n": conversations}
        )
        print(f"generated {conversations:,} conversations in {seconds:.0f} s", flush=True)

        today = timezone.localdate()
        started = time.perf_counter()
        folded = aggregates.aggregate_closed_days(today)
        print(
            f"folded {folded} closed days into the aggregates in {time.perf_counter() - started:.1f} s (once; the beat task then folds one day a day)",
            flush=True,
        )
        flow = versions[0].flow

        fast, fast_ms = timed(lambda: selectors.overview(tenant=tenant, today=today), args.repeats)
        naive, naive_ms = timed(
            lambda: selectors.overview(tenant=tenant, today=today, use_aggregates=False),
            max(3, args.repeats // 3),
        )
        flow_fast, flow_fast_ms = timed(
            lambda: selectors.flow_totals(tenant=tenant, flow=flow, today=today), args.repeats
        )
        flow_naive, flow_naive_ms = timed(
            lambda: selectors.flow_totals(
                tenant=tenant, flow=flow, today=today, use_aggregates=False
            ),
            max(3, args.repeats // 3),
        )
        assert fast == naive, "the aggregates and the raw COUNT disagree"
        assert flow_fast == flow_naive, (
            "a flow's totals from the aggregates and the raw COUNT disagree"
        )
        month = fast.periods[2][2]
        print(
            f"last 30 days: {month.leads:,} leads, {month.purchases:,} purchases, {month.conversations:,} conversations; both answers equal"
        )
        print(f"overview    aggregates: {figures(fast_ms)}   naive COUNT: {figures(naive_ms)}")
        print(
            f"flow totals aggregates: {figures(flow_fast_ms)}   naive COUNT: {figures(flow_naive_ms)}"
        )
        print(f"load after: {load()}", flush=True)
        missed = [
            name
            for name, samples in (("overview", fast_ms), ("flow totals", flow_fast_ms))
            if statistics.median(samples) >= TARGET_MS
        ]
        connection.close()
    if missed:
        sys.exit(f"target missed (median >= {TARGET_MS:.0f} ms): {', '.join(missed)}")


if __name__ == "__main__":
    main()
