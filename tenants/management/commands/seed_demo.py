"""Create the demo workspace and users for `make dev`. Safe to run again: it changes nothing
that already exists."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from tenants import services
from tenants.models import Tenant

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "pagepulse-demo"  # noqa: S105  (a local demo login, printed on purpose)
DEMO_EMAIL = "demo@pagepulse.test"
COLLEAGUE_EMAIL = "alex@pagepulse.test"
DEMO_WORKSPACE = "Demo Coffee Co"


class Command(BaseCommand):
    help = "Create the demo workspace, its owner and a colleague to invite (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        owner, created = users.get_or_create(
            username=DEMO_USERNAME,
            defaults={"email": DEMO_EMAIL, "first_name": "Demo", "last_name": "Owner"},
        )
        if created:
            owner.set_password(DEMO_PASSWORD)
            owner.save()
        colleague, created = users.get_or_create(
            username="alex", defaults={"email": COLLEAGUE_EMAIL, "first_name": "Alex"}
        )
        if created:
            colleague.set_password(DEMO_PASSWORD)
            colleague.save()
        tenant = Tenant.objects.filter(membership__user=owner, name=DEMO_WORKSPACE).first()
        if tenant is None:
            tenant = services.tenant_create(
                name=DEMO_WORKSPACE, country="US", owner=owner, actor=services.Actor(user=owner)
            )
        self.stdout.write(
            f"Demo workspace “{tenant.name}” (/t/{tenant.slug}/). "
            f"Sign in as {DEMO_USERNAME} / {DEMO_PASSWORD}; "
            f"{COLLEAGUE_EMAIL} is a user you can add as a member."
        )
