"""Real processes for the system tests: Celery workers and beat, each in its own session.

Every process is started with ``start_new_session=True`` so it leads its own process group:
``kill()`` sends SIGKILL to the whole group (the prefork parent and its children at once, as
the kernel would on an out-of-memory kill), and nothing outlives the fixture that started it.
Output goes to a log file per process, kept across restarts, so a failing test can show it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tests.timing import deadline as scaled

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 45.0
SWEEP_TASK = "Task events.tasks.sweep_due["
POLL_SECONDS = 0.05

T = TypeVar("T")


def wait_for(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = POLL_SECONDS,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds
    (scaled by TEST_TIME_SCALE, tests/timing.py: a deadline, never a budget to beat).

    The failure says what we were waiting for and, through ``on_timeout``, what the world looked
    like then (counts by status, a process's log).
    """
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = on_timeout() if on_timeout else ""
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}\n{detail}")
        time.sleep(interval)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after the ")".
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


class Zygote:
    """tests/system/zygote.py: one warm Django + Celery process that forks workers and beat."""

    def __init__(self, *, env: Mapping[str, str], log_dir: Path) -> None:
        self._stderr = (log_dir / "zygote.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.system.zygote"],
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._expect(lambda line: line == "zygote ready", STARTUP_SECONDS, "the zygote")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.strip())

    def _expect(self, accept: Callable[[str], bool], timeout: float, what: str) -> str:
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if accept(line):
                return line
        self.stop()
        raise AssertionError(f"{what} did not answer within {timeout:.0f} s (see zygote.log)")

    def spawn(self, argv: list[str], log_path: Path) -> int:
        """Fork a child running ``argv`` (a celery subcommand); returns its pid."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"argv": argv, "log": str(log_path)}) + "\n")
        self.process.stdin.flush()
        return int(self._expect(str.isdigit, 10, "the zygote's fork"))

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()


class CeleryProcess:
    """A Celery worker or beat in its own process group, restartable.

    Started as ``python -m celery -A config <argv>``, or forked from a ``Zygote`` (the same
    Celery entry point, without paying for the imports again).
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str],
        log_dir: Path,
        ready: str,
        zygote: Zygote | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.ready_marker = ready
        self.zygote = zygote
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.starts = 0
        self.kills = 0
        self._log_offset = 0

    def start(self) -> None:
        """Start the process (not waiting for it); it must not be running."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        if self.zygote is not None:
            self.process = None
            self.pid = self.zygote.spawn(self.argv, self.log_path)
        else:
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "config", *self.argv],
                    cwd=REPO_ROOT,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.pid = self.process.pid
        self.starts += 1

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        """Wait until this start's output shows the ready marker."""

        def ready() -> bool:
            if not self.running:
                raise AssertionError(f"{self.name} exited while starting:\n{self.log_tail()}")
            return self.ready_marker in self.output_since_start()

        wait_for(ready, timeout=timeout, what=f"{self.name} to be ready", on_timeout=self.log_tail)

    @property
    def running(self) -> bool:
        if self.pid is None:
            return False
        if self.process is not None:
            return self.process.poll() is None
        return self.pid in group_members(self.pid)

    def kill(self) -> None:
        """SIGKILL the process and every child it forked (its whole group), and wait for them."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        if group_members(pid):
            self.kills += 1
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)
            self.process = None
        wait_for(lambda: not group_members(pid), timeout=15, what=f"{self.name}'s processes to end")

    def restart(self) -> None:
        self.kill()
        self.start()

    def output_since_start(self) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return f"({self.name}: no output)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return f"--- {self.name} ({self.log_path}) ---\n" + "\n".join(text[-lines:])


def worker_argv(name: str, *, concurrency: int = 2, queues: str = "delivery,default") -> list[str]:
    """``celery worker`` arguments: prefork, the delivery and default queues."""
    return [
        "worker",
        "--queues",
        queues,
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--hostname",
        f"{name}-{os.getpid()}@%h",
        "--without-mingle",
        "--without-gossip",
    ]


def beat_argv(schedule: Path) -> list[str]:
    """``celery beat`` arguments, its schedule file at ``schedule``."""
    return ["beat", "--loglevel", "INFO", "--schedule", str(schedule), "--pidfile", ""]


WORKER_READY = " ready."
BEAT_READY = "beat: Starting"


@dataclass
class Cluster:
    """The Celery processes of one test, all killed in teardown.

    Workers and beat are forked from one warm zygote by default (tests/system/zygote.py), or
    started as `celery -A config ...` commands with ``fork=False``. Their settings come from
    the environment: change it with ``configure(...)`` before starting the first process.
    """

    env: dict[str, str]
    log_dir: Path
    processes: list[CeleryProcess] = field(default_factory=list)
    zygote: Zygote | None = None

    def configure(self, **env: str) -> None:
        if self.processes:
            raise RuntimeError("configure the cluster before starting its first process")
        self.env.update({key: str(value) for key, value in env.items()})

    def _start(self, process: CeleryProcess, wait: bool) -> CeleryProcess:
        self.processes.append(process)
        process.start()
        if wait:
            process.wait_ready()
        return process

    def _zygote(self, fork: bool) -> Zygote | None:
        if fork and self.zygote is None:
            self.zygote = Zygote(env=self.env, log_dir=self.log_dir)
        return self.zygote if fork else None

    def worker(
        self, name: str = "worker", *, concurrency: int = 2, wait: bool = True, fork: bool = True
    ) -> CeleryProcess:
        process = CeleryProcess(
            name,
            worker_argv(name, concurrency=concurrency),
            env=self.env,
            log_dir=self.log_dir,
            ready=WORKER_READY,
            zygote=self._zygote(fork),
        )
        return self._start(process, wait)

    def beat(self, *, wait: bool = True, fork: bool = True) -> CeleryProcess:
        process = CeleryProcess(
            "beat",
            beat_argv(self.log_dir / "beat-schedule"),
            env=self.env,
            log_dir=self.log_dir,
            ready=BEAT_READY,
            zygote=self._zygote(fork),
        )
        return self._start(process, wait)

    def logs(self) -> str:
        return "\n".join(process.log_tail() for process in self.processes)

    def sweeps_done(self) -> int:
        """How many beat sweeps the workers have finished so far."""
        return sum(
            1
            for process in self.processes
            if process.log_path.exists()
            for line in process.log_path.read_text(errors="replace").splitlines()
            if SWEEP_TASK in line and " succeeded in " in line
        )

    def wait_for_sweeps(self, count: int, *, timeout: float = 60) -> None:
        """Wait until the workers have run ``count`` more sweeps: whatever the sweep would do
        (re-enqueue, take back, release) it has had ``count`` chances to do."""
        target = self.sweeps_done() + count
        wait_for(
            lambda: self.sweeps_done() >= target,
            timeout=timeout,
            what=f"{count} sweeps",
            on_timeout=self.logs,
        )

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
        if self.zygote is not None:
            self.zygote.stop()
