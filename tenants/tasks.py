"""Celery entry points of the tenants app (queue: maintenance)."""

from __future__ import annotations

import logging

from celery import shared_task

from tenants import services
from tenants.exceptions import DomainError
from tenants.models import ConnectedPage, PageStatus

logger = logging.getLogger(__name__)


@shared_task
def check_page_tokens() -> int:
    """Daily: enqueue a token check for every active Page. Returns how many were enqueued."""
    page_ids = list(
        ConnectedPage.objects.filter(status=PageStatus.ACTIVE).values_list("pk", flat=True)
    )
    for page_id in page_ids:
        check_page_token.delay(page_id)
    return len(page_ids)


@shared_task
def check_page_token(page_id: int) -> None:
    page = ConnectedPage.objects.select_related("tenant").filter(pk=page_id).first()
    if page is None:
        return
    try:
        services.page_check_token(page=page)
    except DomainError as error:  # Facebook unavailable: the next daily run tries again
        logger.info(
            "tenants.page.check_skipped", extra={"page_id": page.page_id, "reason": error.code}
        )


@shared_task
def forget_page_grant_tokens() -> int:
    """Every ten minutes: forget page tokens of logins older than PAGE_GRANT_TOKEN_MINUTES."""
    return services.page_grants_forget_tokens()


@shared_task
def forget_disconnected_page_tokens() -> int:
    """Every minute: forget the tokens of Pages whose Undo window has passed."""
    return services.page_disconnect_forget_tokens()


@shared_task
def purge_deleted_workspaces() -> int:
    """Hourly: remove the workspaces whose deletion grace period is over."""
    return len(services.tenants_purge_due())
