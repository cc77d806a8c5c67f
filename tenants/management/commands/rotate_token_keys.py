"""Re-encrypt every stored Facebook token with the newest key in TOKEN_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from tenants.services import token_keys_rotate
from tenants.services.pages import token_count


class Command(BaseCommand):
    help = (
        "Re-encrypt every page token with the first (newest) key of TOKEN_ENCRYPTION_KEYS. "
        "Safe to re-run. Afterwards the old keys can be removed from TOKEN_ENCRYPTION_KEYS."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", type=int, default=200, help="Rows per database update.")

    def handle(self, *args: Any, batch: int, **options: Any) -> None:
        total = token_count()
        with tqdm(total=total, unit="token", file=self.stdout, disable=total == 0) as progress:
            for done in token_keys_rotate(batch=batch):
                progress.update(done)
        self.stdout.write(
            f"Re-encrypted {total} token{'s' if total != 1 else ''} with the newest key. "
            "Older keys can now be removed from TOKEN_ENCRYPTION_KEYS."
        )
