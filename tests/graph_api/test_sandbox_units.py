"""Unit tests of the sandbox's pure parts: tokens, validation, faults, seed, standalone imports."""

from __future__ import annotations

import ast
import hashlib
import hmac
import time
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from graph_api.management.commands.graph_sandbox import Command
from graph_api.sandbox import tokens
from graph_api.sandbox.cli import startup_faults
from graph_api.sandbox.errors import GraphError
from graph_api.sandbox.faults import FaultBook
from graph_api.sandbox.seed import SeedError, load_seed, parse_seed
from graph_api.sandbox.validation import EVENT_NAME_RE, unsigned_int, validate_page_activities

SANDBOX_DIR = Path(__file__).resolve().parents[2] / "graph_api" / "sandbox"


def test_tokens_round_trip_and_never_look_like_facebooks() -> None:
    token, claims = tokens.mint(
        kind="page", app_id="1", user_id="2", page_id="3", scopes=("page_events",), long_lived=True
    )

    assert token.startswith("sbx_p_")
    assert tokens.decode(token) == claims
    assert claims.expires_at == 0
    assert not claims.is_expired(time.time() + 10**9)


def test_tampered_or_foreign_tokens_do_not_decode() -> None:
    token, _ = tokens.mint(kind="user", app_id="1", user_id="2", scopes=())
    head, _, signature = token.rpartition(".")

    assert tokens.decode(head + "." + signature[::-1]) is None
    assert tokens.decode(head.replace("sbx_u_", "sbx_p_") + "." + signature) is None
    assert tokens.decode("EAAB" + "x" * 50) is None
    assert tokens.decode("sbx_u_%%%.abc") is None


def test_short_lived_user_token_lasts_an_hour() -> None:
    _, claims = tokens.mint(kind="user", app_id="1", user_id="2", scopes=(), now=1000.0)
    assert claims.expires_at == 1000 + 3600
    assert claims.is_expired(1000 + 3600)


def test_appsecret_proof_is_facebooks_hmac() -> None:
    expected = hmac.new(b"sandbox-app-secret", b"sbx_u_token", hashlib.sha256).hexdigest()
    assert tokens.appsecret_proof("sandbox-app-secret", "sbx_u_token") == expected


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("fb_mobile_purchase", True),
        ("lead_submitted", True),
        ("_private", True),
        ("9lives", True),
        ("a" * 40, True),
        ("with space-and-hyphen", True),
        ("a" * 41, False),
        ("", False),
        (" leading space", False),
        ("trailing_newline\n", False),  # `$` alone would match before it
        ("-leading-hyphen", False),
        ("dot.name", False),
        ("émoji", False),
    ],
)
def test_event_name_regex(name: str, valid: bool) -> None:
    assert bool(EVENT_NAME_RE.fullmatch(name)) is valid


@pytest.mark.parametrize(
    ("value", "ok"),
    [(5, True), ("5", True), ("0", True), (-1, False), ("1.5", False), (True, False), ("", False)],
)
def test_unsigned_int(value: object, ok: bool) -> None:
    if ok:
        assert unsigned_int(value, "x") == str(value)
    else:
        with pytest.raises(GraphError):
            unsigned_int(value, "x")


def test_page_activities_parameters_from_a_form_are_coerced() -> None:
    call = validate_page_activities(
        {
            "custom_events": '[{"_eventName":"fb_mobile_purchase","_valueToSum":"9.5","fb_num_items":2,"_logTime":"1700000000"}]',
            "page_id": "300000000000001",
            "page_scoped_user_id": "42",
            "advertiser_tracking_enabled": "1",
            "logging_target": "Page",
        }
    )

    assert (call.psid, call.logging_target, call.advertiser_tracking_enabled) == (
        "42",
        "PAGE",
        True,
    )
    [event] = call.events
    assert (event.value, event.params, event.meta) == (
        9.5,
        {"fb_num_items": 2},
        {"_logTime": 1700000000},
    )


def test_fault_count_is_deterministic_and_scoped() -> None:
    book = FaultBook(seed=1)
    book.add({"kind": "500", "count": 2, "page_id": "1", "path": "page_activities"})

    draws = [
        book.draw(method="POST", path="/1/page_activities", page_id=page)[1]
        for page in ("2", "1", "1", "1")
    ]

    assert [fault is not None for fault in draws] == [False, True, True, False]


def test_command_line_flags_become_faults() -> None:
    assert startup_faults(
        {"latency_ms": 20, "error_rate": 0.25, "error": "80001", "error_page_id": "9"}
    ) == [
        {"kind": "latency", "latency_ms": 20},
        {"kind": "80001", "rate": 0.25, "page_id": "9"},
    ]


def test_management_command_takes_the_sandbox_flags_but_not_the_app_credentials() -> None:
    parser = Command().create_parser("manage.py", "graph_sandbox")
    options = parser.parse_args(
        ["--port", "9000", "--latency-ms", "5", "--auto-login-user", "200000000000001"]
    )

    assert (options.port, options.latency_ms, options.auto_login_user) == (
        9000,
        5,
        "200000000000001",
    )
    with pytest.raises(CommandError, match="unrecognized arguments: --app-id 1"):
        parser.parse_args(["--app-id", "1"])


def test_seed_defaults_cover_the_scenarios_tests_need() -> None:
    seed = load_seed()
    ada, bob, cleo = seed.users.values()

    assert sum("ANALYZE" in tasks for tasks in ada.page_tasks.values()) == 3
    assert any("ANALYZE" not in tasks for tasks in ada.page_tasks.values())
    assert len(bob.page_tasks) == 60
    assert "page_events" not in cleo.default_permissions
    assert {"act_400000000000001", "500000000000001"} <= set(seed.ad_objects)
    assert len(set(seed.datasets)) == len(seed.pages)


def test_seed_refuses_typos() -> None:
    with pytest.raises(SeedError, match="unknown page tasks"):
        parse_seed(
            {
                "users": [{"id": "1", "name": "x", "email": "e", "pages": {"2": ["ANALYSE"]}}],
                "pages": [{"id": "2", "name": "p"}],
            }
        )


def test_sandbox_imports_nothing_outside_itself() -> None:
    """Standalone: no app and no other graph_api module (import-linter checks only the apps)."""
    for path in SANDBOX_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                assert node.level in (0, 1), f"{path.name} imports from outside the sandbox"
                module = node.module or ""
            elif isinstance(node, ast.Import):
                module = node.names[0].name
            else:
                continue
            root = module.split(".")[0]
            assert root not in {"config", "tenants", "flows", "events", "graph_api", "django"}, (
                f"{path.name}: {module}"
            )
