"""CPU of one `POST events/` request in-process: where the API's ingest time goes.

    uv run python benchmarks/ingest.py [--requests 40] [--events 500] [--profile 25]

The whole request through Django's test client (middleware, API-key authentication, parsing,
validation, the INSERT, the answer) in this process, against PostgreSQL when DATABASE_URL is
set (a database of its own, created and dropped here) or else a temporary SQLite file, with
Redis from REDIS_URL (the delivery task it enqueues is dropped with the database number it
used: give it one nothing else uses). Prints the CPU seconds of this process per request
(`time.process_time`, so other jobs on the machine barely move it) and the events per second of
CPU that makes; the database server's own CPU is not in it. ``--profile N`` prints cProfile's
N costliest functions (cumulative) over the same requests.

The bodies are delivery.py's: 500 events a request, several users of one Page each, a mix of
events with values, currencies and parameters.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.delivery import (  # noqa: E402 - after the path fix
    EVENTS_PER_REQUEST,
    SETTINGS,
    app_environment,
    database,
    requests_for,
)
from benchmarks.sandbox import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="measured requests")
    parser.add_argument("--warmup", type=int, default=5, help="requests before measuring")
    parser.add_argument("--events", type=int, default=EVENTS_PER_REQUEST, help="per request")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest calls")
    parser.add_argument(
        "--deliver",
        action="store_true",
        help="then deliver them in this process (page_deliver against the Graph sandbox): "
        "the delivery worker's CPU per event, and its profile with --profile",
    )
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="pagepulse-ingest-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            from benchmarks.delivery import private_redis

            redis_url = private_redis(stack, tmp)
        database_url = database(stack, tmp, name="ingest")
        (tmp / "bench_settings.py").write_text(SETTINGS)
        graph: dict[str, str] = {}
        if args.deliver:
            from benchmarks.sandbox import start_server, stop_server

            sandbox, sandbox_url = start_server(
                [sys.executable, "-m", "graph_api.sandbox", "--port", "0"]
            )
            stack.callback(stop_server, sandbox)
            graph = {
                "GRAPH_API_URL": sandbox_url,
                "FACEBOOK_WWW_URL": sandbox_url,
                "EVENTS_RATE_MIN_CALLS_PER_SECOND": "1000",
            }
        os.environ.update(
            app_environment(
                tmp,
                database_url=database_url,
                redis_url=redis_url,
                ALLOWED_HOSTS="testserver",
                LOG_LEVEL="WARNING",
                **graph,
            )
        )
        sys.path.insert(0, str(tmp))
        import django
        from django.core.management import call_command

        django.setup()
        print(f"ingest: {machine()}; database {database_url.split(':')[0]}", flush=True)
        call_command("migrate", verbosity=0)
        stack.callback(_forget_tasks, redis_url)
        from benchmarks.delivery import Space, workspaces

        if args.deliver:
            space = workspaces(graph["GRAPH_API_URL"], 2)[0]  # one Page on each transport
        else:
            slug, key, page_id = _workspace()
            space = Space(slug=slug, key=key, pages=[(page_id, "conversions_api")])
        slug, key = space.slug, space.key
        per_request = max(1, args.events)
        total = per_request * (args.warmup + args.requests)
        bodies = [
            json.dumps(body)
            for body in requests_for(space, total, users=max(1, total // 5))
            if sum(len(item["events"]) for item in body["batch"]) == per_request
        ][: args.warmup + args.requests]

        from django.test import Client

        client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        url = f"/api/v1/tenants/{slug}/events/"

        def post(body: str) -> None:
            answer = client.post(url, body, content_type="application/json")
            if answer.status_code != 202:
                raise SystemExit(
                    f"ingest: the API answered {answer.status_code}: {answer.content!r}"
                )

        for body in bodies[: args.warmup]:
            post(body)
        measured = bodies[args.warmup :]
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        cpu: list[float] = []
        wall_started = time.perf_counter()
        for body in measured:
            started = time.process_time()
            if profiler is not None:
                profiler.enable()
            post(body)
            if profiler is not None:
                profiler.disable()
            cpu.append(time.process_time() - started)
        wall = time.perf_counter() - wall_started
        mean = statistics.fmean(cpu)
        print(
            f"ingest: {len(measured)} requests of {per_request} events: CPU {mean * 1000:.1f} ms "
            f"a request (median {statistics.median(cpu) * 1000:.1f} ms) = "
            f"{per_request / mean:,.0f} events/s per core of this process; wall "
            f"{wall / len(measured) * 1000:.1f} ms a request (with the database's time); "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        if args.deliver:
            _deliver(slug, args.profile)
        elif profiler is not None:
            pstats.Stats(profiler).sort_stats(
                os.environ.get("INGEST_SORT", "cumulative")
            ).print_stats(args.profile)
    return 0


def _deliver(slug: str, profile: int) -> None:
    """Deliver every event of the workspace in this process, one Page after the other, as a
    delivery worker's task does; print the CPU per event by transport."""
    from events.delivery import page_deliver
    from events.models import EventStatus, LoggedEvent
    from tenants.models import ConnectedPage

    profiler = cProfile.Profile(time.process_time) if profile else None
    for page in ConnectedPage.objects.filter(tenant__slug=slug).order_by("pk"):
        waiting = LoggedEvent.objects.filter(page=page, status=EventStatus.PENDING).count()
        started, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        report = page_deliver(tenant_id=page.tenant_id, page_id=page.pk)
        while (
            report.claimed
            and LoggedEvent.objects.filter(page=page, status=EventStatus.PENDING).exists()
        ):  # a run ends after its budget: the next task would go on
            report = page_deliver(tenant_id=page.tenant_id, page_id=page.pk)
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.process_time() - started, time.perf_counter() - wall
        delivered = LoggedEvent.objects.filter(page=page, status=EventStatus.DELIVERED).count()
        print(
            f"deliver: {page.transport}: {delivered}/{waiting} delivered, CPU "
            f"{cpu / max(delivered, 1) * 1e6:.0f} us an event ({delivered / cpu if cpu else 0:,.0f}"
            f" events/s per core of the worker), wall {wall:.2f} s; load average "
            f"{os.getloadavg()[0]:.2f}",
            flush=True,
        )
    if profiler is not None and os.environ.get("INGEST_DUMP"):
        profiler.dump_stats(os.environ["INGEST_DUMP"])
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(os.environ.get("INGEST_SORT", "cumulative")).print_stats(
            profile
        )


def _workspace() -> tuple[str, str, str]:
    """A workspace with an owner, an API key and one Page on the Conversions API."""
    from django.contrib.auth import get_user_model

    from tenants import services
    from tenants.crypto import encrypt_token
    from tenants.models import ConnectedPage, PageStatus, Transport

    owner = get_user_model().objects.create_user("ingest-owner")
    actor = services.Actor(user=owner)
    tenant = services.tenant_create(name="Ingest", country="US", owner=owner, actor=actor)
    _, key = services.api_key_create(tenant=tenant, actor=actor, name="benchmark")
    page = ConnectedPage.objects.create(
        tenant=tenant,
        page_id="301000000000001",
        name="Ingest Page",
        tasks=["ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE"],
        granted_scopes=["page_events", "pages_manage_metadata", "pages_messaging"],
        transport=Transport.CONVERSIONS_API,
        dataset_id="700000000000001",
        status=PageStatus.ACTIVE,
        token_encrypted=encrypt_token("ingest-benchmark-page-token"),
    )
    return tenant.slug, key, page.page_id


def _forget_tasks(redis_url: str) -> None:
    """Drop the delivery tasks the requests enqueued (no worker runs here)."""
    import redis

    with contextlib.suppress(redis.RedisError):
        redis.Redis.from_url(redis_url).delete("delivery", "default")


if __name__ == "__main__":
    sys.exit(main())
