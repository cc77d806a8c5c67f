"""What the browser tests share besides fixtures (tests/browser/conftest.py has those): the
password of the people they create, Playwright's timeout, signing in through the form, and
watching a browser context for Content-Security-Policy violations."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page, expect

from tenants.models import Membership, Tenant

PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 10_000


def person(
    username: str,
    tenant: Tenant | None = None,
    role: str | None = None,
    *,
    superuser: bool = False,
    **fields: str,
) -> User:
    """Someone who signs in with PASSWORD (username@example.com), a member of `tenant` with
    `role` when both are given; a superuser (for the Django admin) when asked."""
    create = User.objects.create_superuser if superuser else User.objects.create_user
    user = create(username=username, email=f"{username}@example.com", password=PASSWORD, **fields)
    if tenant is not None and role is not None:
        Membership.objects.create(tenant=tenant, user=user, role=role)
    return user


def block(page: Page, name: str) -> Locator:
    """A block on the flow editor's canvas, by its accessible name ("Send message: Hi!")."""
    return page.get_by_role("region", name="Flow canvas").get_by_role(
        "group", name=re.compile("^" + re.escape(name))
    )


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person does, and wait until it let them in."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


# Runs in every document before its own scripts (through the DevTools protocol, so the page's
# policy does not apply to it) and reports each violation to the test.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
    `at ${e.sourceFile || document.location.href}:${e.lineNumber}`);
});
"""


def watch_csp(context: BrowserContext) -> list[str]:
    """Collect every CSP violation in the context's pages (console and event) into a list."""
    violations: list[str] = []

    def report(violation: str) -> None:
        violations.append(violation)

    context.expose_function("__cspViolation", report)
    context.add_init_script(REPORT_VIOLATIONS)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"console: {message.text}")

    context.on("console", on_console)
    return violations


def assert_no_violations(violations: list[str]) -> None:
    assert violations == [], "Content-Security-Policy violations:\n" + "\n".join(violations)
