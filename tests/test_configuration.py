"""The settings, the README's configuration table and docker-compose.yml name the same
environment variables, and the compose file runs what the app needs.

`docker compose config` itself runs where the compose plugin is installed (the docker client
here has none, and none can be installed offline); the structure is checked everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
# Read by the settings (env.str("NAME", ...), env.db("NAME"), ...).
SETTINGS_VARIABLE_RE = re.compile(r"env\.[a-z_]+\(\s*\"([A-Z][A-Z0-9_]+)\"")
# A row of the README's configuration table: | `NAME` | default | what |
README_ROW_RE = re.compile(r"^\| `([A-Z][A-Z0-9_]+)` \|", re.MULTILINE)
# Set by compose itself for every app container, or meaningful only outside containers.
COMPOSE_SETS = {"DEBUG", "SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL"}
# EDITOR_DEV_SERVER loads the editor from a Vite dev server: `make dev` only, never an image.
NOT_FOR_CONTAINERS = {"CONN_MAX_AGE", "SECURE_HSTS_SECONDS", "EDITOR_DEV_SERVER"}
APP_SERVICES = ("migrate", "web", "worker", "runtime", "beat", "sandbox")


def settings_variables() -> set[str]:
    return set(SETTINGS_VARIABLE_RE.findall((ROOT / "config" / "settings.py").read_text()))


def readme_variables() -> set[str]:
    return set(README_ROW_RE.findall((ROOT / "README.md").read_text()))


def compose() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return config


def test_every_setting_from_the_environment_is_in_the_readme() -> None:
    variables = settings_variables()
    assert "EVENTS_RETRY_WINDOW_SECONDS" in variables  # the pattern finds them at all
    assert variables - readme_variables() == set()


def test_the_readme_lists_no_variable_that_nothing_reads() -> None:
    granian = {"GRANIAN_WORKERS", "GRANIAN_BLOCKING_THREADS"}  # read by granian, not Django
    assert readme_variables() - settings_variables() - granian == set()


def test_compose_passes_every_setting_through_to_the_app() -> None:
    services = compose()["services"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        missing = settings_variables() - COMPOSE_SETS - NOT_FOR_CONTAINERS - set(environment)
        assert missing == set(), f"{name} does not pass {sorted(missing)} through"
        assert set(environment) >= COMPOSE_SETS
        assert environment["DEBUG"] == "0"


def test_compose_runs_a_worker_for_every_queue_and_the_image_command_for_web() -> None:
    services = compose()["services"]
    consumed = []
    for service in services.values():
        command = service.get("command") or []
        if command[:4] == ["celery", "-A", "config", "worker"]:
            consumed += command[command.index("-Q") + 1].split(",")
    # Every queue has a worker, and one only: the bot's runtime has its own (docs/scaling.md).
    assert sorted(consumed) == sorted(queue.name for queue in settings.CELERY_TASK_QUEUES)
    assert services["runtime"]["command"][services["runtime"]["command"].index("-Q") + 1] == (
        "runtime"
    )
    # On a shared host the events worker yields the CPU to the bot's turns (docs/scaling.md).
    assert services["worker"]["cpu_shares"] < services["runtime"].get("cpu_shares", 1024)
    dockerfile_cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)
    assert dockerfile_cmd is not None
    assert services["web"]["command"][:2] == yaml.safe_load(dockerfile_cmd.group(1))[:2]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert services["sandbox"]["profiles"] == ["sandbox"]
    for name in ("web", "worker", "runtime", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode
    != 0,
    reason="the docker client here has no compose plugin",
)
def test_docker_compose_config_accepts_the_file() -> None:
    env = {**os.environ, "SECRET_KEY": "x" * 50, "TOKEN_ENCRYPTION_KEYS": "k"}
    subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT, env=env, check=True)


@pytest.mark.parametrize(("value", "starts"), [("48", False), ("-1", False), ("0", True)])
def test_the_webhook_body_retention_is_refused_outside_0_to_24_hours(
    value: str, starts: bool
) -> None:
    environment = {**os.environ, "DEBUG": "1", "WEBHOOK_DELIVERY_RETENTION_HOURS": value}
    run = subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (run.returncode == 0) is starts, run.stderr
    if not starts:
        assert f"WEBHOOK_DELIVERY_RETENTION_HOURS={value} is out of range: use 0 to 24" in (
            run.stderr
        )
