"""A published flow's page and trigger route Messenger users at once: changing them through
the draft must pass the checks publishing makes, and a refused change writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from flows import services
from flows.exceptions import FlowInvalid
from flows.models import Flow, FlowStatus, TriggerKind
from tenants.models import Tenant
from tenants.permissions import Role
from tenants.services import Actor
from tests.flows.factories import FlowFactory, FlowVersionFactory, published_flow
from tests.tenants.factories import ConnectedPageFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(tenant: Tenant) -> Actor:
    return Actor(user=member(tenant, Role.EDITOR).user)


def update(flow: Flow, actor: Actor, **changes: Any) -> Flow:
    return services.flow_update_draft(
        tenant=flow.tenant, actor=actor, flow_id=flow.pk, revision=flow.revision, **changes
    )


def test_a_published_flow_cannot_take_a_trigger_another_published_flow_answers(
    tenant: Tenant, editor: Actor
) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    published_flow(tenant, page=page, name="Menu", trigger_kind=TriggerKind.DEFAULT)
    quotes = published_flow(
        tenant, page=page, trigger_kind=TriggerKind.KEYWORDS, trigger_keywords=["quote"]
    )

    with pytest.raises(FlowInvalid) as refused:
        update(quotes, editor, trigger={"kind": "default"})

    (problem,) = refused.value.details["problems"]
    assert (problem["field"], problem["code"]) == ("trigger", "trigger_conflict")
    assert "“Menu”" in problem["message"]
    quotes.refresh_from_db()
    assert (quotes.trigger_kind, quotes.revision) == (TriggerKind.KEYWORDS, 1)


def test_republishing_an_archived_flow_checks_its_trigger_too(
    tenant: Tenant, editor: Actor
) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    published_flow(tenant, page=page, trigger_kind=TriggerKind.GET_STARTED)
    old = FlowFactory.create(
        tenant=tenant, page=page, status=FlowStatus.ARCHIVED, trigger_kind=TriggerKind.GET_STARTED
    )
    FlowVersionFactory.create(flow=old)

    with pytest.raises(FlowInvalid):
        update(old, editor, status=FlowStatus.PUBLISHED)
    old.refresh_from_db()
    assert old.status == FlowStatus.ARCHIVED


def test_a_draft_flow_changes_its_trigger_freely(tenant: Tenant, editor: Actor) -> None:
    page = ConnectedPageFactory.create(tenant=tenant)
    published_flow(tenant, page=page, trigger_kind=TriggerKind.DEFAULT)
    draft = FlowFactory.create(tenant=tenant, page=page, trigger_kind=TriggerKind.GET_STARTED)

    assert update(draft, editor, trigger={"kind": "default"}).trigger_kind == TriggerKind.DEFAULT
