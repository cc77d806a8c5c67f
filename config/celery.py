"""The Celery app. Its configuration lives in settings, under the CELERY_ prefix."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("pagepulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender: Any = None, **kwargs: Any) -> None:
    """Around each task, what Django does around each request: close database connections
    that broke or outlived CONN_MAX_AGE (settings.CELERY_DB_REUSE_MAX keeps the rest open).
    Not for a task applied in the caller's process (``is_eager``), whose transaction it is."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
