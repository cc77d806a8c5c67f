"""The sandbox's world: test users, their Pages and tasks, ad accounts and campaigns.

Loaded once from a JSON file (seed.json beside this module by default) into immutable records, so
handlers read it without locks or copies. What changes at run time lives in state.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SEED_PATH = Path(__file__).with_name("seed.json")

# Every task Facebook knows on a Page; a seed naming another is a typo we refuse at start-up.
PAGE_TASKS = frozenset(
    {"ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MANAGE", "MESSAGING", "MODERATE"}
)

# Permissions the login dialog accepts in `scope`; anything else is "Invalid Scopes".
KNOWN_PERMISSIONS = frozenset(
    {
        "public_profile",
        "email",
        "page_events",
        "pages_show_list",
        "pages_messaging",
        "pages_manage_metadata",
        "pages_read_engagement",
        "pages_manage_posts",
        "business_management",
        "ads_read",
        "ads_management",
        "read_insights",
    }
)


class SeedError(ValueError):
    """The seed file is malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class Page:
    """A Facebook Page."""

    id: str
    name: str
    category: str
    dataset_id: str


@dataclass(frozen=True, slots=True)
class User:
    """A test user, the permissions they grant when asked, and their tasks on each Page."""

    id: str
    name: str
    email: str
    default_permissions: frozenset[str]
    page_tasks: dict[str, tuple[str, ...]]  # in the order /me/accounts lists them


@dataclass(frozen=True, slots=True)
class AdObject:
    """An ad account (`act_…`), a campaign or an ad whose insights count leads for its Pages."""

    id: str
    name: str
    kind: str  # "account" | "campaign" | "ad"
    account_id: str
    page_ids: frozenset[str]
    user_ids: frozenset[str]
    campaign_id: str | None = None  # an ad's campaign (a campaign's own id)
    campaign_name: str | None = None
    currency: str = "USD"  # the ad account's currency: spend is in it


@dataclass(frozen=True, slots=True)
class Seed:
    """Everything loaded from the seed file, indexed for lookups by id."""

    app_name: str
    users: dict[str, User]
    pages: dict[str, Page]
    ad_objects: dict[str, AdObject]
    datasets: dict[str, str]  # dataset id -> page id


def dataset_id_for(page_id: str) -> str:
    """The dataset id of a Page: derived, so it is the same after a restart (like a real one)."""
    digest = int(hashlib.sha256(f"dataset:{page_id}".encode()).hexdigest()[:12], 16)
    return f"7{digest % 10**14:014d}"


def psid_for(user_id: str, page_id: str) -> str:
    """The page-scoped id of a person on a Page: 16 digits, derived, so stable across restarts.

    Like Facebook's, it differs per Page for the same person; `61` starts every one.
    """
    digest = int(hashlib.sha256(f"psid:{user_id}:{page_id}".encode()).hexdigest()[:12], 16)
    return f"61{digest % 10**14:014d}"


def load_seed(path: Path = DEFAULT_SEED_PATH) -> Seed:
    """Read and check a seed file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SeedError(f"cannot read seed {path}: {exc}") from exc
    return parse_seed(raw)


def parse_seed(raw: dict[str, Any]) -> Seed:
    """Build a Seed from its JSON form (see seed.json and the README for the shape)."""
    pages: dict[str, Page] = {}
    for entry in raw.get("pages", []):
        _add_page(pages, str(entry["id"]), entry["name"], entry.get("category", "Business"))

    users: dict[str, User] = {}
    for entry in raw.get("users", []):
        user_id = str(entry["id"])
        page_tasks = {
            str(pid): _tasks(user_id, tasks) for pid, tasks in entry.get("pages", {}).items()
        }
        generated = entry.get("generated_pages")
        if generated:
            first = int(generated["first_id"])
            for n in range(int(generated["count"])):
                page_id = str(first + n)
                name = str(generated.get("name", "Generated Page {n}")).format(n=n + 1)
                _add_page(pages, page_id, name, generated.get("category", "Business"))
                page_tasks[page_id] = _tasks(user_id, generated["tasks"])
        for page_id in page_tasks:
            if page_id not in pages:
                raise SeedError(f"user {user_id} has tasks on unknown page {page_id}")
        permissions = frozenset(entry.get("permissions", []))
        if unknown := permissions - KNOWN_PERMISSIONS:
            raise SeedError(f"user {user_id} has unknown permissions {sorted(unknown)}")
        users[user_id] = User(
            id=user_id,
            name=entry["name"],
            email=entry["email"],
            default_permissions=permissions,
            page_tasks=page_tasks,
        )
    if not users:
        raise SeedError("the seed needs at least one user")

    ad_objects: dict[str, AdObject] = {}
    for account in raw.get("ad_accounts", []):
        account_id = str(account["id"])
        if not account_id.startswith("act_"):
            raise SeedError(f"ad account id {account_id} must start with act_")
        user_ids = frozenset(str(u) for u in account.get("users", []))
        campaigns = account.get("campaigns", [])
        account_pages = {str(p) for p in account.get("page_ids", [])}
        for campaign in campaigns:
            account_pages.update(str(p) for p in campaign.get("page_ids", []))
        currency = str(account.get("currency", "USD"))
        ad_objects[account_id] = AdObject(
            account_id,
            account["name"],
            "account",
            account_id,
            frozenset(account_pages),
            user_ids,
            currency=currency,
        )
        for campaign in campaigns:
            campaign_id = str(campaign["id"])
            ad_objects[campaign_id] = AdObject(
                campaign_id,
                campaign["name"],
                "campaign",
                account_id,
                frozenset(str(p) for p in campaign.get("page_ids", [])),
                user_ids,
                campaign_id=campaign_id,
                campaign_name=campaign["name"],
                currency=currency,
            )
            for ad in campaign.get("ads", []):
                ad_id, ad_page = str(ad["id"]), str(ad["page_id"])
                if ad_page not in pages:
                    raise SeedError(f"ad {ad_id} advertises unknown page {ad_page}")
                ad_objects[ad_id] = AdObject(
                    ad_id,
                    ad["name"],
                    "ad",
                    account_id,
                    frozenset({ad_page}),
                    user_ids,
                    campaign_id=campaign_id,
                    campaign_name=campaign["name"],
                    currency=currency,
                )

    return Seed(
        app_name=raw.get("app_name", "Pagepulse Sandbox"),
        users=users,
        pages=pages,
        ad_objects=ad_objects,
        datasets={page.dataset_id: page.id for page in pages.values()},
    )


def _add_page(pages: dict[str, Page], page_id: str, name: str, category: str) -> None:
    if not page_id.isdigit():
        raise SeedError(f"page id {page_id!r} must be numeric, as Facebook's are")
    pages[page_id] = Page(page_id, name, category, dataset_id_for(page_id))


def _tasks(user_id: str, tasks: list[str]) -> tuple[str, ...]:
    if unknown := set(tasks) - PAGE_TASKS:
        raise SeedError(f"user {user_id} has unknown page tasks {sorted(unknown)}")
    return tuple(tasks)
