"""Injected faults: errors, throttling, timeouts and latency on chosen calls.

A fault has a kind (what goes wrong), a scope (page id, path substring, method) and a trigger:
`count` fails exactly the next N matching calls (deterministic, for tests) and `rate` fails each
matching call with that probability (for soak runs and benchmarks). Faults are checked once per
Graph call, so each operation of a batch request is its own call.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import OAUTH, GraphError, invalid_token

RATE_LIMIT_DOC = "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."


@dataclass(frozen=True, slots=True)
class ErrorKind:
    """How one error kind looks on the wire."""

    code: int
    message: str
    status: int = 400
    is_transient: bool = False
    subcode: int | None = None
    # Throttling: which usage header reaches 100 ("app" = X-App-Usage, else a BUC type).
    throttles: str | None = None


ERROR_KINDS: dict[str, ErrorKind] = {
    "500": ErrorKind(1, "An unknown error has occurred.", status=500, is_transient=True),
    "1": ErrorKind(1, "An unknown error has occurred.", status=500, is_transient=True),
    "2": ErrorKind(
        2,
        "An unexpected error has occurred. Please retry your request later.",
        status=500,
        is_transient=True,
    ),
    "4": ErrorKind(4, "(#4) Application request limit reached", is_transient=True, throttles="app"),
    # Facebook itself answers throttling with 400; "429" is for clients that must cope with a
    # proxy or load balancer in front of Graph answering Too Many Requests.
    "429": ErrorKind(
        4, "(#4) Application request limit reached", status=429, is_transient=True, throttles="app"
    ),
    "17": ErrorKind(17, "(#17) User request limit reached", is_transient=True, throttles="app"),
    "32": ErrorKind(32, "(#32) Page request limit reached", is_transient=True, throttles="pages"),
    "613": ErrorKind(
        613,
        "(#613) Calls to this api have exceeded the rate limit.",
        is_transient=True,
        throttles="pages",
    ),
    "80001": ErrorKind(
        80001,
        f"(#80001) There have been too many calls to this Page account. Wait a bit and try again. {RATE_LIMIT_DOC}",
        is_transient=True,
        throttles="pages",
    ),
    "80006": ErrorKind(
        80006,
        f"(#80006) There have been too many messenger api calls to this Page account. Wait a bit and try again. {RATE_LIMIT_DOC}",
        is_transient=True,
        throttles="messenger",
    ),
    # Ads Insights throttling (reference §4.4): per ad account, with x-fb-ads-insights-throttle.
    "80000": ErrorKind(
        80000,
        f"(#80000) There have been too many calls from this ad-account. Wait a bit and try again. {RATE_LIMIT_DOC}",
        is_transient=True,
        subcode=2446079,
        throttles="ads_insights",
    ),
    "10": ErrorKind(10, "(#10) Application does not have permission for this action"),
    "200": ErrorKind(200, "(#200) Permissions error"),
    "368": ErrorKind(
        368, "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
    ),
    "551": ErrorKind(551, "(#551) This person isn't available right now."),
}
# 190 is built by errors.invalid_token so its message matches its subcode.
INVALID_SESSION_KIND = "190"
SPECIAL_KINDS = ("timeout", "latency", "custom")
FAULT_KINDS = (*ERROR_KINDS, INVALID_SESSION_KIND, *SPECIAL_KINDS)


class FaultSpecError(ValueError):
    """A fault description that cannot be installed; the message says why."""


@dataclass(slots=True)
class Fault:
    """One installed fault."""

    id: int
    kind: str
    rate: float = 1.0
    count: int | None = None  # remaining firings; None = unlimited
    page_id: str | None = None
    path: str | None = None
    method: str | None = None
    seconds: float = 30.0  # timeout: how long the call hangs
    process: bool = False  # timeout: whether the call takes effect after hanging
    latency_ms: int = 0
    regain_minutes: int = 5
    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    status: int | None = None
    error_type: str | None = None
    is_transient: bool | None = None
    hits: int = field(default=0)

    def matches(self, *, method: str, path: str, page_id: str | None) -> bool:
        """Whether this fault applies to a call (before its trigger is drawn)."""
        if self.count is not None and self.count <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.path is not None and self.path not in path:
            return False
        return self.page_id is None or self.page_id == page_id

    def fire(self, rng: random.Random) -> bool:
        """Draw the trigger; when it fires, count the hit and use up one of `count`."""
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        self.hits += 1
        if self.count is not None:
            self.count -= 1
        return True

    def to_json(self) -> dict[str, Any]:
        """The fault as the control API lists it."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    def error(self, page_id: str | None) -> GraphError:
        """The GraphError this fault produces (not for timeout/latency)."""
        if self.kind == INVALID_SESSION_KIND:
            error = invalid_token(self.subcode if self.subcode is not None else 463, self.message)
        elif self.kind == "custom":
            error = GraphError(
                self.message or "Injected error",
                self.code if self.code is not None else 1,
                error_type=self.error_type or OAUTH,
                subcode=self.subcode,
                status=self.status or 400,
                is_transient=bool(self.is_transient),
            )
        else:
            kind = ERROR_KINDS[self.kind]
            error = GraphError(
                self.message or kind.message,
                kind.code,
                subcode=self.subcode if self.subcode is not None else kind.subcode,
                status=self.status or kind.status,
                is_transient=kind.is_transient if self.is_transient is None else self.is_transient,
            )
            if kind.throttles:
                error.headers = throttled_usage_headers(
                    kind.throttles, page_id, self.regain_minutes
                )
        if self.status is not None:
            error.status = self.status
        return error


def throttled_usage_headers(
    throttles: str, page_id: str | None, regain_minutes: int
) -> dict[str, str]:
    """Usage headers at or past 100%, as Facebook sends them with a throttling error."""
    headers = {
        "X-App-Usage": json.dumps(
            {
                "call_count": 100 if throttles == "app" else 42,
                "total_cputime": 38,
                "total_time": 41,
            }
        )
    }
    if throttles == "ads_insights":
        headers["x-fb-ads-insights-throttle"] = json.dumps(
            {
                "app_id_util_pct": 41,
                "acc_id_util_pct": 100,
                "ads_api_access_tier": "standard_access",
            }
        )
    if page_id is not None:
        headers["X-Business-Use-Case-Usage"] = json.dumps(
            {
                page_id: [
                    {
                        "type": "pages" if throttles == "app" else throttles,
                        "call_count": 100 if throttles != "app" else 64,
                        "total_cputime": 57,
                        "total_time": 61,
                        "estimated_time_to_regain_access": regain_minutes,
                    }
                ]
            }
        )
    return headers


class FaultBook:
    """The installed faults, in the order they were added."""

    def __init__(self, seed: int | None = None) -> None:
        self._faults: list[Fault] = []
        self._next_id = 1
        self._rng = random.Random(seed)  # noqa: S311 - fault injection, not cryptography

    def add(self, spec: dict[str, Any]) -> Fault:
        """Install a fault from its JSON description; raises FaultSpecError if it is invalid."""
        fault = parse_fault(spec, self._next_id)
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def remove(self, fault_id: int | None = None) -> int:
        """Remove one fault by id, or every fault; returns how many were removed."""
        before = len(self._faults)
        self._faults = [] if fault_id is None else [f for f in self._faults if f.id != fault_id]
        return before - len(self._faults)

    def __iter__(self) -> Any:
        return iter(self._faults)

    def __bool__(self) -> bool:
        return bool(self._faults)

    def draw(self, *, method: str, path: str, page_id: str | None) -> tuple[int, Fault | None]:
        """Latency to add (ms) and the first failing fault that fires for this call, if any."""
        latency = 0
        failing: Fault | None = None
        for fault in self._faults:
            if not fault.matches(method=method, path=path, page_id=page_id):
                continue
            if fault.kind == "latency":
                if fault.fire(self._rng):
                    latency += fault.latency_ms
            elif failing is None and fault.fire(self._rng):
                failing = fault
        return latency, failing


_FAULT_FIELDS = {
    "kind",
    "rate",
    "count",
    "page_id",
    "path",
    "method",
    "seconds",
    "process",
    "latency_ms",
    "regain_minutes",
    "code",
    "subcode",
    "message",
    "status",
    "type",
    "is_transient",
}


def parse_fault(spec: dict[str, Any], fault_id: int) -> Fault:
    """Check a fault description and build the Fault."""
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault is a JSON object")
    if unknown := set(spec) - _FAULT_FIELDS:
        raise FaultSpecError(
            f"unknown fault fields {sorted(unknown)}; known: {sorted(_FAULT_FIELDS)}"
        )
    kind = str(spec.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f"kind must be one of {list(FAULT_KINDS)}, got {kind!r}")
    try:
        rate = float(spec.get("rate", 1.0))
        count = None if spec.get("count") is None else int(spec["count"])
        fault = Fault(
            id=fault_id,
            kind=kind,
            rate=rate,
            count=count,
            page_id=None if spec.get("page_id") is None else str(spec["page_id"]),
            path=spec.get("path"),
            method=None if spec.get("method") is None else str(spec["method"]).upper(),
            seconds=float(spec.get("seconds", 30.0)),
            process=bool(spec.get("process", False)),
            latency_ms=int(spec.get("latency_ms", 0)),
            regain_minutes=int(spec.get("regain_minutes", 5)),
            code=None if spec.get("code") is None else int(spec["code"]),
            subcode=None if spec.get("subcode") is None else int(spec["subcode"]),
            message=spec.get("message"),
            status=None if spec.get("status") is None else int(spec["status"]),
            error_type=spec.get("type"),
            is_transient=spec.get("is_transient"),
        )
    except (TypeError, ValueError) as exc:
        raise FaultSpecError(f"bad fault field: {exc}") from exc
    if not 0.0 < rate <= 1.0:
        raise FaultSpecError("rate must be in (0, 1]")
    if count is not None and count < 1:
        raise FaultSpecError("count must be at least 1")
    if kind == "latency" and fault.latency_ms <= 0:
        raise FaultSpecError("a latency fault needs latency_ms > 0")
    if kind == "timeout" and fault.seconds <= 0:
        raise FaultSpecError("a timeout fault needs seconds > 0")
    if kind == "custom" and (fault.code is None or not fault.message):
        raise FaultSpecError("a custom fault needs code and message")
    return fault
