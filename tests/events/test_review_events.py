"""Defects found in review of the events app: each test failed before its fix."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from events import validation
from tenants.models import ConnectedPage, Tenant
from tests.events.helpers import PSID, post_events, refused

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("item", [None, "24571937185104", 7, ["x"]])
def test_a_batch_item_that_is_not_an_object_is_a_400_not_a_500(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage, item: Any
) -> None:
    body = {"page_id": capi_page.page_id, "batch": [item]}
    error = refused(post_events(api, tenant, body))
    assert error["code"] == "invalid"
    assert list(error["details"]) == ["batch"]


@pytest.mark.parametrize(
    ("key_name", "code"), [("value", "use_value_field"), ("currency", "use_currency_field")]
)
def test_a_capi_parameter_cannot_overwrite_custom_data_value_or_currency(
    key_name: str, code: str
) -> None:
    # The Conversions API's custom_data carries the event's own value and currency; a
    # parameter of the same name would replace them in the payload Facebook gets.
    problems = validation.validate_event(
        event="Purchase",
        params={key_name: "999"},
        value=Decimal("57.23"),
        currency="USD",
        transport="conversions_api",
    )
    assert [(p.field, p.code) for p in problems] == [(f"params.{key_name}", code)]


def test_value_and_currency_are_plain_parameters_on_page_activities() -> None:
    problems = validation.validate_event(
        event="table_booked",
        params={"value": "999", "currency": "USD"},
        transport="page_activities",
    )
    assert problems == []


def test_the_api_refuses_a_capi_value_parameter(
    api: APIClient, tenant: Tenant, capi_page: ConnectedPage
) -> None:
    body = {
        "page_id": capi_page.page_id,
        "psid": PSID,
        "events": [
            {"event": "Purchase", "value": 57.23, "currency": "USD", "params": {"value": 1}}
        ],
    }
    error = refused(post_events(api, tenant, body))
    assert error["code"] == "invalid_events"
    assert [(p["field"], p["code"]) for p in error["details"]["events"]["0"]] == [
        ("params.value", "use_value_field")
    ]
