"""Ready-made flows a person starts from (`GET /api/v1/flow-templates`).

The lead-generation flow follows the guide's "Best Practices for Classifying Leads": two
qualifying questions come before the email or phone question, and `lead_submitted` is logged
at the end of the flow by default. Its quick replies carry ids, so each has its own handle:
"How should we contact you?" leads by Email to the email question and by Phone (or any other
answer) to the phone question. Both templates publish cleanly on either transport (tested).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from flows.models import TriggerKind


@dataclass(frozen=True)
class FlowTemplate:
    key: str
    name: str
    description: str
    trigger: dict[str, Any]
    nodes: list[dict[str, Any]] = field(hash=False)
    edges: list[tuple[str, str, str]] = field(hash=False)  # (source, handle, target)

    def document(self) -> dict[str, Any]:
        """A fresh copy of the template's document, in the editor's shape."""
        return {
            "nodes": copy.deepcopy(self.nodes),
            "edges": [
                {
                    "id": f"e-{source}-{handle}",
                    "source": source,
                    "sourceHandle": handle,
                    "target": target,
                }
                for source, handle, target in self.edges
            ],
        }

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "trigger": copy.deepcopy(self.trigger),
            "document": self.document(),
        }


def _node(node_id: str, kind: str, x: int, y: int, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "position": {"x": x, "y": y}, "data": data}


def _replies(*titles: str) -> list[dict[str, str]]:
    """Quick replies whose payload is their title, each with an id (so its own handle) made
    from the title: "In 1-3 months" -> "in-1-3-months" (handle `reply-in-1-3-months`)."""
    return [
        {"title": title, "payload": title, "id": re.sub(r"[^a-z0-9]+", "-", title.lower())}
        for title in titles
    ]


LEAD_GENERATION = FlowTemplate(
    key="lead_generation",
    name="Lead generation",
    description=(
        "Two qualifying questions, then an email address or phone number, then logs "
        "lead_submitted and hands the conversation to your team."
    ),
    trigger={
        "kind": TriggerKind.KEYWORDS.value,
        "keywords": ["quote", "pricing", "info"],
        "ref": "",
    },
    nodes=[
        _node("start", "start", 0, 0),
        _node(
            "welcome",
            "send_message",
            0,
            230,
            text="Hi! We'd love to help. Two quick questions, then we'll put you in touch.",
        ),
        _node(
            "ask_need",
            "ask",
            0,
            460,
            question="What are you looking for?",
            variable="need",
            check="text",
            quick_replies=_replies("A quote", "A consultation", "More information"),
        ),
        _node(
            "ask_timeline",
            "ask",
            0,
            690,
            question="When would you like to get started?",
            variable="timeline",
            check="text",
            quick_replies=_replies("This month", "In 1-3 months", "Later"),
        ),
        _node(
            "ask_channel",
            "ask",
            0,
            920,
            question="How should we contact you?",
            variable="channel",
            check="text",
            quick_replies=_replies("Email", "Phone"),
        ),
        _node(
            "ask_email",
            "ask",
            -300,
            1150,
            question="What's your email address?",
            variable="contact",
            check="email",
            retry_message="That doesn't look like an email address. Could you check it?",
        ),
        _node(
            "ask_phone",
            "ask",
            300,
            1150,
            question="What's the best phone number to reach you?",
            variable="contact",
            check="phone",
            retry_message="That doesn't look like a phone number. Could you check it?",
        ),
        _node(
            "lead",
            "log_event",
            0,
            1380,
            event="lead_submitted",
            params={"need": "{{need}}", "timeline": "{{timeline}}", "channel": "{{channel}}"},
            logging_target="page",
        ),
        _node(
            "thanks",
            "send_message",
            0,
            1610,
            text="Thank you! Someone from our team will contact you at {{contact}} shortly.",
        ),
        _node(
            "to_team",
            "handoff",
            0,
            1840,
            note="New lead: {{need}}, starting {{timeline}}. Contact by {{channel}}: {{contact}}.",
        ),
    ],
    edges=[
        ("start", "next", "welcome"),
        ("welcome", "next", "ask_need"),
        ("ask_need", "next", "ask_timeline"),
        ("ask_timeline", "next", "ask_channel"),
        # Each answer its own way; anything else typed ("text me") is taken as a phone contact.
        ("ask_channel", "reply-email", "ask_email"),
        ("ask_channel", "reply-phone", "ask_phone"),
        ("ask_channel", "next", "ask_phone"),
        ("ask_email", "next", "lead"),
        ("ask_phone", "next", "lead"),
        ("lead", "next", "thanks"),
        ("thanks", "next", "to_team"),
    ],
)

PURCHASE_FOLLOW_UP = FlowTemplate(
    key="purchase_follow_up",
    name="Purchase follow-up",
    description=(
        "Asks a customer to rate their purchase, logs the rating, thanks happy customers and "
        "hands unhappy ones to your team with what went wrong."
    ),
    trigger={"kind": TriggerKind.REF.value, "keywords": [], "ref": "purchase-follow-up"},
    nodes=[
        _node("start", "start", 0, 0),
        _node(
            "hello",
            "send_message",
            0,
            230,
            text="Thanks for shopping with us! Do you have a moment for one question?",
        ),
        _node(
            "ask_rating",
            "ask",
            0,
            460,
            question="How would you rate your purchase, from 1 (poor) to 5 (great)?",
            variable="rating",
            check="number",
            retry_message="Please answer with a number from 1 to 5.",
            quick_replies=_replies("1", "2", "3", "4", "5"),
        ),
        _node("rated", "log_event", 0, 690, event="rate", value="{{rating}}", params={}),
        _node(
            "happy",
            "condition",
            0,
            920,
            match="all",
            rules=[{"variable": "rating", "operator": "greater_than", "value": 3}],
        ),
        _node(
            "glad",
            "send_message",
            -300,
            1150,
            text="Wonderful, thank you! We hope to see you again soon.",
        ),
        _node("done", "end", -200, 720),
        _node(
            "ask_problem",
            "ask",
            300,
            1150,
            question="We're sorry to hear that. What went wrong?",
            variable="problem",
            check="text",
        ),
        _node(
            "sorry",
            "send_message",
            300,
            1380,
            text="Thank you for telling us. Someone from our team will get back to you.",
        ),
        _node(
            "to_team",
            "handoff",
            300,
            1610,
            note="Unhappy customer (rated {{rating}} of 5): {{problem}}",
        ),
    ],
    edges=[
        ("start", "next", "hello"),
        ("hello", "next", "ask_rating"),
        ("ask_rating", "next", "rated"),
        ("rated", "next", "happy"),
        ("happy", "true", "glad"),
        ("glad", "next", "done"),
        ("happy", "false", "ask_problem"),
        ("ask_problem", "next", "sorry"),
        ("sorry", "next", "to_team"),
    ],
)

TEMPLATES: dict[str, FlowTemplate] = {t.key: t for t in (LEAD_GENERATION, PURCHASE_FOLLOW_UP)}
