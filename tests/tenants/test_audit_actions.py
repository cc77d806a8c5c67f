"""Every audit action another app records is one the audit log knows, so its page and the API
schema name it (tenants cannot import the apps above it, so the list lives here)."""

from __future__ import annotations

import pytest

from flows.models import FlowAuditAction
from tenants.models import AuditAction


@pytest.mark.parametrize("action", list(FlowAuditAction), ids=str)
def test_flow_audit_actions_are_audit_actions(action):
    assert AuditAction(action.value).label == action.label
