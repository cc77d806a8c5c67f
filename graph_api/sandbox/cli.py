"""Command-line options shared by `python -m graph_api.sandbox` and `manage.py graph_sandbox`."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from .faults import FAULT_KINDS
from .seed import DEFAULT_SEED_PATH, load_seed
from .server import serve
from .state import SandboxConfig, WebhookSettings

DEFAULT_APP_ID = "100000000000001"
DEFAULT_APP_SECRET = "sandbox-app-secret"  # noqa: S105 - the sandbox's well-known test secret


def add_arguments(parser: argparse.ArgumentParser, *, app_credentials: bool = True) -> None:
    """Add the sandbox's options to a parser (Django's command parser is an ArgumentParser)."""
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    if app_credentials:
        parser.add_argument("--app-id", default=DEFAULT_APP_ID, help="the Facebook app id")
        parser.add_argument(
            "--app-secret", default=DEFAULT_APP_SECRET, help="the Facebook app secret"
        )
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED_PATH, help="seed JSON file")
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="added latency on every Graph call"
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of Graph calls that fail"
    )
    parser.add_argument(
        "--error", choices=FAULT_KINDS, default="500", help="the error --error-rate injects"
    )
    parser.add_argument("--error-page-id", help="limit --error-rate to one Page")
    parser.add_argument("--error-path", help="limit --error-rate to paths containing this")
    parser.add_argument(
        "--auto-login-user",
        help="test user id: the login dialog redirects at once as this user",
    )
    parser.add_argument(
        "--no-appsecret-proof",
        action="store_true",
        help="do not require appsecret_proof (Facebook's 'Require App Secret' off)",
    )
    parser.add_argument(
        "--request-log-size", type=int, default=5000, help="calls kept for /_sandbox/requests"
    )
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("SANDBOX_WEBHOOK_URL") or None,
        help="where /_sandbox/webhook/send delivers (env SANDBOX_WEBHOOK_URL)",
    )
    parser.add_argument(
        "--webhook-verify-token",
        default=os.environ.get("SANDBOX_WEBHOOK_VERIFY_TOKEN") or None,
        help="hub.verify_token of the GET handshake (env SANDBOX_WEBHOOK_VERIFY_TOKEN)",
    )
    parser.add_argument(
        "--webhook-retries", type=int, default=2, help="retries after a non-200 webhook answer"
    )
    parser.add_argument(
        "--webhook-backoff-ms", type=int, default=200, help="pause before the first retry (doubles)"
    )


def startup_faults(options: dict[str, Any]) -> list[dict[str, Any]]:
    """The faults the command-line flags ask for."""
    faults: list[dict[str, Any]] = []
    if options.get("latency_ms"):
        faults.append({"kind": "latency", "latency_ms": options["latency_ms"]})
    if options.get("error_rate"):
        fault: dict[str, Any] = {"kind": options["error"], "rate": options["error_rate"]}
        if options.get("error_page_id"):
            fault["page_id"] = options["error_page_id"]
        if options.get("error_path"):
            fault["path"] = options["error_path"]
        faults.append(fault)
    return faults


def run(options: dict[str, Any], *, app_id: str, app_secret: str) -> None:
    """Start the sandbox with parsed options and block until it is stopped."""
    config = SandboxConfig(
        app_id=app_id,
        app_secret=app_secret,
        require_appsecret_proof=not options.get("no_appsecret_proof", False),
        auto_login_user=options.get("auto_login_user"),
        request_log_size=options.get("request_log_size", 5000),
        webhook=WebhookSettings(
            url=options.get("webhook_url"),
            verify_token=options.get("webhook_verify_token"),
            retries=options.get("webhook_retries", 2),
            backoff_ms=options.get("webhook_backoff_ms", 200),
        ),
    )
    seed = load_seed(options.get("seed") or DEFAULT_SEED_PATH)
    if config.auto_login_user and config.auto_login_user not in seed.users:
        raise SystemExit(f"--auto-login-user {config.auto_login_user} is not a seed user")
    asyncio.run(
        serve(
            config,
            seed,
            host=options.get("host", "127.0.0.1"),
            port=options.get("port", 8765),
            faults=startup_faults(options),
        )
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m graph_api.sandbox`."""
    parser = argparse.ArgumentParser(
        prog="python -m graph_api.sandbox",
        description="A local stand-in for Facebook's Graph API and login dialog.",
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    run(options, app_id=options["app_id"], app_secret=options["app_secret"])
