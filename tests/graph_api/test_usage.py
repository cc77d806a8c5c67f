"""Usage headers (reference §4.5) parsed into numbers a scheduler can act on."""

import json
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph_api.usage import BusinessUseCaseUsage, PlatformUsage, Usage

# The doc's own examples (reference §4.5).
APP_USAGE = '{"call_count": 28, "total_time": 25, "total_cputime": 25}'
BUC_USAGE = json.dumps(
    {
        "112233": [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 25,
                "total_time": 25,
                "estimated_time_to_regain_access": 19,
                "ads_api_access_tier": "standard_access",
            }
        ]
    }
)


def test_app_usage_is_parsed() -> None:
    usage = Usage.from_headers({"X-App-Usage": APP_USAGE})

    assert usage.app == PlatformUsage(call_count=28, total_time=25, total_cputime=25)
    assert usage.page is None
    assert usage.business_use_case == ()
    assert usage.max_percent == 28
    assert usage.regain_access_seconds == 0


def test_business_use_case_usage_is_parsed_with_minutes_turned_into_seconds() -> None:
    usage = Usage.from_headers({"X-Business-Use-Case-Usage": BUC_USAGE})

    assert usage.business_use_case == (
        BusinessUseCaseUsage(
            business_id="112233",
            type="pages",
            call_count=100,
            total_time=25,
            total_cputime=25,
            estimated_time_to_regain_access=19,
            ads_api_access_tier="standard_access",
        ),
    )
    assert usage.max_percent == 100
    assert usage.regain_access_seconds == 19 * 60


def test_every_business_object_and_the_longest_wait_count() -> None:
    header = json.dumps(
        {
            "1": [{"type": "pages", "call_count": 10, "estimated_time_to_regain_access": 0}],
            "2": [
                {"type": "messenger", "total_time": 70, "estimated_time_to_regain_access": 3},
                {"type": "pages", "total_cputime": 40, "estimated_time_to_regain_access": 7},
            ],
        }
    )

    usage = Usage.from_headers({"x-business-use-case-usage": header})

    assert [(e.business_id, e.type) for e in usage.business_use_case] == [
        ("1", "pages"),
        ("2", "messenger"),
        ("2", "pages"),
    ]
    assert usage.max_percent == 70
    assert usage.regain_access_seconds == 7 * 60


def test_page_usage_is_parsed_when_present() -> None:
    usage = Usage.from_headers({"X-Page-Usage": '{"call_count": 91, "total_time": 3}'})

    assert usage.page == PlatformUsage(call_count=91, total_time=3, total_cputime=0)
    assert usage.max_percent == 91


def test_header_names_are_case_insensitive() -> None:
    usage = Usage.from_headers({"x-APP-usage": APP_USAGE})

    assert usage.app is not None
    assert usage.app.call_count == 28


def test_no_headers_is_an_empty_usage() -> None:
    usage = Usage.from_headers({"Content-Type": "application/json"})

    assert usage == Usage()
    assert usage.is_empty
    assert usage.max_percent == 0
    assert usage.regain_access_seconds == 0


@pytest.mark.parametrize(
    "header",
    ["not json", "[1, 2]", '"text"', "{", ""],
)
def test_malformed_headers_are_ignored_and_logged(
    header: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="graph_api")

    usage = Usage.from_headers({"X-App-Usage": header, "X-Business-Use-Case-Usage": header})

    assert usage.app is None
    assert usage.business_use_case == ()
    if header in ("not json", "{", ""):
        assert [r.getMessage() for r in caplog.records] == ["graph_api.usage.unparseable"] * 2


def test_odd_values_count_as_zero() -> None:
    usage = Usage.from_headers(
        {"X-App-Usage": '{"call_count": "12", "total_time": true, "total_cputime": -4}'}
    )

    assert usage.app == PlatformUsage(call_count=12, total_time=0, total_cputime=0)


@given(
    st.dictionaries(
        st.sampled_from(["X-App-Usage", "X-Page-Usage", "X-Business-Use-Case-Usage"]), st.text()
    )
)
def test_parsing_never_raises(headers: dict[str, str]) -> None:
    usage = Usage.from_headers(headers)

    assert usage.max_percent >= 0
    assert usage.regain_access_seconds >= 0


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=5),
        st.lists(
            st.dictionaries(
                st.sampled_from(["type", "call_count", "estimated_time_to_regain_access"]),
                st.one_of(st.integers(), st.floats(), st.text(), st.none(), st.booleans()),
            )
        ),
    )
)
def test_any_business_use_case_json_parses(payload: dict[str, list[dict[str, Any]]]) -> None:
    usage = Usage.from_headers({"X-Business-Use-Case-Usage": json.dumps(payload)})

    assert usage.max_percent >= 0
    assert usage.regain_access_seconds >= 0
