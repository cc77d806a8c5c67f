"""Test Redis databases on the server REDIS_URL names (a private one under `make test` when it
is unset; see scripts/with_redis.py), one database number per suite that empties its own."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def redis_db_url(db: int) -> str:
    """REDIS_URL's server with database ``db`` (the settings' default server when unset)."""
    base = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    return urlunsplit(base._replace(path=f"/{db}"))
