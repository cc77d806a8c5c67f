"""The bot runtime's system tests' own pieces (tests/system/test_runtime.py imports them).

Its fixtures (named without their ``_fixture`` suffix) are registered by tests/system/conftest.py,
which imports them. On top of the delivery tests' harness (tests/system/conftest.py, harness.py,
workspace.py):

- ``runtime_worker(cluster)``: a worker forked from the cluster's zygote that consumes the
  ``runtime`` queue as well as ``delivery`` and ``default`` (``Cluster.worker`` takes only those
  two).
- ``webhook_url`` (fixture): the app's ``/webhooks/messenger`` on pytest-django's live server,
  a real HTTP server in this process on the test database; the sandbox delivers there.
- ``lead_flows`` (fixture): the lead-generation template published on both of the workspace's
  Pages (PAGE_A on page_activities, PAGE_B on the Conversions API).
- ``Lead``: one scripted person: what they send, and what the bot must answer to each.
- ``Messenger``: many people at once: signed deliveries through the sandbox's
  ``/_sandbox/webhook/send`` from a pool of threads, and what the bot sent (``/_sandbox/messages``).
- ``converse(...)``: drives every person's conversation, each answering only once the bot's
  previous answers reached the sandbox (as a person reads before typing), with a deadline.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from flows.models import Flow
from flows.services import flow_create, flow_publish
from tenants.services import Actor
from tests.sandbox_fixtures import GraphSandbox
from tests.system.harness import WORKER_READY, CeleryProcess, Cluster, Zygote, worker_argv
from tests.system.workspace import PAGE_A, PAGE_B, Workspace
from tests.timing import deadline as scaled

RUNTIME_QUEUES = "runtime,delivery,default"
WEBHOOK_PATH = "/webhooks/messenger"
POLL_SECONDS = 0.05

# What the lead-generation template (flows/flow_templates.py) says.
WELCOME = "Hi! We'd love to help. Two quick questions, then we'll put you in touch."
ASK_NEED = "What are you looking for?"
ASK_TIMELINE = "When would you like to get started?"
ASK_CHANNEL = "How should we contact you?"
ASK_EMAIL = "What's your email address?"
NOT_AN_EMAIL = "That doesn't look like an email address. Could you check it?"
THANKS = "Thank you! Someone from our team will contact you at {email} shortly."
NEEDS = ("A quote", "A consultation", "More information")
TIMELINES = ("This month", "In 1-3 months", "Later")
OPENERS = ("Hi, I'd like a quote", "Pricing?", "could I get some INFO")  # its three keywords


def runtime_worker(
    cluster: Cluster, name: str = "worker", *, concurrency: int = 2
) -> CeleryProcess:
    """Start (and wait for) a worker on the runtime, delivery and default queues."""
    if cluster.zygote is None:
        cluster.zygote = Zygote(env=cluster.env, log_dir=cluster.log_dir)
    process = CeleryProcess(
        name,
        worker_argv(name, concurrency=concurrency, queues=RUNTIME_QUEUES),
        env=cluster.env,
        log_dir=cluster.log_dir,
        ready=WORKER_READY,
        zygote=cluster.zygote,
    )
    cluster.processes.append(process)  # killed with the cluster's other processes
    process.start()
    process.wait_ready()
    return process


@pytest.fixture(name="webhook_url")
def webhook_url_fixture(live_server: Any, sandbox: GraphSandbox) -> str:
    """The app's webhook on the live server, where the sandbox sends deliveries (no retries:
    a delivery the app did not take shows as such)."""
    url = f"{live_server.url}{WEBHOOK_PATH}"
    sandbox.webhook_config(url=url, retries=0)
    return url


@pytest.fixture(name="lead_flows")
def lead_flows_fixture(workspace: Workspace) -> dict[str, Flow]:
    """The lead-generation template, published on both Pages of the workspace."""
    actor = Actor(user=workspace.owner.user)
    flows = {}
    for page_id in (PAGE_A, PAGE_B):
        flow = flow_create(
            tenant=workspace.tenant,
            actor=actor,
            page_id=workspace.pages[page_id].pk,
            template="lead_generation",
        )
        flow_publish(tenant=workspace.tenant, actor=actor, flow_id=flow.pk)
        flows[page_id] = flow
    return flows


@dataclass(frozen=True)
class Lead:
    """One person going through the lead template: opener, need, timeline, Email, maybe a
    wrong email address first, then theirs."""

    page_id: str
    psid: str
    opener: str = OPENERS[0]
    need: str = NEEDS[0]
    timeline: str = TIMELINES[0]
    bad_email: bool = False

    @classmethod
    def numbered(cls, page_id: str, psid: str, n: int) -> Lead:
        """The n-th person: openers, needs and timelines in turn; every fourth mistypes."""
        return cls(
            page_id=page_id,
            psid=psid,
            opener=OPENERS[n % 3],
            need=NEEDS[(n // 3) % 3],
            timeline=TIMELINES[n % 3],
            bad_email=n % 4 == 0,
        )

    @property
    def email(self) -> str:
        return f"lead-{self.psid}@example.com"

    @property
    def note(self) -> str:
        """The handoff block's note the conversation must end with."""
        return f"New lead: {self.need}, starting {self.timeline}. Contact by Email: {self.email}."

    def turns(self) -> list[tuple[dict[str, Any], list[str]]]:
        """What the person sends, each with the texts the bot answers it with, in order."""
        turns: list[tuple[dict[str, Any], list[str]]] = [
            ({"text": self.opener}, [WELCOME, ASK_NEED]),
            (_choose(self.need), [ASK_TIMELINE]),
            (_choose(self.timeline), [ASK_CHANNEL]),
            (_choose("Email"), [ASK_EMAIL]),
        ]
        if self.bad_email:
            turns.append(({"text": "lead at example dot com"}, [NOT_AN_EMAIL, ASK_EMAIL]))
        turns.append(({"text": self.email}, [THANKS.format(email=self.email)]))
        return turns

    def bot_texts(self) -> list[str]:
        return [text for _, answers in self.turns() for text in answers]


def _choose(title: str) -> dict[str, Any]:
    """Pressing one of the template's quick replies (payload = title)."""
    return {"quick_reply": {"text": title, "payload": title}}


class Messenger:
    """Many Messenger users at once, through the sandbox's control API from a thread pool."""

    def __init__(self, sandbox: GraphSandbox, *, threads: int = 16) -> None:
        self.url = sandbox.url
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="messenger")
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._reader = requests.Session()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._sessions.append(session)
        return session

    def _control(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = self._session().post(f"{self.url}/_sandbox{path}", json=body, timeout=scaled(30))
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def say(self, page_id: str, psid: str, what: Mapping[str, Any]) -> Future[dict[str, Any]]:
        """Have the sandbox deliver one signed message to the app; the delivery, once answered."""
        body = {"page_id": page_id, "psid": psid, "retries": 0, **what}
        return self._pool.submit(self._control, "/webhook/send", body)

    def resend(self, delivery_id: int) -> Future[dict[str, Any]]:
        """The same bytes and signature again, as Facebook's retries send them."""
        return self._pool.submit(
            self._control, "/webhook/resend", {"delivery_id": delivery_id, "retries": 0}
        )

    def messages(self, since: int = 0) -> list[dict[str, Any]]:
        """What the Pages sent through the Send API after the message numbered ``since``."""
        response = self._reader.get(
            f"{self.url}/_sandbox/messages", params={"since": since}, timeout=scaled(30)
        )
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for session in [*self._sessions, self._reader]:
            session.close()


@pytest.fixture(name="messenger")
def messenger_fixture(sandbox: GraphSandbox) -> Iterator[Messenger]:
    people = Messenger(sandbox)
    yield people
    people.close()


def acknowledged(delivery: Mapping[str, Any]) -> None:
    """Fail unless the app answered the sandbox's delivery 200."""
    assert delivery["ok"], {key: delivery.get(key) for key in ("id", "status", "attempts")}


def converse(
    messenger: Messenger,
    people: Sequence[Lead],
    *,
    timeout: float,
    on_sent: Callable[[dict[str, Any]], None] | None = None,
    on_timeout: Callable[[], str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Run every person's conversation at once; returns the bot's messages by PSID, in the
    order the sandbox received them.

    A person sends their next message only when the bot's answers to the last one have all
    reached the sandbox. ``on_sent`` sees each delivery once the app acknowledged it (the
    duplicate test resends it there).
    """
    turns = {person.psid: person.turns() for person in people}
    page_of = {person.psid: person.page_id for person in people}
    received: dict[str, list[dict[str, Any]]] = defaultdict(list)
    expected = {
        psid: [sum(len(answers) for _, answers in steps[: i + 1]) for i in range(len(steps))]
        for psid, steps in turns.items()
    }
    turn = dict.fromkeys(turns, 0)
    in_flight: dict[str, Future[dict[str, Any]] | None] = {}
    for psid, steps in turns.items():
        in_flight[psid] = messenger.say(page_of[psid], psid, steps[0][0])
    last_id = 0
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        for message in messenger.messages(since=last_id):
            received[message["psid"]].append(message)
            last_id = max(last_id, int(message["id"]))
        for psid, steps in turns.items():
            future = in_flight[psid]
            if future is not None:
                if not future.done():
                    continue
                delivery = future.result()
                acknowledged(delivery)
                if on_sent is not None:
                    on_sent(delivery)
                in_flight[psid] = None
            index = turn[psid]
            if index < len(steps) and len(received[psid]) >= expected[psid][index]:
                turn[psid] = index = index + 1
                if index < len(steps):
                    in_flight[psid] = messenger.say(page_of[psid], psid, steps[index][0])
        if all(turn[psid] == len(steps) for psid, steps in turns.items()):
            return dict(received)
        if time.monotonic() >= deadline:
            behind = {
                psid: f"turn {turn[psid]}/{len(steps)}, {len(received[psid])} messages"
                for psid, steps in turns.items()
                if turn[psid] < len(steps)
            }
            detail = on_timeout() if on_timeout else ""
            raise AssertionError(
                f"gave up after {timeout:.0f} s: {len(behind)} of {len(turns)} conversations "
                f"unfinished, e.g. {dict(list(behind.items())[:5])}\n{detail}"
            )
        time.sleep(POLL_SECONDS)
