"""The web server's access log line (granian, config/granian_log.json): who asked what, the
answer's status and how long it took, with secrets in the query string redacted
(graph_api.redaction), like every other log line. Imports nothing of Django: granian's main
process loads it before the app."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from graph_api.redaction import redact


class AccessFormatter(logging.Formatter):
    """``127.0.0.1 - "GET /path?query HTTP/1.1" 200 1.234 ms`` from granian's request fields
    (the query string only when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record.args
        if not isinstance(fields, Mapping):
            return super().format(record)
        query = str(fields.get("query_string") or "")
        # Secrets travel in query strings (an OAuth code, a verify token): redacted there, and
        # only when there is one, as the regular expressions cost more than the rest.
        target = f"{fields.get('path', '')}{redact('?' + query) if query else ''}"
        return (
            f'{fields.get("addr", "-")} - "{fields.get("method", "-")} {target} '
            f'{fields.get("protocol", "-")}" {fields.get("status", 0)} '
            f"{float(str(fields.get('dt_ms', 0.0))):.3f} ms"
        )
