"""Throughput of the Graph sandbox's page_activities endpoint, against a plain-HTTP baseline.

    uv run python benchmarks/sandbox.py [--requests 20000] [--concurrency 32] [--max-seconds 60]

Starts the sandbox in a subprocess, mints a Page token, and fires valid page_activities calls
(full validation, token and appsecret_proof checks, event recording) over keep-alive connections
with bounded concurrency and a time limit. Then it runs the same load against a
`http.server.ThreadingHTTPServer` that only echoes `{"success": true}`, and prints both and their
ratio. The load generator is a minimal HTTP/1.1 client on asyncio streams, so it measures the
server rather than a client library. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_ID = "100000000000001"
APP_SECRET = "sandbox-app-secret"  # noqa: S105 - the sandbox's well-known test secret
PAGE_ID = "300000000000001"
USER_ID = "200000000000001"
LISTENING = "listening on "
STARTUP_SECONDS = 30


@dataclass
class Result:
    """What one load run measured."""

    name: str
    ok: int
    failed: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, pct: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(pct) - 1]

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.ok:>7} ok {self.failed:>5} failed  {self.rate:>8.0f} calls/s  "
            f"p50 {self.percentile(50):6.2f} ms  p99 {self.percentile(99):6.2f} ms"
        )


# --- Servers --------------------------------------------------------------------------------------


def start_server(args: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Start a server subprocess and wait (with a deadline) for its 'listening on' line."""
    process = subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if LISTENING in line:
            return process, line.split(LISTENING, 1)[1].strip()
    process.kill()
    raise SystemExit(f"server did not start: {' '.join(args)}")


def stop_server(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


class EchoHandler(BaseHTTPRequestHandler):
    """The baseline: read the body, answer {"success": true}, keep the connection alive."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each response waits ~40 ms for
    # a delayed ACK and the baseline would measure TCP, not the server.
    disable_nagle_algorithm = True
    body = b'{"success":true}'

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        return


class BaselineServer(ThreadingHTTPServer):
    # The default listen backlog of 5 drops the SYNs of 32 connections opened at once, and each
    # retry costs a second: the baseline would measure the backlog, not the server.
    request_queue_size = 128


def serve_baseline() -> None:
    """Run the baseline server (in its own process, like the sandbox)."""
    server = BaselineServer(("127.0.0.1", 0), EchoHandler)
    server.daemon_threads = True
    print(f"baseline listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


# --- Load -----------------------------------------------------------------------------------------


async def load(
    url: str, path: str, total: int, concurrency: int, max_seconds: float, name: str
) -> Result:
    """Fire up to `total` POSTs over `concurrency` keep-alive connections, for at most max_seconds."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    counters = {"sent": 0, "ok": 0, "failed": 0}
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while counters["sent"] < total and time.perf_counter() < deadline:
                counters["sent"] += 1
                psid = 6100000000000000 + counters["sent"]
                body = json.dumps(
                    {
                        "custom_events": [{"_eventName": "lead_submitted"}],
                        "advertiser_tracking_enabled": 1,
                        "application_tracking_enabled": 1,
                        "page_id": PAGE_ID,
                        "page_scoped_user_id": psid,
                        "logging_source": "messenger_bot",
                        "logging_target": "page",
                    }
                ).encode()
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
                started = time.perf_counter()
                writer.write(head + body)
                status_and_headers = await reader.readuntil(b"\r\n\r\n")
                status = int(status_and_headers.split(b" ", 2)[1])
                length = 0
                for header in status_and_headers.split(b"\r\n"):
                    if header.lower().startswith(b"content-length:"):
                        length = int(header.split(b":", 1)[1])
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - started) * 1000)
                counters["ok" if status == 200 else "failed"] += 1
        finally:
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(
        name, counters["ok"], counters["failed"], time.perf_counter() - started, latencies
    )


def control(url: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    """Call the sandbox's control API (a loopback URL this script started)."""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{url}/_sandbox{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answer: dict[str, object] = json.load(response)
        return answer


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_baseline:
        serve_baseline()
        return

    print(f"machine: {machine()}")
    print(
        f"load: {options.requests} page_activities calls, {options.concurrency} keep-alive connections, at most {options.max_seconds:.0f} s each run"
    )
    sandbox, sandbox_url = start_server(
        [
            sys.executable,
            "-m",
            "graph_api.sandbox",
            "--port",
            "0",
            "--app-id",
            APP_ID,
            "--app-secret",
            APP_SECRET,
        ]
    )
    try:
        token = str(
            control(
                sandbox_url, "/tokens", {"type": "page", "user_id": USER_ID, "page_id": PAGE_ID}
            )["access_token"]
        )
        proof = hmac.new(APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
        path = f"/v20.0/{APP_ID}/page_activities?" + urlencode(
            {"access_token": token, "appsecret_proof": proof}
        )
        asyncio.run(load(sandbox_url, path, 500, options.concurrency, 10, "warm-up"))
        sandbox_result = asyncio.run(
            load(
                sandbox_url,
                path,
                options.requests,
                options.concurrency,
                options.max_seconds,
                "sandbox page_activities",
            )
        )
        recorded = control(sandbox_url, "/events?since=999999999")["total"]
    finally:
        stop_server(sandbox)

    baseline, baseline_url = start_server(
        [sys.executable, str(Path(__file__).resolve()), "--serve-baseline"]
    )
    try:
        asyncio.run(load(baseline_url, path, 500, options.concurrency, 10, "warm-up"))
        baseline_result = asyncio.run(
            load(
                baseline_url,
                path,
                options.requests,
                options.concurrency,
                options.max_seconds,
                "ThreadingHTTPServer echo",
            )
        )
    finally:
        stop_server(baseline)

    print(sandbox_result.line())
    print(baseline_result.line())
    print(f"sandbox / baseline throughput: {sandbox_result.rate / baseline_result.rate:.2f}x")
    print(f"events recorded by the sandbox: {recorded} (warm-up included)")
    target = 2000
    verdict = "meets" if sandbox_result.rate >= target else "MISSES"
    print(f"target {target} calls/s: {verdict}")
    if sandbox_result.failed or sandbox_result.rate < target:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
