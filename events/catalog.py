"""The standard-event catalog: Facebook's standard events and their names on each transport.

The data lives in one file, `catalog.json` beside this module (sources: the reference's
sections 2.1-2.3 and 3.4). A *logical key* (``purchase``, ``lead_submitted``) is what flows and
API calls name and what `LoggedEvent.event` stores; each transport has its own Facebook name
for it (``fb_mobile_purchase`` on ``page_activities``, ``Purchase`` on ``conversions_api``) or
none, when that transport cannot carry it. Everything here is read-only and loaded once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

TRANSPORTS = ("page_activities", "conversions_api")
PARAM_TYPES = ("string", "number", "integer", "flag", "json")
REQUIREMENTS = ("required", "recommended")
DATA_PATH = Path(__file__).with_name("catalog.json")


@dataclass(frozen=True)
class Param:
    """A standard parameter of an event (an App Events key such as ``fb_content_type``).

    ``type`` is one of PARAM_TYPES ("flag" means 1 or 0); ``choices``, when set, are the only
    values Facebook documents; ``transports`` are those that carry the parameter.
    """

    key: str
    label: str
    type: str
    requirement: str
    choices: tuple[str, ...] = ()
    description: str = ""
    transports: tuple[str, ...] = TRANSPORTS


@dataclass(frozen=True)
class CatalogEvent:
    key: str
    label: str
    category: str
    description: str
    names: Mapping[str, str | None] = field(hash=False)
    params: tuple[Param, ...]
    takes_value: bool
    takes_currency: bool

    def name_for(self, transport: str) -> str | None:
        """Facebook's name for this event on `transport`, or None when it cannot carry it."""
        return self.names.get(transport)

    def transports(self) -> tuple[str, ...]:
        return tuple(transport for transport in TRANSPORTS if self.names.get(transport))

    def param(self, key: str) -> Param | None:
        return next((param for param in self.params if param.key == key), None)

    def params_for(self, transport: str) -> tuple[Param, ...]:
        return tuple(param for param in self.params if transport in param.transports)


class CatalogError(ValueError):
    """The catalog data is inconsistent (a bug in catalog.json, caught at import)."""


@dataclass(frozen=True)
class Catalog:
    events: tuple[CatalogEvent, ...]
    categories: tuple[str, ...]
    params: Mapping[str, Param] = field(hash=False)
    reserved_prefixes: tuple[str, ...]
    internal_names: frozenset[str]
    etag: str
    by_name: Mapping[str, CatalogEvent] = field(hash=False, repr=False)


def _param(key: str, raw: Mapping[str, Any], requirement: str) -> Param:
    param = Param(
        key=key,
        label=raw["label"],
        type=raw["type"],
        requirement=requirement,
        choices=tuple(raw.get("choices", ())),
        description=raw.get("description", ""),
        transports=tuple(raw.get("transports", TRANSPORTS)),
    )
    if param.type not in PARAM_TYPES or requirement not in REQUIREMENTS:
        raise CatalogError(f"parameter {key}: bad type {param.type!r} or {requirement!r}")
    if not set(param.transports) <= set(TRANSPORTS):
        raise CatalogError(f"parameter {key}: unknown transport in {param.transports}")
    return param


def build(raw: Mapping[str, Any]) -> Catalog:
    """Check and index catalog data (the parsed catalog.json)."""
    definitions = raw["params"]
    categories = tuple(raw["categories"])
    events = []
    by_name: dict[str, CatalogEvent] = {}
    for item in raw["events"]:
        unknown = set(item["names"]) - set(TRANSPORTS)
        if unknown or item["category"] not in categories:
            raise CatalogError(f"event {item['key']}: bad transport {unknown} or category")
        event = CatalogEvent(
            key=item["key"],
            label=item["label"],
            category=item["category"],
            description=item["description"],
            names=MappingProxyType({t: item["names"].get(t) for t in TRANSPORTS}),
            params=tuple(
                _param(key, definitions[key], requirement)
                for key, requirement in item["params"].items()
            ),
            takes_value=bool(item["takes_value"]),
            takes_currency=bool(item["takes_currency"]),
        )
        if not event.transports():
            raise CatalogError(f"event {event.key}: no transport carries it")
        for name in {event.key, *filter(None, event.names.values())}:
            if name in by_name:
                raise CatalogError(f"name {name!r} is used by {by_name[name].key} and {event.key}")
            by_name[name] = event
        events.append(event)
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Catalog(
        events=tuple(events),
        categories=categories,
        params=MappingProxyType(
            {key: _param(key, value, "recommended") for key, value in definitions.items()}
        ),
        reserved_prefixes=tuple(raw["reserved"]["logged_by_facebook_prefixes"]),
        internal_names=frozenset(raw["reserved"]["internal_names"]),
        etag=hashlib.sha256(canonical.encode()).hexdigest()[:32],
        by_name=MappingProxyType(by_name),
    )


def load(path: Path = DATA_PATH) -> Catalog:
    return build(json.loads(path.read_text(encoding="utf-8")))


# The catalog in force; tests may swap it for one built from other data.
_CATALOG = load()


def current() -> Catalog:
    return _CATALOG


def _check_transport(transport: str) -> None:
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}; use one of {', '.join(TRANSPORTS)}")


def all_events() -> tuple[CatalogEvent, ...]:
    return _CATALOG.events


def categories() -> tuple[str, ...]:
    return _CATALOG.categories


def get(key: str) -> CatalogEvent | None:
    """The catalog event with this logical key."""
    event = _CATALOG.by_name.get(key)
    return event if event is not None and event.key == key else None


def resolve(name: str) -> CatalogEvent | None:
    """The catalog event with this logical key or this Facebook name on either transport."""
    return _CATALOG.by_name.get(name)


def for_transport(transport: str) -> tuple[CatalogEvent, ...]:
    """The events `transport` can carry, in catalog order."""
    _check_transport(transport)
    return tuple(event for event in _CATALOG.events if event.name_for(transport))


def custom_events_allowed(transport: str) -> bool:
    """Whether `transport` takes event names outside the catalog (only page_activities)."""
    _check_transport(transport)
    return transport == "page_activities"


def facebook_name(event: str, transport: str) -> str | None:
    """The name Facebook gets for `event` on `transport`, or None when it cannot carry it.

    `event` is a logical key, a Facebook name of either transport, or a custom name (which
    goes out unchanged where custom names are allowed).
    """
    _check_transport(transport)
    found = resolve(event)
    if found is not None:
        return found.name_for(transport)
    return event if custom_events_allowed(transport) else None


def canonical_event(event: str) -> str:
    """The logical key if `event` is in the catalog, else the custom name unchanged."""
    found = resolve(event)
    return found.key if found is not None else event


def standard_param(key: str) -> Param | None:
    """The definition of a standard parameter key (requirement is always "recommended")."""
    return _CATALOG.params.get(key)


def reserved_reason(name: str) -> str | None:
    """Why `name` may not be sent at all, or None. Facebook logs these itself (or its SDKs do)."""
    lowered = name.lower()
    if any(lowered.startswith(prefix) for prefix in _CATALOG.reserved_prefixes):
        return "logged_by_facebook"
    if name in _CATALOG.internal_names:
        return "internal"
    return None


def reserved_prefixes() -> tuple[str, ...]:
    """Lower-case prefixes of the events Facebook logs itself (``fb_messenger_bot_``)."""
    return _CATALOG.reserved_prefixes


def internal_names() -> frozenset[str]:
    """Names Facebook's SDKs log internally."""
    return _CATALOG.internal_names


def catalog_etag() -> str:
    """A stable hash of the catalog data: it changes exactly when catalog.json does."""
    return _CATALOG.etag
