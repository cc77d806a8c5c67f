"""PostgreSQL's time to write the outbox: events_loggedevent's indexes before events 0006 and now.

    DATABASE_URL=postgres://... uv run python benchmarks/outbox_writes.py [--rounds 5] [--rows 30000]

PostgreSQL only: a database of its own beside DATABASE_URL's, migrated, dropped at the end.

Every logged event is one row written at ingest (a 500-row INSERT from the events API) and
updated when it settles (to delivered), and each write costs an entry in every index whose
condition the row meets. This builds two copies of the table in a scratch schema of the
database: one with the index set of events 0005 (14 indexes), one with the
migrated table's own (12, four of them partial). Then, alternating between them for
``--rounds``, it inserts ``--rows`` rows from the events API in statements of 500 (the shape
benchmarks/delivery.py posts: no flow, no ad, one API key) and settles them all in statements
of 50 (a page_activities batch), and prints the median seconds of each, old beside new.
Foreign-key checks are left out of both (the same three on each side).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.delivery import database, django_here  # noqa: E402 - after the path fix
from benchmarks.sandbox import machine  # noqa: E402

OLD_INDEXES = [
    "CREATE INDEX ON {t} (api_key_id)",
    "CREATE INDEX ON {t} (page_id)",
    "CREATE INDEX ON {t} (tenant_id)",
    "CREATE INDEX ON {t} (tenant_id, page_id, status, next_attempt_at)",
    "CREATE INDEX ON {t} (status, next_attempt_at)",
    "CREATE INDEX ON {t} (tenant_id, ad_id, created_at DESC)",
    "CREATE INDEX ON {t} (tenant_id, source_flow_version, source_node, status)",
]
INSERT = (
    "INSERT INTO {t} (tenant_id, created_at, updated_at, page_id, psid, event, params, value,"
    " currency, logging_target, event_time, source, source_ref, source_node, ad_id, api_key_id,"
    " idempotency_key, idempotency_index, test, status, attempts, next_attempt_at, claim_token,"
    " last_error)"
    " SELECT 1, now(), now(), 1 + g %% 8, (6200000000000000 + (g * 7919) %% 2000)::text,"
    " (ARRAY['Purchase', 'LeadSubmitted', 'ViewContent'])[1 + g %% 3], '{{}}'::jsonb, 19.99,"
    " 'USD', 'page', now(), 'api', '', '', '', 1, %s, g, false, 'pending', 0, now(), '', ''"
    " FROM generate_series(0, 499) AS g"
)
SETTLE = (
    "UPDATE {t} SET status = 'delivered', delivered_at = now(), claim_token = '',"
    " attempts = attempts + 1, updated_at = now() WHERE id = ANY(%s)"
)


def build(cursor: psycopg.Cursor) -> None:
    cursor.execute("DROP SCHEMA IF EXISTS outbox_bench CASCADE; CREATE SCHEMA outbox_bench")
    for name in ("old", "new"):
        cursor.execute(
            f"CREATE TABLE outbox_bench.{name}"
            " (LIKE public.events_loggedevent INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
    # new: the migrated table's own indexes (and its primary key); old: events 0005's.
    cursor.execute(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index"
        " WHERE indrelid = 'public.events_loggedevent'::regclass"
    )
    for (definition,) in cursor.fetchall():
        target = definition.split(" ON ", 1)[1].split(" USING ", 1)[1]
        cursor.execute(
            f"CREATE {'UNIQUE ' if 'UNIQUE' in definition else ''}"
            f"INDEX ON outbox_bench.new USING {target}"
        )
    cursor.execute("ALTER TABLE outbox_bench.old ADD PRIMARY KEY (id)")
    cursor.execute(
        "CREATE UNIQUE INDEX ON outbox_bench.old (tenant_id, idempotency_key, idempotency_index)"
        " WHERE idempotency_key IS NOT NULL"
    )
    for statement in [
        *OLD_INDEXES,
        "CREATE INDEX ON {t} (tenant_id, id DESC)",
        "CREATE INDEX ON {t} (tenant_id, status, id DESC)",
        "CREATE INDEX ON {t} (tenant_id, event, id DESC)",
        "CREATE INDEX ON {t} (tenant_id, created_at DESC)",
        "CREATE INDEX ON {t} (tenant_id, psid)",
    ]:
        cursor.execute(statement.format(t="outbox_bench.old"))


def one_round(cursor: psycopg.Cursor, table: str, rows: int) -> tuple[float, float]:
    cursor.execute(f"TRUNCATE {table}")
    ids: list[int] = []
    started = time.perf_counter()
    for n in range(rows // 500):
        cursor.execute(INSERT.format(t=table) + " RETURNING id", [f"bench-{n}"])
        ids += [row[0] for row in cursor.fetchall()]
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    for n in range(0, len(ids), 50):
        cursor.execute(SETTLE.format(t=table), [ids[n : n + 50]])
    return inserted, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=30_000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("benchmarks/outbox_writes.py: skipped, it needs DATABASE_URL pointing at PostgreSQL")
        return 0
    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="pagepulse-bench-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        url = database(stack, tmp, name="outbox")
        migrate(url)
        print(f"benchmark: {machine()}; PostgreSQL; load average {os.getloadavg()[0]:.2f} before")
        run(url, args.rounds, args.rows)
    print(f"load average {os.getloadavg()[0]:.2f} after")
    return 0


def migrate(url: str) -> None:
    django_here(url)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    connections.close_all()


def run(url: str, rounds: int, rows: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
        build(cursor)
        try:
            figures: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
            for _ in range(rounds):
                for name in figures:
                    figures[name].append(one_round(cursor, f"outbox_bench.{name}", rows))
            for name, runs in figures.items():
                cursor.execute(
                    "SELECT count(*) FROM pg_indexes WHERE schemaname = 'outbox_bench'"
                    " AND tablename = %s",
                    [name],
                )
                (indexes,) = cursor.fetchone() or (0,)
                insert = statistics.median(run[0] for run in runs)
                settle = statistics.median(run[1] for run in runs)
                print(
                    f"{name}: {indexes} indexes; {rows:,} rows inserted in"
                    f" {insert:.2f} s ({insert / rows * 1e6:.1f} us a row), settled in"
                    f" {settle:.2f} s ({settle / rows * 1e6:.1f} us a row);"
                    f" median of {rounds}"
                )
        finally:
            cursor.execute("DROP SCHEMA outbox_bench CASCADE")


if __name__ == "__main__":
    sys.exit(main())
