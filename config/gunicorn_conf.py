"""gunicorn's configuration for the web container (Dockerfile and docker-compose.yml):
`gunicorn config.wsgi --config python:config.gunicorn_conf`.

The access log goes to stdout through `RedactingLogger`, which passes gunicorn's access and
error loggers through graph_api.redaction's filter, the one every other log line passes: an
OAuth `code` or `state`, an `access_token` or a verify token in a request line or a Referer is
written as "[redacted]". gunicorn reads WEB_CONCURRENCY for its number of workers by itself.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn import glogging

from graph_api.redaction import RedactingFilter

bind = ["0.0.0.0:8000"]
accesslog = "-"
logger_class = "config.gunicorn_conf.RedactingLogger"


class RedactingLogger(glogging.Logger):
    """gunicorn's logger, whose access and error lines never carry a secret."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.access_log, self.error_log):
            _redacted(logger)


def _redacted(logger: logging.Logger) -> None:
    # setup() runs again when gunicorn reopens its logs (SIGUSR1): add the filter once.
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
