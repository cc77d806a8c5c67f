from __future__ import annotations

import copy
from typing import Any

import factory
from django.utils import timezone

from flows.models import (
    Conversation,
    ConversationStatus,
    Flow,
    FlowStatus,
    FlowVersion,
    TriggerKind,
)
from tenants.models import ConnectedPage, Tenant
from tests.tenants.factories import ConnectedPageFactory, TenantFactory


def node(node_id: str, kind: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "position": {"x": 0, "y": 0}, "data": data}


def edge(source: str, target: str, handle: str | None = "next") -> dict[str, Any]:
    return {
        "id": f"{source}-{handle}-{target}",
        "source": source,
        "sourceHandle": handle,
        "target": target,
    }


def simple_document(text: str = "Hello! How can we help?") -> dict[str, Any]:
    """start -> send_message -> end: the smallest flow that publishes."""
    return {
        "nodes": [
            node("start", "start"),
            node("hello", "send_message", text=text),
            node("end", "end"),
        ],
        "edges": [edge("start", "hello"), edge("hello", "end")],
    }


class FlowFactory(factory.django.DjangoModelFactory[Flow]):
    class Meta:
        model = Flow

    tenant: factory.SubFactory[Flow, Tenant] = factory.SubFactory(TenantFactory)
    page: factory.SubFactory[Flow, ConnectedPage] = factory.SubFactory(
        ConnectedPageFactory, tenant=factory.SelfAttribute("..tenant")
    )
    name: factory.Sequence[str] = factory.Sequence(lambda n: f"Flow {n}")
    trigger_kind = TriggerKind.KEYWORDS
    trigger_keywords: factory.Sequence[list[str]] = factory.Sequence(lambda n: [f"hello{n}"])
    document: factory.LazyFunction[dict[str, Any]] = factory.LazyFunction(simple_document)


class FlowVersionFactory(factory.django.DjangoModelFactory[FlowVersion]):
    class Meta:
        model = FlowVersion

    flow: factory.SubFactory[FlowVersion, Flow] = factory.SubFactory(FlowFactory)
    tenant: factory.SelfAttribute[FlowVersion, Tenant] = factory.SelfAttribute("flow.tenant")
    number = 1
    document: factory.LazyAttribute[FlowVersion, dict[str, Any]] = factory.LazyAttribute(
        lambda version: copy.deepcopy(version.flow.document)
    )


def published_flow(tenant: Tenant, **fields: Any) -> Flow:
    """A flow whose current draft is published as version 1."""
    flow = FlowFactory.create(tenant=tenant, status=FlowStatus.PUBLISHED, **fields)
    FlowVersionFactory.create(flow=flow)
    flow.published_revision = flow.revision
    flow.save(update_fields=["published_revision"])
    return flow


class ConversationFactory(factory.django.DjangoModelFactory[Conversation]):
    """A Messenger user's conversation on version 1 of a published flow, waiting at nothing."""

    class Meta:
        model = Conversation

    tenant: factory.SubFactory[Conversation, Tenant] = factory.SubFactory(TenantFactory)
    page: factory.SubFactory[Conversation, ConnectedPage] = factory.SubFactory(
        ConnectedPageFactory, tenant=factory.SelfAttribute("..tenant")
    )
    psid: factory.Sequence[str] = factory.Sequence(lambda n: f"2457193718{n:05d}")
    flow_version: factory.LazyAttribute[Conversation, FlowVersion] = factory.LazyAttribute(
        lambda c: FlowVersionFactory.create(flow=FlowFactory.create(tenant=c.tenant, page=c.page))
    )
    flow: factory.SelfAttribute[Conversation, Flow] = factory.SelfAttribute("flow_version.flow")
    status = ConversationStatus.WAITING


def handed_off(**fields: Any) -> Conversation:
    """A conversation a handoff block flagged, with the variables a lead flow gathers."""
    defaults: dict[str, Any] = {
        "status": ConversationStatus.HANDED_OFF,
        "node_id": "to_team",
        "handoff_note": "New lead: A quote, starting This month.",
        "handed_off_at": timezone.now(),
        "variables": {"need": "A quote", "timeline": "This month"},
    }
    return ConversationFactory.create(**{**defaults, **fields})
