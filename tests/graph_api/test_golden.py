"""Golden tests: the requests the client sends equal the examples in the reference, field by field.

The examples are copied verbatim from the reference folder beside DESIGN.md:

- events-api-for-business-messaging.txt, "Logging Events" (fb_mobile_purchase) and "Reporting
  Leads using Messaging Event API" (lead_submitted). The stored text lost the brackets of the
  ``custom_events`` array (``[{ ... }]``); ``repair`` puts back exactly those and nothing else,
  matching the guide's own description ("a JSON-encoded array") and the official sample in
  graph-api-facts.md §1.6.
- graph-api-facts.md §3.3, the Conversions API sample body for Messenger.

The reference folder is in the workspace, not in the repository, so the parts these tests need
are vendored under tests/graph_api/reference/ (its README says from where): a test checks that
the examples here are verbatim in them, and, when the workspace's folder is found above the
checkout, that the vendored copies are still verbatim in it.
"""

import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from graph_api.client import GraphClient
from tests.graph_api.golden import (
    CAPI_EXAMPLE,
    LEAD_EXAMPLE,
    PAGE_ID,
    PAGE_TOKEN,
    PARTNER,
    PSID,
    PURCHASE_EXAMPLE,
    repair,
    substitute,
)
from tests.graph_stub import APP_ID, APP_SECRET, BASE, sent_json

VENDORED = Path(__file__).resolve().parent / "reference"
GUIDE = "events-api-for-business-messaging.txt"
FACTS_3_3 = "graph-api-facts-3.3.md"


def workspace_reference() -> Path | None:
    """The workspace's reference folder, ``shared/reference`` in a folder above this checkout
    (``../shared`` from the main checkout, further up from a worktree); None when absent."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "reference"
        if candidate.is_dir():
            return candidate
    return None


@pytest.mark.parametrize("example", [PURCHASE_EXAMPLE, LEAD_EXAMPLE], ids=["purchase", "lead"])
def test_page_activities_request_is_the_guides_example(
    graph_client: GraphClient, example: str
) -> None:
    expected_body, expected_url = repair(example)
    guide_url = urlsplit(expected_url)

    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v20.0/{APP_ID}/page_activities", json={"success": True})
        graph_client.log_page_activities(
            page_token=PAGE_TOKEN,
            page_id=PAGE_ID,
            psid=PSID,
            custom_events=expected_body["custom_events"],
        )
        request = mocked.calls[0].request
    sent_url = urlsplit(request.url or "")
    sent_body = sent_json(request)

    # Field by field, in the guide's order, with the guide's JSON types (ints, 1/0 flags).
    assert list(sent_body) == list(expected_body)
    for field, value in expected_body.items():
        assert sent_body[field] == value, field
        assert type(sent_body[field]) is type(value), field
    assert request.headers["Content-Type"] == "application/json"
    assert request.method == "POST"
    # The same path on our pinned version (the guide's v18.0 expired in January 2026).
    assert guide_url.path == f"/v18.0/{APP_ID}/page_activities"
    assert sent_url.path == f"/v20.0/{APP_ID}/page_activities"
    # The guide's access_token, plus the appsecret_proof every call carries.
    proof = hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()
    assert dict(parse_qsl(sent_url.query)) == {
        **dict(parse_qsl(guide_url.query)),
        "appsecret_proof": proof,
    }


def test_the_repaired_purchase_example_is_the_guides_event() -> None:
    body, _ = repair(PURCHASE_EXAMPLE)

    assert body["custom_events"] == [
        {"_eventName": "fb_mobile_purchase", "_valueToSum": 57.23, "fb_currency": "USD"}
    ]
    assert body["page_id"] == int(PAGE_ID)
    assert body["page_scoped_user_id"] == int(PSID)


@pytest.mark.parametrize("example", [PURCHASE_EXAMPLE, LEAD_EXAMPLE], ids=["purchase", "lead"])
def test_the_batch_operation_carries_the_guides_fields(
    graph_client: GraphClient, example: str
) -> None:
    expected_body, _ = repair(example)

    operation = graph_client.page_activities_operation(
        page_token=PAGE_TOKEN,
        page_id=PAGE_ID,
        psid=PSID,
        custom_events=expected_body["custom_events"],
    )
    form = dict(parse_qsl(operation.body))

    assert operation.relative_url == f"{APP_ID}/page_activities"
    assert json.loads(form.pop("custom_events")) == expected_body.pop("custom_events")
    assert form.pop("access_token") == PAGE_TOKEN
    assert "appsecret_proof" in form
    form.pop("appsecret_proof")
    assert form == {key: str(value) for key, value in expected_body.items()}


def test_capi_request_is_the_reference_sample(graph_client: GraphClient) -> None:
    expected = json.loads(substitute(CAPI_EXAMPLE))

    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v25.0/500000000000005/events", json={"events_received": 1})
        graph_client.send_capi_events(
            dataset_id="500000000000005",
            token=PAGE_TOKEN,
            events=expected["data"],
            partner_agent=PARTNER,
        )
        request = mocked.calls[0].request
    sent = sent_json(request)

    assert sent == expected
    assert list(sent) == ["data", "partner_agent"]
    assert type(sent["data"][0]["user_data"]["page_id"]) is int
    assert request.headers["Content-Type"] == "application/json"
    assert urlsplit(request.url).path == "/v25.0/500000000000005/events"


def test_the_copies_above_are_verbatim() -> None:
    guide = (VENDORED / GUIDE).read_text()
    facts = (VENDORED / FACTS_3_3).read_text()

    assert PURCHASE_EXAMPLE in guide
    assert LEAD_EXAMPLE in guide
    assert CAPI_EXAMPLE in facts


def test_the_vendored_reference_is_verbatim_from_its_source() -> None:
    readme = (VENDORED / "README.md").read_text()
    guide = (VENDORED / GUIDE).read_text()
    facts = (VENDORED / FACTS_3_3).read_text()
    assert facts.startswith("### 3.3 Send events\n")
    source = workspace_reference()
    if source is None:
        # No workspace here (a clean checkout): the copy is the one the README describes.
        digest = hashlib.sha256((VENDORED / GUIDE).read_bytes()).hexdigest()
        assert f"| `{GUIDE}` |" in readme
        assert digest in readme
        return
    assert guide == (source / GUIDE).read_text()
    assert facts in (source / "graph-api-facts.md").read_text()
