"""Domain errors of the tenants app. The API layer maps `DomainError` to one JSON error shape."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the product refused an action; `message` says what and how to fix it."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403


class LastOwnerError(Conflict):
    code = "last_owner"


class ApiKeyRefused(DomainError):
    """An API key that does not authenticate (unknown, revoked, expired, owner gone)."""

    code = "authentication_failed"
    status = 401
