"""The data step of events/migrations/0005: a flow's events logged before it get their flow
version and node from `source_ref`; other rows are left alone."""

from __future__ import annotations

import pytest

from tests.migration_steps import migrate_to
from tests.tenants.factories import ConnectedPageFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("back_to_latest")]

BEFORE = ("events", "0004_unsent_statuses")
AFTER = ("events", "0005_flow_source_and_ad")


def test_flow_events_get_their_version_and_node_from_source_ref() -> None:
    apps = migrate_to(BEFORE)
    # Only the events app moves back: the workspace and its Page are today's rows.
    page = ConnectedPageFactory.create()
    logged = apps.get_model("events", "LoggedEvent")
    refs = {
        "flow": ("flow", "17:lead"),
        "draft": ("test_chat", "draft:lead"),
        "api": ("api", "api_key:3"),
        "odd": ("flow", "draft:lead"),
    }
    for name, (source, ref) in refs.items():
        logged.objects.create(
            tenant_id=page.tenant_id,
            page_id=page.pk,
            psid="1",
            event=name,
            source=source,
            source_ref=ref,
        )

    apps = migrate_to(AFTER)
    rows = {
        e.event: (e.source_flow_version, e.source_node, e.ad_id)
        for e in apps.get_model("events", "LoggedEvent").objects.all()
    }
    assert rows == {
        "flow": (17, "lead", ""),
        "draft": (None, "", ""),
        "api": (None, "", ""),
        "odd": (None, "", ""),
    }

    migrate_to(BEFORE)  # reversible
