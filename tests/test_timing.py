"""TEST_TIME_SCALE (tests/timing.py): one setting stretches every deadline of the suite."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests import timing
from tests.system import harness


@pytest.fixture
def reload_timing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.undo()
    importlib.reload(timing)


@pytest.mark.usefixtures("reload_timing")
@pytest.mark.parametrize(("scale", "seconds"), [("1", 60.0), ("2.5", 150.0), ("0.5", 30.0)])
def test_the_setting_scales_a_deadline(
    monkeypatch: pytest.MonkeyPatch, scale: str, seconds: float
) -> None:
    monkeypatch.setenv("TEST_TIME_SCALE", scale)

    assert importlib.reload(timing).deadline(60) == seconds


@pytest.mark.usefixtures("reload_timing")
@pytest.mark.parametrize("scale", ["0", "-1", "fast", "nan"])
def test_a_scale_that_is_not_above_zero_is_refused_saying_why(
    monkeypatch: pytest.MonkeyPatch, scale: str
) -> None:
    monkeypatch.setenv("TEST_TIME_SCALE", scale)

    with pytest.raises(ValueError, match="TEST_TIME_SCALE must be a number above 0"):
        importlib.reload(timing)


def test_the_system_tests_waits_are_scaled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "scaled", lambda seconds: seconds * 3)

    with pytest.raises(AssertionError, match="gave up after 3 s waiting for nothing"):
        harness.wait_for(lambda: None, timeout=1, what="nothing", interval=0.2)


def test_pytest_timeouts_are_scaled_too() -> None:
    # Under TEST_TIME_SCALE=4, pyproject's 300 s per test becomes 1200 s (tests/conftest.py).
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"{__file__}::test_the_timeout_of_this_test",
            "-s",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        env={**os.environ, "TEST_TIME_SCALE": "4"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "pytest-timeout: 1200.0 s" in done.stdout, done.stdout + done.stderr


def test_the_timeout_of_this_test(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    limit = marker.args[0] if marker else request.config.getini("timeout")
    print(f"pytest-timeout: {float(limit)} s")  # noqa: T201 - read by the test above
