"""Starting the app's web server as production does, for the tests that run it as a process
(tests/test_access_logs.py, tests/system/test_intake.py): the Dockerfile's command and a free
loopback port."""

from __future__ import annotations

import json
import re
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dockerfile_command() -> list[str]:
    """The production image's command (the Dockerfile's CMD, exec form)."""
    match = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert match, "the Dockerfile has no CMD in exec form"
    return list(json.loads(match.group(1)))


def web_server_argv(port: int, *, workers: int = 1) -> list[str]:
    """The image's command on a loopback port (options given after it win: the last counts),
    run with this interpreter's granian."""
    return [
        str(Path(sys.executable).with_name("granian")),
        *dockerfile_command()[1:],
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
    ]
