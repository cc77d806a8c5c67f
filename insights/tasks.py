"""Celery entry points of the insights app: thin, idempotent, ids in.

Reading an ad account twice stores the same rows twice over (the window's rows are replaced),
so a duplicated message costs a Graph call, never a wrong number.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from insights import aggregates, services
from insights.models import ConnectionStatus, FollowedAdAccount

MAX_ACCOUNTS_PER_SWEEP = 50


@shared_task(name="insights.tasks.read_ad_account")
def read_ad_account(account_id: int) -> str:
    """Read one followed ad account's insights if it is still due; returns the outcome."""
    account = FollowedAdAccount.objects.select_related("connection").filter(pk=account_id).first()
    if account is None:
        return "gone"
    if account.next_read_at is not None and account.next_read_at > timezone.now():
        return "not_due"
    return services.ad_account_read(account=account).outcome


@shared_task(name="insights.tasks.read_due_ad_accounts")
def read_due_ad_accounts() -> int:
    """Beat: enqueue every followed account whose next read is due; returns how many."""
    due = list(
        FollowedAdAccount.objects.filter(
            Q(next_read_at__lte=timezone.now()) | Q(next_read_at=None),
            followed=True,
            connection__status=ConnectionStatus.ACTIVE,
        )
        .order_by("next_read_at")
        .values_list("pk", flat=True)[:MAX_ACCOUNTS_PER_SWEEP]
    )
    for account_id in due:
        read_ad_account.delay(account_id)
    return len(due)


def enqueue_read(account_id: int) -> None:
    """Ask for a read of one account once the current transaction commits."""
    transaction.on_commit(lambda: read_ad_account.delay(account_id), robust=True)


@shared_task(name="insights.tasks.aggregate_closed_days")
def aggregate_closed_days() -> int:
    """Beat: fold closed days not yet aggregated into the daily tables; returns days folded."""
    return aggregates.aggregate_closed_days()
