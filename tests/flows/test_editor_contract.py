"""The editor's side of the contract, checked from the server's side.

The editor's unit tests (Vitest, frontend/src/**/*.test.ts) run against three files under
frontend/src/test/: the block registry and the event catalog exactly as the API serves them,
and a table of client-check cases whose expected problems are what the server says for the
same input. These tests fail when any of them is stale, so the editor can never be tested
against a registry, a catalog or messages the server no longer has. `UPDATE_FIXTURES=1` rewrites
them from the server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from flows.blocks import REGISTRY, BlockContext
from tenants.models import Tenant
from tenants.permissions import Role

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "frontend" / "src" / "test"
UPDATE = os.environ.get("UPDATE_FIXTURES") == "1"


def check(path: Path, actual: Any) -> None:
    """`path` holds `actual` (as JSON); with UPDATE_FIXTURES=1, make it so."""
    text = json.dumps(actual, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run UPDATE_FIXTURES=1 pytest {__file__}"
    assert json.loads(path.read_text(encoding="utf-8")) == actual, (
        f"{path.name} no longer matches the server: run UPDATE_FIXTURES=1 pytest {__file__} "
        "and check the editor still passes `npm test`."
    )


def test_the_editors_block_registry_fixture_is_what_the_api_serves(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    response = client_for(tenant, Role.VIEWER).get("/api/v1/blocks/")
    assert response.status_code == 200
    check(FIXTURES / "blocks.json", response.json())


def test_the_editors_catalog_fixture_is_what_the_api_serves(
    client_for: Callable[..., APIClient], tenant: Tenant
) -> None:
    response = client_for(tenant, Role.VIEWER).get("/api/v1/event-catalog")
    assert response.status_code == 200
    check(FIXTURES / "catalog.json", response.json())


def server_problems(block: str, data: object) -> list[dict[str, str]]:
    problems = REGISTRY[block].validate(data, BlockContext(node_id="n", transport=None))
    return [{"field": p.field, "message": p.message, "code": p.code} for p in problems]


def test_client_check_cases_expect_what_the_server_says() -> None:
    path = FIXTURES / "client_check_cases.json"
    cases = json.loads(path.read_text(encoding="utf-8"))
    assert len(cases) >= 20
    recomputed = [
        {**case, "problems": server_problems(case["block"], case["data"])} for case in cases
    ]
    check(path, recomputed)
    # The table covers every registered block type and both kinds of case.
    assert {case["block"] for case in cases} >= set(REGISTRY) - {"start", "end"}
    assert any(case["problems"] for case in cases)
    assert any(not case["problems"] for case in cases)
