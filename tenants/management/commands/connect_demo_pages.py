"""Give the demo workspace its Pages the way a person would: Facebook Login through the Graph
sandbox, then the page picker, over real HTTP against the running web server.

`make dev` runs it once the web server and the sandbox answer. It signs in as the demo owner,
clicks "Continue with Facebook", lets the sandbox's dialog answer as its test user Ada, and
connects two of Ada's Pages: one on page_activities, one on the Conversions API. Safe to re-run:
a demo workspace that already has Pages is left alone.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tenants.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME, DEMO_WORKSPACE
from tenants.models import ConnectedPage, Tenant

SANDBOX_USER = "200000000000001"  # Ada, in graph_api/sandbox/seed.json
DEMO_PAGES = {
    "300000000000001": "page_activities",  # Ada's Bakery
    "300000000000002": "conversions_api",  # Ada's Bike Shop
}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # we follow each hop ourselves, to know where it leads


class Browser:
    """Just enough of a browser: cookies, CSRF, and redirects returned rather than followed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def csrf(self) -> str:
        return next((c.value or "" for c in self.cookies if c.name == "csrftoken"), "")

    def request(
        self, method: str, url: str, data: dict[str, str] | None = None, *, json_body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        if url.startswith("/"):
            url = self.base_url + url
        headers = {"Referer": self.base_url + "/", "X-CSRFToken": self.csrf()}
        body = None
        if json_body is not None:
            body, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif data is not None:
            body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.csrf(), **data}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:  # 3xx (not followed) and 4xx/5xx land here
            return error.code, dict(error.headers), error.read()


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a local URL we were given)
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise CommandError(f"{url} did not answer within {seconds:.0f} s") from None
            time.sleep(0.25)


class Command(BaseCommand):
    help = "Connect two sandbox Pages to the demo workspace through a real Facebook Login."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--wait", type=float, default=0, help="Seconds to wait for servers.")

    def handle(self, *args: Any, base_url: str, wait: float, **options: Any) -> None:
        tenant = Tenant.objects.filter(name=DEMO_WORKSPACE).first()
        if tenant is None:
            raise CommandError("No demo workspace: run `manage.py seed_demo` first.")
        if ConnectedPage.objects.for_tenant(tenant).exists():
            self.stdout.write(f"Demo workspace already has its Pages: /t/{tenant.slug}/pages/")
            return
        if wait:
            wait_for(f"{base_url}/accounts/login/", wait)
            wait_for(f"{settings.GRAPH_API_URL}/_sandbox/", wait)

        browser = Browser(base_url)
        browser.request("GET", "/accounts/login/")
        status, _, _ = browser.request(
            "POST", "/accounts/login/", {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
        )
        if status != 302:
            raise CommandError("Could not sign in as the demo user.")

        status, headers, _ = browser.request("POST", "/auth/login/facebook/", {})
        dialog = headers.get("Location", "")
        if status != 302 or not dialog.startswith(settings.FACEBOOK_WWW_URL):
            raise CommandError(f"Facebook Login did not start (HTTP {status}).")
        auto = urllib.parse.urlencode({"sandbox_auto": "1", "sandbox_user": SANDBOX_USER})
        status, headers, _ = browser.request("GET", f"{dialog}&{auto}")
        callback = headers.get("Location", "")
        status, headers, body = browser.request("GET", callback)
        if status != 302 or "/accounts/login/" in headers.get("Location", ""):
            raise CommandError(f"Facebook Login did not complete (HTTP {status}).")

        for page_id, transport in DEMO_PAGES.items():
            status, _, body = browser.request(
                "POST",
                f"/api/v1/tenants/{tenant.slug}/pages/",
                json_body={"page_id": page_id, "transport": transport},
            )
            if status != 201:
                raise CommandError(f"Connecting Page {page_id} failed: {body.decode()[:300]}")
            self.stdout.write(f"Connected {json.loads(body)['name']} ({transport}).")
        self.stdout.write(f"Demo Pages are ready: {base_url}/t/{tenant.slug}/pages/")
        self._connect_ad_accounts(browser, tenant.slug, base_url)

    def _connect_ad_accounts(self, browser: Browser, slug: str, base_url: str) -> None:
        """The overview's "Connect ad accounts": a login with ads_read at the sandbox, then
        follow Ada's ad account, so Ads Manager's numbers come back from the sandbox."""
        status, headers, _ = browser.request("POST", f"/t/{slug}/ads/connect/", {})
        dialog = headers.get("Location", "")
        if status != 302 or not dialog.startswith(settings.FACEBOOK_WWW_URL):
            raise CommandError(f"Connecting ad accounts did not start (HTTP {status}).")
        auto = urllib.parse.urlencode({"sandbox_auto": "1", "sandbox_user": SANDBOX_USER})
        _, headers, _ = browser.request("GET", f"{dialog}&{auto}")
        status, headers, _ = browser.request("GET", headers.get("Location", ""))
        if status != 302 or headers.get("Location") != f"/t/{slug}/ads/":
            raise CommandError(f"Connecting ad accounts did not complete (HTTP {status}).")
        _, _, page = browser.request("GET", f"/t/{slug}/ads/")
        ids = re.findall(rb'name="follow" value="(\d+)"', page)
        status, _, _ = browser.request(
            "POST", f"/t/{slug}/ads/", {"follow": ids[0].decode()} if ids else {}
        )
        self.stdout.write(f"Following the sandbox's ad account: {base_url}/t/{slug}/ads/")
