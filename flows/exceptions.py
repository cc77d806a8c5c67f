"""Domain errors of the flows app (rendered by tenants.api.errors like every DomainError)."""

from __future__ import annotations

from tenants.exceptions import Conflict, DomainError


class RevisionConflict(Conflict):
    """Someone saved the draft since you loaded it; `details.current_revision` says which."""

    code = "revision_conflict"


class FlowInvalid(DomainError):
    """Publishing refused: `details.problems` lists every error and warning."""

    code = "flow_invalid"


class InvalidImport(DomainError):
    code = "invalid_import"
