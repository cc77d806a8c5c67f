"""Facebook's rate-limit usage headers, parsed into values the delivery worker can act on.

Graph reports how close an app, a user or a business object is to its rate limit on every
response, successful or not (reference §4.5):

- ``X-App-Usage``: Platform limits, ``{"call_count": 28, "total_time": 25, "total_cputime": 25}``,
  whole-number percentages where throttling may start at 100.
- ``X-Business-Use-Case-Usage``: Business Use Case limits, one list of entries per business
  object id, each with a ``type`` and ``estimated_time_to_regain_access`` in MINUTES.
- ``X-Page-Usage``: a legacy header with the shape of ``X-App-Usage``; parsed when present,
  never relied on.
- ``x-fb-ads-insights-throttle``: Ads Insights load, ``{"app_id_util_pct": 41,
  "acc_id_util_pct": 100, "ads_api_access_tier": "standard_access"}``, percentages of the app's
  and the ad account's insights capacity (Marketing API "Insights API Limits").

Parsing never raises: a malformed header is a reason to log, not to fail a call that worked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

logger = logging.getLogger("graph_api")

APP_USAGE_HEADER = "x-app-usage"
BUSINESS_USE_CASE_USAGE_HEADER = "x-business-use-case-usage"
PAGE_USAGE_HEADER = "x-page-usage"
ADS_INSIGHTS_THROTTLE_HEADER = "x-fb-ads-insights-throttle"


@dataclass(frozen=True)
class PlatformUsage:
    """The shape of ``X-App-Usage`` and ``X-Page-Usage``: percentages of the limit used."""

    call_count: int = 0
    total_time: int = 0
    total_cputime: int = 0

    @property
    def max_percent(self) -> int:
        """The highest of the three percentages."""
        return max(self.call_count, self.total_time, self.total_cputime)


@dataclass(frozen=True)
class BusinessUseCaseUsage:
    """One entry of ``X-Business-Use-Case-Usage`` for one business object (a Page, an ad account)."""

    business_id: str
    type: str
    call_count: int = 0
    total_time: int = 0
    total_cputime: int = 0
    estimated_time_to_regain_access: int = 0
    """Minutes until the object may call again; 0 when it is not throttled."""
    ads_api_access_tier: str | None = None

    @property
    def max_percent(self) -> int:
        """The highest of the three percentages."""
        return max(self.call_count, self.total_time, self.total_cputime)


@dataclass(frozen=True)
class AdsInsightsThrottle:
    """``x-fb-ads-insights-throttle``: how much of the app's and the ad account's insights
    capacity is used, in percent; Facebook throttles the account at 100."""

    app_id_util_pct: int = 0
    acc_id_util_pct: int = 0
    ads_api_access_tier: str | None = None

    @property
    def max_percent(self) -> int:
        """The higher of the two percentages."""
        return max(self.app_id_util_pct, self.acc_id_util_pct)


@dataclass(frozen=True)
class Usage:
    """Everything the usage headers of one response said; empty when they said nothing."""

    app: PlatformUsage | None = None
    page: PlatformUsage | None = None
    business_use_case: tuple[BusinessUseCaseUsage, ...] = ()
    ads_insights: AdsInsightsThrottle | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Usage:
        """Parse the usage headers of a response (any header-name case); ignore malformed ones."""
        lowered = {name.lower(): value for name, value in headers.items()}
        return cls(
            app=_platform_usage(lowered.get(APP_USAGE_HEADER), APP_USAGE_HEADER),
            page=_platform_usage(lowered.get(PAGE_USAGE_HEADER), PAGE_USAGE_HEADER),
            business_use_case=_business_use_case_usage(lowered.get(BUSINESS_USE_CASE_USAGE_HEADER)),
            ads_insights=_ads_insights_throttle(lowered.get(ADS_INSIGHTS_THROTTLE_HEADER)),
        )

    @property
    def is_empty(self) -> bool:
        """True when the response carried no usage header at all."""
        return (
            self.app is None
            and self.page is None
            and not self.business_use_case
            and self.ads_insights is None
        )

    @property
    def max_percent(self) -> int:
        """The highest percentage of any limit reported; 0 when nothing was reported.

        A scheduler slows a page down as this nears 100, before Facebook throttles it.
        """
        percents = [usage.max_percent for usage in (self.app, self.page) if usage is not None]
        percents.extend(entry.max_percent for entry in self.business_use_case)
        if self.ads_insights is not None:
            percents.append(self.ads_insights.max_percent)
        return max(percents, default=0)

    @property
    def regain_access_seconds(self) -> int:
        """Seconds until every throttled business object may call again; 0 when none is throttled.

        Facebook reports ``estimated_time_to_regain_access`` in minutes.
        """
        minutes = max(
            (e.estimated_time_to_regain_access for e in self.business_use_case), default=0
        )
        return minutes * 60


def _platform_usage(raw: str | None, header: str) -> PlatformUsage | None:
    if raw is None:
        return None
    data = _load_json(raw, header)
    if not isinstance(data, dict):
        return None
    return PlatformUsage(
        call_count=_percent(data.get("call_count")),
        total_time=_percent(data.get("total_time")),
        total_cputime=_percent(data.get("total_cputime")),
    )


def _ads_insights_throttle(raw: str | None) -> AdsInsightsThrottle | None:
    if raw is None:
        return None
    data = _load_json(raw, ADS_INSIGHTS_THROTTLE_HEADER)
    if not isinstance(data, dict):
        return None
    tier = data.get("ads_api_access_tier")
    return AdsInsightsThrottle(
        app_id_util_pct=_percent(data.get("app_id_util_pct")),
        acc_id_util_pct=_percent(data.get("acc_id_util_pct")),
        ads_api_access_tier=tier if isinstance(tier, str) else None,
    )


def _business_use_case_usage(raw: str | None) -> tuple[BusinessUseCaseUsage, ...]:
    if raw is None:
        return ()
    data = _load_json(raw, BUSINESS_USE_CASE_USAGE_HEADER)
    if not isinstance(data, dict):
        return ()
    entries: list[BusinessUseCaseUsage] = []
    for business_id, items in data.items():
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            tier = item.get("ads_api_access_tier")
            entries.append(
                BusinessUseCaseUsage(
                    business_id=str(business_id),
                    type=str(item.get("type", "")),
                    call_count=_percent(item.get("call_count")),
                    total_time=_percent(item.get("total_time")),
                    total_cputime=_percent(item.get("total_cputime")),
                    estimated_time_to_regain_access=_percent(
                        item.get("estimated_time_to_regain_access")
                    ),
                    ads_api_access_tier=tier if isinstance(tier, str) else None,
                )
            )
    return tuple(entries)


def _load_json(raw: str, header: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        logger.warning("graph_api.usage.unparseable", extra={"header": header})
        return None


def _percent(value: object) -> int:
    """A non-negative whole number from a usage field; anything else counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0
    try:
        return max(int(float(value)), 0)
    except (ValueError, OverflowError):  # "abc", NaN, Infinity
        return 0
