"""200 Messenger conversations at once, end to end: how long the bot takes to finish them.

    uv run python benchmarks/conversations.py        # needs DATABASE_URL (PostgreSQL) and REDIS_URL

Runs the system test that drives them (tests/system/test_runtime.py, "two hundred
conversations at once"): the Graph sandbox plays 200 Messenger users, half on a page_activities
Page and half on a Conversions API Page, each going through the lead-generation template's
turns; the webhook runs on a live server, a Celery worker (4 processes) on the runtime and
delivery queues and beat do the rest, against PostgreSQL and Redis. The test asserts the
outcome (every conversation answered in order, handed off, each lead delivered once) and,
asked through PAGEPULSE_CONVERSATIONS_FIGURES, writes the timings this script prints: the
seconds until every conversation ended, and until every lead reached the sandbox. The test
gives up only after its (generous, TEST_TIME_SCALE-scaled) deadline: how fast is measured
here, never decided there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = (
    "tests/system/test_runtime.py::"
    "test_two_hundred_conversations_at_once_each_answered_in_order_and_each_lead_once"
)


def main() -> int:
    if "postgres" not in os.environ.get("DATABASE_URL", ""):
        print("conversations: skipped, it needs DATABASE_URL set to a PostgreSQL database")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.json"
        env = {**os.environ, "PAGEPULSE_CONVERSATIONS_FIGURES": str(figures)}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            env=env,
            check=False,
        )
        if done.returncode != 0 or not figures.exists():
            print("benchmark: the conversations did not all finish (see the test's output)")
            return 1
        result = json.loads(figures.read_text())
    print(
        f"{result['conversations']} conversations, {result['deliveries']} webhook deliveries, "
        f"{result['bot_messages']} bot messages: all conversations ended in "
        f"{result['conversed_seconds']:.1f} s "
        f"({result['conversations'] / result['conversed_seconds']:.1f} conversations/s); "
        f"every lead delivered {result['leads_delivered_seconds']:.1f} s after the first message"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
