"""`make dev` stopped with Ctrl-C is a clean stop: scripts/dev.py exits 0, so make prints no
"make: *** [Makefile] Error 130"."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "scripts" / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("honcho_returncode", "exit_code"),
    [
        (None, 0),
        (0, 0),
        (128 + signal.SIGINT, 0),  # Ctrl-C
        (128 + signal.SIGTERM, 0),  # stopped by a supervisor
        (1, 1),  # a process died on its own: that stays an error
        (3, 3),
    ],
)
def test_exit_code(dev: ModuleType, honcho_returncode: int | None, exit_code: int) -> None:
    assert dev.exit_code(honcho_returncode) == exit_code


def stub_dev(tmp_path: Path) -> Path:
    """scripts/dev.py's main() with its first step (migrating) replaced by printing "ready" and
    waiting, and no private Redis: everything up to running the servers is the real script."""
    script = tmp_path / "run.py"
    script.write_text(
        "import os, runpy, signal, sys, threading\n"
        # Ctrl-C as in a terminal: a job started in the background (a CI runner's) inherits
        # SIGINT ignored, and Python then installs no KeyboardInterrupt for it.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "module = runpy.run_path(sys.argv[1])\n"
        "main = module['main']\n"
        "def manage(*args, **kwargs):\n"
        "    print('ready', flush=True)\n"
        "    threading.Event().wait()\n"
        "main.__globals__['manage'] = manage\n"
        "main.__globals__['start_private_redis'] = lambda: (None, 'redis://127.0.0.1:9/0')\n"
        "sys.exit(main())\n"
    )
    return script


def test_ctrl_c_while_starting_is_a_clean_stop(tmp_path: Path) -> None:
    """SIGINT while dev.py is still starting (here: blocked before migrating) exits 0."""
    script = stub_dev(tmp_path)
    with subprocess.Popen(
        [sys.executable, str(script), str(ROOT / "scripts" / "dev.py")],
        stdout=subprocess.PIPE,
        cwd=tmp_path,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            process.kill()  # a failure above must not leave the test waiting for it forever


def read_until(fd: int, wanted: bytes, output: bytearray, timeout: float = 30) -> bool:
    """Read the terminal into `output` until `wanted` appears (True) or it closes (False)."""
    while wanted not in output:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal closed: every process on it is gone
            return False
        if not chunk:
            return False
        output += chunk
    return True


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_ctrl_c_in_a_terminal_stops_make_dev_with_exit_0_and_no_make_error(
    tmp_path: Path,
) -> None:
    """Ctrl-C typed in a real terminal (a pseudo-terminal) reaches the whole foreground group;
    make must not report it. The recipe is `make dev`'s, with dev.py's starting step stubbed
    (stub_dev): running migrations, Redis, web, worker and sandbox here would be too heavy."""
    makefile = tmp_path / "Makefile"
    script = stub_dev(tmp_path)
    dev_py = ROOT / "scripts" / "dev.py"
    makefile.write_text(f"dev:\n\t{sys.executable} {script} {dev_py}\n")
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        os.chdir(tmp_path)
        os.execvp("make", ["make", "--no-print-directory", "dev"])  # noqa: S606 - the pty child
    output = bytearray()
    try:
        assert read_until(fd, b"ready", output), output.decode(errors="replace")
        os.write(fd, b"\x03")  # Ctrl-C, as typed: the terminal turns it into SIGINT
        read_until(fd, b"\0never", output)  # everything until the terminal closes
        _, status = os.waitpid(pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "Error" not in text, text
    assert "Interrupt" not in text, text
