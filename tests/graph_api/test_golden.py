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
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from graph_api.client import GraphClient

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


PURCHASE_EXAMPLE = """curl -X POST -H "Content-Type: application/json" -d '{
  "custom_events": [
      "_eventName": "fb_mobile_purchase",
      "_valueToSum": 57.23,
      "fb_currency": "USD"
  "advertiser_tracking_enabled": 1,
  "application_tracking_enabled": 1,
  "page_id": <PAGE_ID>,
  "page_scoped_user_id": <PSID>,
  "logging_source": "messenger_bot",
  "logging_target": "page"
}' https://graph.facebook.com/v18.0/<APP_ID>/page_activities?access_token=<PAGE_ACCESS_TOKEN>"""

LEAD_EXAMPLE = """curl -X POST -H "Content-Type: application/json" -d '{
  "custom_events": [
      "_eventName": "lead_submitted"
  "advertiser_tracking_enabled": 1,
  "application_tracking_enabled": 1,
  "page_id": <PAGE_ID>,
  "page_scoped_user_id": <PSID>,
  "logging_source": "messenger_bot",
  "logging_target": "page"
}' https://graph.facebook.com/v18.0/<APP_ID>/page_activities?access_token=<PAGE_ACCESS_TOKEN>"""

CAPI_EXAMPLE = """{
  "data": [
    {
      "event_name": "Purchase",
      "event_time": 1675999999,
      "action_source": "business_messaging",
      "messaging_channel": "messenger",
      "user_data": {
        "page_id": <PAGE_ID>,
        "page_scoped_user_id": <PSID>
      },
      "custom_data": {
        "currency": "USD",
        "value": 123
      }
    }
  ],
  "partner_agent": "<PARTNER_NAME>"
}"""

BASE = "https://graph.test"  # stands in for https://graph.facebook.com; never Facebook's host
APP_ID = "100000000000001"
APP_SECRET = "golden-app-secret"
PAGE_ID = "104729360011245"
PSID = "6543219876543210"
PAGE_TOKEN = "golden-page-token"
PARTNER = "pagepulse"


def repair(example):
    """The guide's curl example as (JSON body, URL), with the lost ``[{`` and ``}],`` restored
    and the placeholders substituted."""
    body, url = re.fullmatch(
        r"curl -X POST -H \"Content-Type: application/json\" -d '(.*)' (\S+)", example, re.S
    ).groups()
    body = re.sub(
        r'"custom_events": \[\n(.*?)\n(\s*"advertiser_tracking_enabled")',
        r'"custom_events": [{\n\1\n}],\n\2',
        body,
        flags=re.S,
    )
    return json.loads(substitute(body)), substitute(url)


def substitute(text):
    return (
        text.replace("<PAGE_ID>", PAGE_ID)
        .replace("<PSID>", PSID)
        .replace("<APP_ID>", APP_ID)
        .replace("<PAGE_ACCESS_TOKEN>", PAGE_TOKEN)
        .replace("<PARTNER_NAME>", PARTNER)
    )


@pytest.fixture
def client():
    with GraphClient(
        base_url=BASE,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        version="v25.0",
        page_activities_version="v20.0",
    ) as graph:
        yield graph


@pytest.mark.parametrize("example", [PURCHASE_EXAMPLE, LEAD_EXAMPLE], ids=["purchase", "lead"])
def test_page_activities_request_is_the_guides_example(client, example):
    expected_body, expected_url = repair(example)
    guide_url = urlsplit(expected_url)

    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v20.0/{APP_ID}/page_activities", json={"success": True})
        client.log_page_activities(
            page_token=PAGE_TOKEN,
            page_id=PAGE_ID,
            psid=PSID,
            custom_events=expected_body["custom_events"],
        )
        request = mocked.calls[0].request
    sent_url = urlsplit(request.url)
    sent_body = json.loads(request.body)

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


def test_the_repaired_purchase_example_is_the_guides_event():
    body, _ = repair(PURCHASE_EXAMPLE)

    assert body["custom_events"] == [
        {"_eventName": "fb_mobile_purchase", "_valueToSum": 57.23, "fb_currency": "USD"}
    ]
    assert body["page_id"] == int(PAGE_ID)
    assert body["page_scoped_user_id"] == int(PSID)


@pytest.mark.parametrize("example", [PURCHASE_EXAMPLE, LEAD_EXAMPLE], ids=["purchase", "lead"])
def test_the_batch_operation_carries_the_guides_fields(client, example):
    expected_body, _ = repair(example)

    operation = client.page_activities_operation(
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


def test_capi_request_is_the_reference_sample(client):
    expected = json.loads(substitute(CAPI_EXAMPLE))

    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v25.0/500000000000005/events", json={"events_received": 1})
        client.send_capi_events(
            dataset_id="500000000000005",
            token=PAGE_TOKEN,
            events=expected["data"],
            partner_agent=PARTNER,
        )
        request = mocked.calls[0].request
    sent = json.loads(request.body)

    assert sent == expected
    assert list(sent) == ["data", "partner_agent"]
    assert type(sent["data"][0]["user_data"]["page_id"]) is int
    assert request.headers["Content-Type"] == "application/json"
    assert urlsplit(request.url).path == "/v25.0/500000000000005/events"


def test_the_copies_above_are_verbatim():
    guide = (VENDORED / GUIDE).read_text()
    facts = (VENDORED / FACTS_3_3).read_text()

    assert PURCHASE_EXAMPLE in guide
    assert LEAD_EXAMPLE in guide
    assert CAPI_EXAMPLE in facts


def test_the_vendored_reference_is_verbatim_from_its_source():
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
