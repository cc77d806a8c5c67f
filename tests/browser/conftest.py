"""Browser tests: Playwright for Python driving Debian's Chromium against pytest-django's
live server.

Every test under tests/browser is marked `browser` (`pytest -m "not browser"` leaves them out)
and is skipped, saying why, where /usr/bin/chromium is missing (`apt-get install chromium`).
The `browser` fixture is tests/chromium.py's. Playwright's own browser downloads are never used:
they need the internet.

Screenshots go to a temporary directory, or to docs/screenshots/ with UPDATE_SCREENSHOTS=1, so
an ordinary test run never rewrites the committed pictures.

Every page a test opens is watched for Content-Security-Policy violations (Chromium's console
message and the page's `securitypolicyviolation` event): a test whose screens break the policy
fails, whatever else it checks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from pytest_django.live_server_helper import LiveServer

from tests.browser.helpers import TIMEOUT_MS, assert_no_violations, watch_csp
from tests.chromium import CHROMIUM

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE.parent.parent / "docs" / "screenshots"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.browser)
        if not CHROMIUM.exists():
            item.add_marker(
                pytest.mark.skip(reason=f"{CHROMIUM} not found: apt-get install chromium")
            )


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context (no cookies) whose relative URLs go to the live server."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, locale="en-US"
    )
    context.set_default_timeout(TIMEOUT_MS)
    violations = watch_csp(context)
    page = context.new_page()
    yield page
    context.close()
    assert_no_violations(violations)


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path
