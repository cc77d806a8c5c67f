"""What the Graph contract tests share (test_contract.py, test_contract_ads.py): the login
pipeline's steps against the sandbox, and a Conversions API event of Ada's Page."""

from __future__ import annotations

import time
from typing import Any

from graph_api.client import GraphClient
from graph_api.types import PageAccount
from tests.sandbox_fixtures import ADA, ADA_PAGE, REDIRECT_URI, GraphSandbox

PSID = "6100000000000042"


def connect(
    sandbox_graph: GraphClient, graph_sandbox: GraphSandbox, user_id: str = ADA
) -> tuple[str, dict[str, PageAccount]]:
    """What the login pipeline does: code -> user token -> long-lived -> Page tokens."""
    code = graph_sandbox.login_code(user_id=user_id)
    short = sandbox_graph.exchange_code(code=code, redirect_uri=REDIRECT_URI)
    long_lived = sandbox_graph.exchange_long_lived(user_token=short.access_token)
    pages = {
        page.id: page for page in sandbox_graph.my_accounts(user_token=long_lived.access_token)
    }
    return long_lived.access_token, pages


def capi_event(
    event_name: str = "Purchase", page_id: str = ADA_PAGE, **extra: Any
) -> dict[str, Any]:
    return {
        "event_name": event_name,
        "event_time": int(time.time()),
        "action_source": "business_messaging",
        "messaging_channel": "messenger",
        "user_data": {"page_id": int(page_id), "page_scoped_user_id": int(PSID)},
        **extra,
    }
