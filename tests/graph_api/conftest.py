from __future__ import annotations

import pytest

from tests.sandbox_fixtures import ADA, ADA_PAGE, GraphSandbox


@pytest.fixture
def page_token(graph_sandbox: GraphSandbox) -> str:
    """A page token of Ada's first Page, minted by the reset sandbox."""
    return graph_sandbox.page_token(ADA, ADA_PAGE)
