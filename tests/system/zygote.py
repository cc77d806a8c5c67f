"""A warm parent that forks Celery workers and beat on request.

A `celery -A config worker` costs about four CPU-seconds to start on the 2-core test machine
(Django, the apps, Celery's CLI and pool), so twenty kill-and-restart cycles would spend most
of a test starting Python. This process does that work once (with the environment it was given:
settings are read at import), then, for each JSON line on stdin ``{"argv": [...], "log": path}``,
forks a child that leads its own session, sends its output to ``log`` and runs
``app.worker_main(argv)`` / ``app.start(argv)``: the same code the `celery` command runs. It
answers each line with the child's pid. The zygote holds no database or broker connection when
it forks, so children share nothing but memory pages.

    python -m tests.system.zygote   (DJANGO_SETTINGS_MODULE and the rest from the environment)
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any


def _child(app: Any, request: dict[str, Any], started: int) -> None:
    code = 0
    try:
        os.setsid()
        # Only now may the test see the pid: its process group exists, so killpg reaches it.
        os.write(started, b"1")
        os.close(started)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        argv = list(request["argv"])
        if argv[0] == "worker":
            app.worker_main(argv)
        else:
            app.start(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # a child must never return into the zygote's loop
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    import django

    django.setup()
    from django.db import connections

    from config.celery import app

    app.loader.import_default_modules()
    # What `celery worker` and `celery beat` import on their way to running, imported once here.
    import celery.apps.beat
    import celery.apps.worker
    import celery.bin.celery
    import celery.concurrency.prefork  # noqa: F401

    connections.close_all()
    # Children are reaped by the kernel; each resets this after the fork.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    sys.stdout.write("zygote ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        started_read, started_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(started_read)
            _child(app, request, started_write)
        os.close(started_write)
        os.read(started_read, 1)
        os.close(started_read)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
