"""What the tenants' tests share besides fixtures (tests/tenants/conftest.py has those)."""

from __future__ import annotations

from django.contrib.auth.models import User

from graph_api.types import GranularScope, PageAccount, TokenInfo
from tenants import services

GRAPH = "http://127.0.0.1:9/v25.0"  # config.settings_test's Graph: only `responses` answers it
ALL_TASKS = ("ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE")
ALL_SCOPES = (
    "page_events",
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "business_management",
)


def grant(
    user: User,
    page_id: str = "111",
    name: str = "Bike Shop",
    tasks: tuple[str, ...] = ALL_TASKS,
    scopes: tuple[str, ...] = ALL_SCOPES,
    granular: tuple[GranularScope, ...] = (),
) -> None:
    info = TokenInfo(is_valid=True, scopes=scopes, granular_scopes=granular)
    account = PageAccount(
        id=page_id, name=name, access_token=f"test-page-token-{page_id}", tasks=tasks
    )
    services.page_grants_replace(user=user, accounts=[account], token_info=info)
