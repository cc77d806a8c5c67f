"""The webhook's promise end to end: a 200 means the delivery is stored and will be processed.

The web server runs as in production (the Dockerfile's granian command, config.wsgi's fast
path) against the test database; the sandbox plays Messenger users. A server SIGKILLed after
its 200s, before any worker ran, loses nothing: a worker started afterwards answers every
person, once. A worker SIGKILLed in the middle of a backlog loses nothing either: its leases
run out and another worker takes the deliveries; a message it was sending at the kill may
reach the person twice, and nothing beyond that bound.
"""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from messenger.models import WebhookDelivery
from tests.sandbox_fixtures import GraphSandbox
from tests.servers import free_port, web_server_argv
from tests.system.harness import Cluster, wait_for
from tests.system.runtime_fixtures import (
    ASK_NEED,
    WELCOME,
    Lead,
    Messenger,
    acknowledged,
    runtime_worker,
)
from tests.system.workspace import PAGE_A, PAGE_B, Workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("lead_flows")]

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_PATH = "/webhooks/messenger"


FIRST_PSID = 6_100_000_000_300_000


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()  # noqa: S310 - loopback
    except urllib.error.HTTPError:
        return True  # the handshake refused (403): the app is up
    except OSError:
        return False
    return True


@contextmanager
def web_server(cluster: Cluster, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The production image's command on a loopback port, one process, in its own group."""
    port = free_port()
    argv = web_server_argv(port)
    with (tmp_path / "web.log").open("ab") as log:
        server = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=cluster.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    try:
        wait_for(
            lambda: _answers(url),
            timeout=60,
            what="the web server to answer",
            on_timeout=lambda: (tmp_path / "web.log").read_text()[-3000:],
        )
        server.args = url  # where it listens, for the test
        yield server
    finally:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def _openers(messenger: Messenger, people: list[Lead]) -> None:
    """Each person writes their first message; the app must answer each delivery 200."""
    for future in [messenger.say(p.page_id, p.psid, p.turns()[0][0]) for p in people]:
        acknowledged(future.result())


def _answered(messenger: Messenger, people: list[Lead]) -> dict[str, list[str]] | None:
    texts: dict[str, list[str]] = {p.psid: [] for p in people}
    for message in messenger.messages():
        if message["psid"] in texts:
            texts[message["psid"]].append(message["message"]["text"])
    if any(len(t) < 2 for t in texts.values()):
        return None
    return texts


def _unprocessed() -> int:
    return WebhookDelivery.objects.filter(processed_at__isnull=True).count()


@pytest.mark.timeout(300)
def test_a_delivery_answered_200_survives_the_web_server_killed_before_any_worker_ran(
    workspace: Workspace,
    cluster: Cluster,
    sandbox: GraphSandbox,
    messenger: Messenger,
    tmp_path: Path,
) -> None:
    people = [Lead.numbered((PAGE_A, PAGE_B)[n % 2], str(FIRST_PSID + n), n) for n in range(40)]
    with web_server(cluster, tmp_path) as server:
        sandbox.webhook_config(url=str(server.args), retries=0)
        _openers(messenger, people)
        os.killpg(server.pid, signal.SIGKILL)  # right after its last 200
        server.wait(timeout=30)

    # Stored, every one, and not yet run: no worker was there.
    assert WebhookDelivery.objects.count() == len(people)
    assert _unprocessed() == len(people)

    runtime_worker(cluster, concurrency=2)
    cluster.beat()
    answered = wait_for(
        lambda: _answered(messenger, people),
        timeout=120,
        what="every person to be answered",
        on_timeout=cluster.logs,
    )

    assert answered == {p.psid: [WELCOME, ASK_NEED] for p in people}
    wait_for(lambda: _unprocessed() == 0, timeout=60, what="every delivery to be processed")
    assert set(WebhookDelivery.objects.values_list("error", flat=True)) == {""}


@pytest.mark.timeout(300)
def test_a_worker_killed_in_a_backlog_loses_nothing(
    workspace: Workspace,
    cluster: Cluster,
    sandbox: GraphSandbox,
    messenger: Messenger,
    tmp_path: Path,
) -> None:
    people = [Lead.numbered((PAGE_A, PAGE_B)[n % 2], str(FIRST_PSID + n), n) for n in range(120)]
    with web_server(cluster, tmp_path) as server:
        sandbox.webhook_config(url=str(server.args), retries=0)
        _openers(messenger, people)

    first = runtime_worker(cluster, "first", concurrency=1)
    wait_for(lambda: _unprocessed() < len(people), timeout=120, what="the first worker to start")
    first.kill()  # SIGKILL, mid-batch: its claimed deliveries stay leased
    left = _unprocessed()
    assert 0 < left < len(people), "the worker must die with deliveries still waiting"

    runtime_worker(cluster, "second", concurrency=2)
    cluster.beat()
    answered = wait_for(
        lambda: _answered(messenger, people),
        timeout=180,
        what="every person to be answered after the kill",
        on_timeout=cluster.logs,
    )
    wait_for(lambda: _unprocessed() == 0, timeout=60, what="every delivery to be processed")

    # Each person got the welcome and the question, in order; the one message a killed worker
    # (concurrency 1) can have been sending when it died may arrive twice, nothing more.
    for person in people:
        texts = answered[person.psid]
        assert [t for n, t in enumerate(texts) if n == 0 or t != texts[n - 1]] == [
            WELCOME,
            ASK_NEED,
        ], person.psid
    extra = Counter({p: len(t) - 2 for p, t in answered.items() if len(t) > 2})
    assert sum(extra.values()) <= 1, extra
    assert set(WebhookDelivery.objects.values_list("error", flat=True)) == {""}
