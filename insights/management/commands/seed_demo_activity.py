"""Give the demo workspace a few days of true activity for `make dev`: a published lead flow and
people who talked to it, some from an ad, through the real pipeline.

Nothing is written into the tables directly. The demo owner publishes the lead-generation
template on Ada's Bike Shop; then, for each of the last `--days` days, a handful of Messenger
users write to the Page through the Graph sandbox's signed webhooks (`/_sandbox/webhook/send`),
the running web server stores the deliveries, the worker runs the flow, sends its replies
through the sandbox's Send API and delivers the leads to the sandbox. Once a day's people are
answered and their events settled, that day's rows (conversations, their messages, events,
attempts, deliveries, and the funnel counters of today) are moved back to their day, and the
overview's daily aggregates are refolded. So the delivery log, the overview, the Results overlay
and the handoffs all show the same people, as they would after a few real days.

It first runs `connect_demo_pages` (a real Facebook Login through the sandbox, then the Pages
and the ad account connected over HTTP), so `make dev` starts this one command. Safe to re-run:
a demo workspace that already has conversations is left alone.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.utils import timezone

from events.models import DeliveryAttempt, EventStatus, LoggedEvent
from flows import services as flow_services
from flows.models import Conversation, Flow, FlowStatus, NodeDailyCount
from insights import aggregates
from insights import services as insights_services
from insights.models import FollowedAdAccount
from messenger.models import Message, OutboundMessage, OutboundStatus, Person, WebhookDelivery
from tenants.management.commands.connect_demo_pages import Browser
from tenants.management.commands.seed_demo import DEMO_USERNAME, DEMO_WORKSPACE
from tenants.models import ConnectedPage, Tenant
from tenants.services import Actor

BIKE_SHOP = "300000000000002"  # Ada's Bike Shop, on the Conversions API
SPRING_AD = "600000000000003"  # "Spring tune-up", an ad of the Bike Shop in the sandbox's seed
FLOW_NAME = "Lead generation"

# Each person's messages, in order; a person who stops early is a drop-off on the canvas.
# (first words, from the ad?, then the answers: need, timeline, channel, contact)
PEOPLE: list[tuple[str, bool, list[str]]] = [
    ("Hi, I'd like a quote", True, ["A quote", "This month", "Email", "sam@example.com"]),
    ("pricing please", False, ["A consultation", "In 1-3 months", "Phone", "+1 415 555 0100"]),
    ("quote for a tune-up", True, ["A quote", "Later", "Email", "kim@example.com"]),
    ("more info", False, ["More information", "In 1-3 months"]),  # stops before the contact
    ("info", True, ["A quote"]),  # stops after the first question
    ("what is your pricing?", False, ["A consultation", "This month", "Email", "lee@example.com"]),
]


class Command(BaseCommand):
    help = "Give the demo workspace a few days of conversations and leads (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the web server")
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:8765")
        parser.add_argument("--days", type=int, default=4, help="days of activity, today included")
        parser.add_argument("--wait", type=float, default=60, help="seconds to wait for a step")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("connect_demo_pages", base_url=options["base_url"], wait=options["wait"])
        tenant = Tenant.objects.filter(
            membership__user__username=DEMO_USERNAME, name=DEMO_WORKSPACE
        ).first()
        if tenant is None:
            raise CommandError("No demo workspace: run seed_demo first.")
        if Conversation.objects.filter(tenant=tenant).exists():
            self.stdout.write("The demo workspace has conversations already; left as it is.")
            return
        page = ConnectedPage.objects.for_tenant(tenant).filter(page_id=BIKE_SHOP).first()
        if page is None:
            raise CommandError("Ada's Bike Shop is not connected: run connect_demo_pages first.")
        self.sandbox = Browser(options["sandbox_url"])
        self.wait = options["wait"]
        self.tenant = tenant
        self._publish_lead_flow(tenant, page)
        # Ads Manager reports a day late; the demo shows its numbers at once.
        self._sandbox("POST", "/_sandbox/insights", {"report_same_day": True})
        days = max(1, options["days"])
        for days_ago in range(days - 1, -1, -1):
            started = timezone.now()
            self._talk(page, day=days_ago)
            if days_ago:
                self._move_back(started, timedelta(days=days_ago))
        today = timezone.now().date()
        aggregates.refresh_days(tenant, today - timedelta(days=days), today - timedelta(days=1))
        # Ads Manager's side: read the followed ad accounts now rather than at the next beat.
        for account in FollowedAdAccount.objects.for_tenant(tenant).filter(followed=True):
            insights_services.ad_account_read(account=account)
        self.stdout.write(
            f"Seeded {days} days of demo activity: {len(PEOPLE) * days} people on "
            f"“{page.name}”, {sum(ad for _, ad, _ in PEOPLE) * days} of them from an ad."
        )

    def _publish_lead_flow(self, tenant: Tenant, page: ConnectedPage) -> None:
        owner = tenant.membership_set.get(user__username=DEMO_USERNAME).user
        actor = Actor(user=owner)
        if Flow.objects.filter(tenant=tenant, page=page, status=FlowStatus.PUBLISHED).exists():
            return
        flow = flow_services.flow_create(
            tenant=tenant, actor=actor, page_id=page.pk, template="lead_generation"
        )
        flow_services.flow_publish(
            tenant=tenant, actor=actor, flow_id=flow.pk, note="Seeded for the demo"
        )

    def _talk(self, page: ConnectedPage, *, day: int) -> None:
        """Each person of `PEOPLE` writes, one message a round, answered before the next round."""
        psids = [f"619900000{day:02d}{n:05d}" for n in range(len(PEOPLE))]
        rounds = max(len(messages) for _, _, messages in PEOPLE) + 1
        for step in range(rounds):
            for psid, (first, from_ad, messages) in zip(psids, PEOPLE, strict=True):
                if step == 0:
                    body: dict[str, Any] = {"text": first}
                    if from_ad:
                        body["message_referral"] = {
                            "source": "ADS",
                            "type": "OPEN_THREAD",
                            "ad_id": SPRING_AD,
                        }
                elif step <= len(messages):
                    answer = messages[step - 1]
                    # An email or phone number is typed; the rest are the quick replies offered.
                    typed = "@" in answer or answer.startswith("+")
                    body = (
                        {"text": answer}
                        if typed
                        else {"quick_reply": {"text": answer, "payload": answer}}
                    )
                else:
                    continue
                self._sandbox(
                    "POST",
                    "/_sandbox/webhook/send",
                    {"page_id": page.page_id, "psid": psid, **body},
                )
            self._until_answered()
        self._until_settled()

    def _until(self, done: Any, what: str) -> None:
        deadline = time.monotonic() + self.wait
        while not done():
            if time.monotonic() > deadline:
                raise CommandError(f"Gave up waiting for {what} after {self.wait:.0f} s.")
            time.sleep(0.2)

    def _until_answered(self) -> None:
        self._until(
            lambda: (
                not WebhookDelivery.objects.filter(processed_at__isnull=True).exists()
                and not OutboundMessage.objects.filter(
                    tenant=self.tenant, status=OutboundStatus.PENDING
                ).exists()
            ),
            "the worker to answer the demo's messages",
        )

    def _until_settled(self) -> None:
        self._until(
            lambda: (
                not LoggedEvent.objects.filter(
                    tenant=self.tenant,
                    status__in=[EventStatus.PENDING, EventStatus.SENDING, EventStatus.RETRYING],
                ).exists()
            ),
            "the demo's events to be delivered",
        )

    @transaction.atomic
    def _move_back(self, since: datetime, by: timedelta) -> None:
        """Move everything the demo wrote since `since` back by `by`: every date and time on
                its conversations, messages both ways (transcripts and the Send API's), the people who wrote,
        events, attempts and deliveries, and today's counters."""
        rows: list[tuple[type[models.Model], models.QuerySet[Any]]] = [
            (Conversation, Conversation.objects.filter(tenant=self.tenant, created_at__gte=since)),
            (
                OutboundMessage,
                OutboundMessage.objects.filter(tenant=self.tenant, created_at__gte=since),
            ),
            (Message, Message.objects.filter(tenant=self.tenant, created_at__gte=since)),
            (Person, Person.objects.filter(tenant=self.tenant, created_at__gte=since)),
            (LoggedEvent, LoggedEvent.objects.filter(tenant=self.tenant, created_at__gte=since)),
            (
                DeliveryAttempt,
                DeliveryAttempt.objects.filter(tenant=self.tenant, created_at__gte=since),
            ),
            (WebhookDelivery, WebhookDelivery.objects.filter(received_at__gte=since)),
        ]
        for model, queryset in rows:
            moved = {
                field.name: models.F(field.name) - by
                for field in model._meta.get_fields()
                if isinstance(field, models.DateTimeField)
            }
            queryset.update(**moved)
        today = timezone.now().astimezone(UTC).date()
        NodeDailyCount.objects.filter(tenant=self.tenant, day=today).update(day=today - by)

    def _sandbox(self, method: str, path: str, body: dict[str, Any]) -> None:
        status, _, answer = self.sandbox.request(method, path, json_body=body)
        if status >= 300:
            raise CommandError(f"The sandbox refused {path}: {status} {answer[:200]!r}")
