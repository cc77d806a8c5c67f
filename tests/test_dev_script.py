"""`make dev` stopped with Ctrl-C is a clean stop: scripts/dev.py exits 0, so make prints no
"make: *** [Makefile] Error 130"."""

from __future__ import annotations

import importlib.util
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


def test_ctrl_c_while_starting_is_a_clean_stop(tmp_path: Path) -> None:
    """SIGINT while dev.py is still starting (here: blocked before migrating) exits 0."""
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
