"""The reference's examples that the golden tests (tests/graph_api/test_golden.py) and the
transports' tests (tests/events/test_transports.py) compare our requests with, copied verbatim
(test_golden.py says from where), and the values that fill their placeholders."""

import json
import re
from typing import Any

from tests.graph_stub import APP_ID

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

PAGE_ID = "104729360011245"
PSID = "6543219876543210"
PAGE_TOKEN = "golden-page-token"
PARTNER = "pagepulse"


def repair(example: str) -> tuple[Any, str]:
    """The guide's curl example as (JSON body, URL), with the lost ``[{`` and ``}],`` restored
    and the placeholders substituted."""
    match = re.fullmatch(
        r"curl -X POST -H \"Content-Type: application/json\" -d '(.*)' (\S+)", example, re.S
    )
    assert match is not None, example
    body, url = match.groups()
    body = re.sub(
        r'"custom_events": \[\n(.*?)\n(\s*"advertiser_tracking_enabled")',
        r'"custom_events": [{\n\1\n}],\n\2',
        body,
        flags=re.S,
    )
    return json.loads(substitute(body)), substitute(url)


def substitute(text: str) -> str:
    return (
        text.replace("<PAGE_ID>", PAGE_ID)
        .replace("<PSID>", PSID)
        .replace("<APP_ID>", APP_ID)
        .replace("<PAGE_ACCESS_TOKEN>", PAGE_TOKEN)
        .replace("<PARTNER_NAME>", PARTNER)
    )
