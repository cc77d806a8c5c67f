"""Click-to-Messenger ads: the referral in all three webhook shapes (reference §6.4) is kept on
the conversation, every event it logs carries the ad id, and a condition branches on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses
from django.test import Client

from events.models import LoggedEvent
from flows.models import Conversation, Flow, TriggerKind
from messenger import runtime
from tenants.models import ConnectedPage, Tenant
from tests.flows.factories import edge, node, published_flow
from tests.messenger.runtime_support import (
    InlineWorker,
    entry,
    envelope,
    new_mid,
    now_ms,
    text,
    texts,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("runtime_redis")]

PAGE = "300000000000088"
PSID = "81001"
AD = "6000000000042"
CONTEXT = {
    "ad_title": "Spring sale",
    "photo_url": "https://example.com/p.jpg",
    "video_url": "https://example.com/v.mp4",
    "post_id": "300000000000088_1",
    "product_id": "77",
}


def ad_referral(**extra: Any) -> dict[str, Any]:
    return {
        "ref": "spring",
        "ad_id": AD,
        "source": "ADS",
        "type": "OPEN_THREAD",
        "ads_context_data": CONTEXT,
        **extra,
    }


def item(**event: Any) -> dict[str, Any]:
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": now_ms(),
        **event,
    }


def messaging_referral(**extra: Any) -> dict[str, Any]:
    return item(referral=ad_referral(**extra))


def postback_referral() -> dict[str, Any]:
    return item(
        postback={
            "mid": new_mid(),
            "title": "Get Started",
            "payload": "GET_STARTED",
            "referral": ad_referral(),
        }
    )


def message_referral(body: str = "Is it still available?") -> dict[str, Any]:
    return item(message={"mid": new_mid(), "text": body, "referral": ad_referral()})


SHAPES: dict[str, Callable[[], dict[str, Any]]] = {
    "messaging_referrals": messaging_referral,
    "postback.referral": postback_referral,
    "message.referral": message_referral,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_parses_to_the_ad_referral(shape: str) -> None:
    parsed = runtime.parse_item(PAGE, SHAPES[shape]())
    assert parsed is not None
    assert parsed.referral == runtime.Referral(
        source="ADS", type="OPEN_THREAD", ref="spring", ad_id=AD, ads_context=CONTEXT
    )
    assert parsed.referral.is_ad


def test_a_shortlink_is_a_referral_but_not_an_ad() -> None:
    parsed = runtime.parse_item(
        PAGE, item(referral={"ref": "qr", "source": "SHORTLINK", "type": "OPEN_THREAD"})
    )
    assert parsed is not None
    assert parsed.referral is not None
    assert (parsed.referral.source, parsed.referral.ad_id, parsed.referral.is_ad) == (
        "SHORTLINK",
        "",
        False,
    )
    plain = runtime.parse_item(PAGE, text(PAGE, PSID))
    assert plain is not None
    assert plain.referral is None


def test_odd_ads_context_is_kept_as_text_and_unknown_keys_dropped() -> None:
    parsed = runtime.parse_item(
        PAGE,
        item(
            referral={
                "source": "ADS",
                "ad_id": 6000000000042,
                "ads_context_data": {"ad_title": 5, "secret": "x", "photo_url": None},
            }
        ),
    )
    assert parsed is not None
    assert parsed.referral is not None
    assert parsed.referral.ad_id == AD
    assert parsed.referral.ads_context == {"ad_title": "5"}


def ad_document() -> dict[str, Any]:
    """start -> condition (from_ad is yes and ad_id equals AD) -> true: log lead, log purchase
    -> end; false: a plain hello."""
    return {
        "nodes": [
            node("start", "start"),
            node(
                "from_ad",
                "condition",
                match="all",
                rules=[
                    {"variable": "from_ad", "operator": "equals", "value": "yes"},
                    {"variable": "ad_id", "operator": "equals", "value": AD},
                ],
            ),
            node("ad_hello", "send_message", text="Thanks for clicking our ad {{ad_id}}!"),
            node("lead", "log_event", event="lead_submitted", params={}),
            node("buy", "log_event", event="purchase", value="12.5", currency="EUR", params={}),
            node("hello", "send_message", text="Hello!"),
        ],
        "edges": [
            edge("start", "from_ad"),
            edge("from_ad", "ad_hello", "true"),
            edge("from_ad", "hello", "false"),
            edge("ad_hello", "lead"),
            edge("lead", "buy"),
        ],
    }


def flow(tenant: Tenant, page: ConnectedPage, kind: str, **fields: Any) -> Flow:
    return published_flow(
        tenant,
        page=page,
        name=f"Ads {kind}",
        trigger_kind=kind,
        trigger_keywords=[],
        document=ad_document(),
        **fields,
    )


@pytest.mark.parametrize(
    ("shape", "trigger", "fields"),
    [
        ("message.referral", TriggerKind.DEFAULT, {}),
        ("postback.referral", TriggerKind.GET_STARTED, {}),
        ("messaging_referrals", TriggerKind.REF, {"trigger_ref": "spring"}),
    ],
)
def test_an_ad_referral_is_kept_on_the_conversation_and_on_every_event(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    bakery_page: ConnectedPage,
    shape: str,
    trigger: str,
    fields: dict[str, Any],
) -> None:
    flow(tenant, bakery_page, trigger, **fields)

    worker.deliver(client, envelope(entry(PAGE, SHAPES[shape]())))

    conversation = Conversation.objects.get(psid=PSID)
    assert (conversation.ad_id, conversation.ads_context) == (AD, CONTEXT)
    assert (
        conversation.referral_source,
        conversation.referral_type,
        conversation.referral_ref,
    ) == ("ADS", "OPEN_THREAD", "spring")
    assert conversation.referred_at is not None
    # The condition took the ad branch, and both events carry the ad.
    assert texts(send_api) == [f"Thanks for clicking our ad {AD}!"]
    events = LoggedEvent.objects.order_by("id")
    assert [(e.event, e.ad_id) for e in events] == [("lead_submitted", AD), ("purchase", AD)]


def test_without_an_ad_the_condition_takes_false_and_events_have_no_ad(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    bakery_page: ConnectedPage,
) -> None:
    document = ad_document()
    document["edges"].append(edge("hello", "lead"))
    published_flow(
        tenant,
        page=bakery_page,
        trigger_kind=TriggerKind.DEFAULT,
        trigger_keywords=[],
        document=document,
    )

    worker.deliver(client, envelope(entry(PAGE, text(PAGE, PSID, "hi"))))

    assert texts(send_api) == ["Hello!"]
    assert Conversation.objects.get().ad_id == ""
    assert list(LoggedEvent.objects.values_list("ad_id", flat=True)) == ["", ""]


def test_an_ad_referral_no_flow_answers_waits_for_the_next_message(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    bakery_page: ConnectedPage,
) -> None:
    # No ref flow for this ad's ref: the referral starts nothing, but the person's next
    # message starts the default flow, and that conversation is the ad's.
    flow(tenant, bakery_page, TriggerKind.DEFAULT)

    worker.deliver(client, envelope(entry(PAGE, messaging_referral(ref="other"))))
    assert Conversation.objects.count() == 0
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, PSID, "hello?"))))

    conversation = Conversation.objects.get()
    assert (conversation.ad_id, conversation.referral_ref) == (AD, "other")
    assert texts(send_api) == [f"Thanks for clicking our ad {AD}!"]
    assert set(LoggedEvent.objects.values_list("ad_id", flat=True)) == {AD}
    # Taken once: a later conversation of the same person is not the ad's again.
    Conversation.objects.update(status="ended")
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, PSID, "again"))))
    latest = Conversation.objects.order_by("-id").first()
    assert latest is not None
    assert latest.ad_id == ""


def test_an_ad_clicked_during_an_open_conversation_is_attributed_to_it(
    client: Client,
    worker: InlineWorker,
    send_api: responses.RequestsMock,
    tenant: Tenant,
    bakery_page: ConnectedPage,
) -> None:
    document = {
        "nodes": [
            node("start", "start"),
            node("ask", "ask", question="Your name?", variable="name", check="text"),
            node("lead", "log_event", event="lead_submitted", params={"name": "{{name}}"}),
        ],
        "edges": [edge("start", "ask"), edge("ask", "lead")],
    }
    published_flow(
        tenant,
        page=bakery_page,
        trigger_kind=TriggerKind.DEFAULT,
        trigger_keywords=[],
        document=document,
    )
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, PSID, "hi"))))
    worker.deliver(client, envelope(entry(PAGE, messaging_referral(ref="nomatch"))))
    worker.deliver(client, envelope(entry(PAGE, text(PAGE, PSID, "Ada"))))

    assert Conversation.objects.get().ad_id == AD
    assert LoggedEvent.objects.get().ad_id == AD
