"""The app's webhook endpoint played by a tiny `http.server` on a free loopback port, for the
tests of the sandbox as Facebook's webhook sender (tests/graph_api/test_sandbox_webhook.py) and
of its webhook form in a browser (tests/browser/test_sandbox_webhook_form.py)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.timing import deadline

VERIFY_TOKEN = "receiver-verify-token"
DEADLINE_SECONDS = deadline(30)


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class WebhookReceiver:
    """The app's webhook endpoint, in a thread: records requests and answers as told.

    POSTs are answered with the next status in `answers` (200 once they run out) and then handed
    to `on_post`; GETs answer the hub.challenge handshake when hub.verify_token matches, else 403.
    """

    def __init__(self, verify_token: str = VERIFY_TOKEN) -> None:
        self.verify_token = verify_token
        self.answers: deque[int] = deque()
        self.on_post: Callable[[Received], None] | None = None
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                ok = query.get("hub.mode") == ["subscribe"] and query.get("hub.verify_token") == [
                    receiver.verify_token
                ]
                receiver._record(self, b"")
                self._answer(200 if ok else 403, query["hub.challenge"][0] if ok else "forbidden")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = receiver._record(self, raw)
                with receiver._lock:
                    status = receiver.answers.popleft() if receiver.answers else 200
                self._answer(status, "EVENT_RECEIVED" if status == 200 else "boom")
                if receiver.on_post is not None:
                    receiver.on_post(received)

            def _answer(self, status: int, text: str) -> None:
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/messenger"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def _record(self, handler: BaseHTTPRequestHandler, raw: bytes) -> Received:
        parts = urlsplit(handler.path)
        received = Received(
            handler.command, parts.path, parse_qs(parts.query), dict(handler.headers), raw
        )
        with self._lock:
            self.received.append(received)
        return received

    def of(self, method: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.method == method]

    def wait_for(self, method: str, count: int) -> list[Received]:
        """Poll until `count` requests of `method` arrived (background handshakes)."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while len(found := self.of(method)) < count:
            assert time.monotonic() < deadline, f"only {len(found)} {method} requests arrived"
            time.sleep(0.02)
        return found

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
