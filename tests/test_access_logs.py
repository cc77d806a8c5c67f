"""No access log writes a secret from a query string: runserver's (`make dev`) nor granian's.

Both servers run here as the project runs them (runserver with the project's LOGGING; granian
with the Dockerfile's command) and get the request the issue saw in the log: Facebook Login's
callback with its OAuth `code` and `state`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from graph_api.redaction import REDACTED, redact
from tests.servers import dockerfile_command, free_port, web_server_argv
from tests.timing import deadline

ROOT = Path(__file__).resolve().parent.parent
CODE = "AQDxOAuthCodeFromFacebook0123456789abcdefghijklmnop"
STATE = "k3Jd8sLw0StateOfThisLogin77"
TOKEN = "EAAB" + "t" * 40
VERIFY = "verify-token-of-the-webhook"
SECRETS = [CODE, STATE, TOKEN, VERIFY]
CALLBACK = f"/auth/complete/facebook/?code={CODE}&state={STATE}"
DEADLINE_SECONDS = deadline(60)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            f'"GET {CALLBACK} HTTP/1.1" 302 0',
            f'"GET /auth/complete/facebook/?code={REDACTED}&state={REDACTED} HTTP/1.1" 302 0',
        ),
        (
            f"GET /auth/complete/facebook/?redirect_state={STATE}&code=1234567890",
            f"GET /auth/complete/facebook/?redirect_state={REDACTED}&code={REDACTED}",
        ),
        (
            f"GET /webhooks/messenger?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=7",
            f"GET /webhooks/messenger?hub.mode=subscribe&hub.verify_token={REDACTED}"
            "&hub.challenge=7",
        ),
        (f"GET /x?a=1&access_token={TOKEN}", f"GET /x?a=1&access_token={REDACTED}"),
        # Outside a query string these names are ordinary words, and error codes are numbers.
        ('{"state": "active", "code": 190}', '{"state": "active", "code": 190}'),
        ("Graph error code=190", "Graph error code=190"),
    ],
)
def test_query_string_secrets_are_redacted(line: str, expected: str) -> None:
    assert redact(line) == expected


class _Output:
    """Collects a process's lines from one pipe in a thread, so reading never blocks the test."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[str]) -> None:
        with pipe:
            for line in pipe:
                self.lines.append(line)

    def join(self) -> None:
        self._thread.join(timeout=DEADLINE_SECONDS)

    def text(self) -> str:
        return "".join(self.lines)


@contextmanager
def _server(argv: list[str], port: int, tmp_path: Path) -> Iterator[tuple[_Output, _Output]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'server.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out, err = _Output(process.stdout), _Output(process.stderr)
    try:
        yield out, err
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out.join()
        err.join()


def _get_when_up(url: str, output: tuple[_Output, _Output]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            urllib.request.urlopen(url, timeout=10).close()  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # answered (a redirect or an error page): it is in the access log
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"the server never answered: {output[1].text()[-2000:]}")
            time.sleep(0.1)


def _access_line(outputs: tuple[_Output, _Output], marker: str) -> str:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        for output in outputs:
            for line in list(output.lines):
                if marker in line:
                    return line
        time.sleep(0.05)
    pytest.fail(
        f"no access line with {marker!r}: {outputs[0].text()[-1000:]} {outputs[1].text()[-2000:]}"
    )


def _assert_redacted(outputs: tuple[_Output, _Output], line: str) -> None:
    assert f"code={REDACTED}&state={REDACTED}" in line
    everything = outputs[0].text() + outputs[1].text()
    assert [secret for secret in SECRETS if secret in everything] == []


def test_runservers_access_log_redacts_query_secrets(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]

    with _server(argv, port, tmp_path) as outputs:
        _get_when_up(f"http://127.0.0.1:{port}{CALLBACK}", outputs)
        url = f"http://127.0.0.1:{port}/webhooks/messenger?hub.mode=subscribe&hub.verify_token={VERIFY}"
        _get_when_up(url, outputs)
        line = _access_line(outputs, "/auth/complete/facebook/")
        _access_line(outputs, "/webhooks/messenger")

    _assert_redacted(outputs, line)


def test_the_dockerfile_and_compose_run_granian_alike() -> None:
    command = dockerfile_command()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert command[0] == "granian"
    assert f"command: {json.dumps(command)}" in compose


def test_granians_access_log_redacts_query_secrets(tmp_path: Path) -> None:
    port = free_port()
    argv = web_server_argv(port)

    with _server(argv, port, tmp_path) as outputs:
        _get_when_up(f"http://127.0.0.1:{port}{CALLBACK}", outputs)
        line = _access_line(outputs, "/auth/complete/facebook/")

    _assert_redacted(outputs, line)
