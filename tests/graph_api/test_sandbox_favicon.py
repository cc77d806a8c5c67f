"""Browsers ask the sandbox for /favicon.ico on every page; it answers an icon, not the Graph
catch-all's 400 (a console error on every sandbox page before)."""

from __future__ import annotations

from tests.sandbox_fixtures import GraphSandbox


def test_the_sandbox_serves_a_favicon(graph_sandbox: GraphSandbox) -> None:
    response = graph_sandbox.http.get(f"{graph_sandbox.url}/favicon.ico", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    assert response.text.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
