"""Scenarios: small JSON documents that describe a simulated retailer and how its systems drift.

A scenario names its locations (or asks for N generated ones), SKUs, sales channels, the ERP's
sync window per location (interval, jitter, failure and partial-sync rates), the ERP clock
offset, the storefront's pull interval and its own rules, WMS event rates, order rates, the
optional cascade loop, and the seed. The README documents the format; `scenarios/*.json` are
the named ones. Loading validates every field and says which one is wrong.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zoneinfo
from pathlib import Path
from typing import Any

SCENARIO_DIR = Path(__file__).parent / "scenarios"

WMS_EVENT_KINDS = ("receipt", "cycle_count", "shrinkage", "quarantine", "channel_allocation", "transfer")


class ScenarioError(ValueError):
    """A scenario document is malformed; the message names the field."""


@dataclasses.dataclass(frozen=True, slots=True)
class ErpSync:
    """How the ERP syncs one location from the WMS."""

    interval_minutes: float
    jitter_minutes: float
    failure_rate: float  # a sync that imports nothing
    partial_rate: float  # a sync that imports only some SKUs
    counts_non_sellable_bins: bool  # the ERP's boundary: does it count quarantine/damaged bins?


@dataclasses.dataclass(frozen=True, slots=True)
class LocationSpec:
    code: str
    name: str
    kind: str
    time_zone: str
    bins: tuple[str, ...]
    non_sellable_bins: frozenset[str]
    erp: ErpSync
    storefront_safety_stock: int  # the storefront's own safety stock (rule drift when ≠ the rules)
    rates_per_hour: dict[str, float]  # WMS event kind → events per hour at this location
    order_weight: float  # share of channel orders routed here


@dataclasses.dataclass(frozen=True, slots=True)
class ChannelSpec:
    code: str
    name: str
    orders_per_hour: float
    quantity: tuple[int, int]
    locations: tuple[str, ...]  # which locations the storefront lets this channel sell from
    ignores_stock: bool  # sells even when the storefront shows less (Shopify's CONTINUE policy)


@dataclasses.dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    seed: int
    start: dt.datetime
    company: str
    sku_count: int
    initial_on_hand: tuple[int, int]
    receipt_quantity: tuple[int, int]
    allocation_quantity: tuple[int, int]
    reserve_inventory: int  # the retailer's intended safety stock, held back by the WMS
    locations: tuple[LocationSpec, ...]
    channels: tuple[ChannelSpec, ...]
    erp_clock_offset_seconds: float
    erp_time_zone: str
    storefront_pull_minutes: float
    storefront_jitter_minutes: float
    pick_delay_hours: tuple[float, float]
    cascade_probability: float
    cascade_delay_minutes: tuple[float, float]

    def with_seed(self, seed: int) -> Scenario:
        return dataclasses.replace(self, seed=seed)


def scenario_names() -> list[str]:
    """The named scenarios shipped with the sandbox."""
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.json"))


def load_scenario(name_or_path: str) -> Scenario:
    """A named scenario, or a scenario file in the documented format."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise ScenarioError(f"No scenario '{name_or_path}': use one of {', '.join(scenario_names())} or a .json file.")
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path.name}: not valid JSON ({exc.msg}, line {exc.lineno}).") from exc
    return scenario_parse(document)


# --- parsing ---------------------------------------------------------------------------------


def _get(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in doc:
        if default is ...:
            raise ScenarioError(f"{where}.{key} is required.")
        return default
    value = doc[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        raise ScenarioError(f"{where}.{key} must be {getattr(kind, '__name__', kind)}, not {value!r}.")
    return value


def _rate(doc: dict[str, Any], key: str, where: str, default: float) -> float:
    value = _get(doc, key, float, where, default)
    if not 0 <= value <= 1:
        raise ScenarioError(f"{where}.{key} is a probability between 0 and 1, not {value}.")
    return value


def _range(doc: dict[str, Any], key: str, where: str, default: list[float]) -> tuple[Any, Any]:
    value = _get(doc, key, list, where, default)
    if len(value) != 2 or not all(isinstance(v, int | float) for v in value) or value[0] > value[1] or value[0] < 0:
        raise ScenarioError(f"{where}.{key} must be [low, high] with 0 ≤ low ≤ high, not {value!r}.")
    return value[0], value[1]


def _erp_sync(doc: dict[str, Any], defaults: dict[str, Any], where: str) -> ErpSync:
    merged = {**defaults, **doc}
    interval = _get(merged, "sync_interval_minutes", float, where, 15.0)
    if interval <= 0:
        raise ScenarioError(f"{where}.sync_interval_minutes must be positive.")
    return ErpSync(
        interval_minutes=interval,
        jitter_minutes=_get(merged, "jitter_minutes", float, where, 0.0),
        failure_rate=_rate(merged, "failure_rate", where, 0.0),
        partial_rate=_rate(merged, "partial_rate", where, 0.0),
        counts_non_sellable_bins=_get(merged, "counts_non_sellable_bins", bool, where, True),
    )


def _location(doc: dict[str, Any], defaults: dict[str, Any], where: str) -> LocationSpec:
    time_zone = _get(doc, "time_zone", str, where, defaults.get("time_zone", "UTC"))
    if time_zone not in zoneinfo.available_timezones():
        raise ScenarioError(f"{where}.time_zone '{time_zone}' is not an IANA time zone name.")
    bins = tuple(_get(doc, "bins", list, where, defaults.get("bins", ["MAIN", "QUARANTINE"])))
    non_sellable = frozenset(
        _get(doc, "non_sellable_bins", list, where, defaults.get("non_sellable_bins", ["QUARANTINE"]))
    )
    if not bins or not non_sellable <= set(bins) or bins[0] in non_sellable:
        raise ScenarioError(f"{where}.bins must start with a sellable bin and include every non-sellable bin.")
    rates = {**defaults.get("rates_per_hour", {}), **_get(doc, "rates_per_hour", dict, where, {})}
    unknown = set(rates) - set(WMS_EVENT_KINDS)
    if unknown:
        raise ScenarioError(f"{where}.rates_per_hour has unknown kinds {sorted(unknown)}; use {list(WMS_EVENT_KINDS)}.")
    kind = _get(doc, "kind", str, where, defaults.get("kind", "store"))
    if kind not in ("store", "fulfillment_center", "distribution_center"):
        raise ScenarioError(f"{where}.kind must be store, fulfillment_center or distribution_center.")
    return LocationSpec(
        code=_get(doc, "code", str, where),
        name=_get(doc, "name", str, where),
        kind=kind,
        time_zone=time_zone,
        bins=bins,
        non_sellable_bins=non_sellable,
        erp=_erp_sync(_get(doc, "erp", dict, where, {}), defaults.get("erp", {}), f"{where}.erp"),
        storefront_safety_stock=_get(
            doc, "storefront_safety_stock", int, where, defaults.get("storefront_safety_stock", 0)
        ),
        rates_per_hour={k: float(v) for k, v in rates.items()},
        order_weight=_get(doc, "order_weight", float, where, defaults.get("order_weight", 1.0)),
    )


def _generated_locations(spec: dict[str, Any], defaults: dict[str, Any]) -> list[dict[str, Any]]:
    count = _get(spec, "count", int, "generate", 0)
    fcs = _get(spec, "fulfillment_centers", int, "generate", 1)
    zones = _get(spec, "time_zones", list, "generate", ["America/New_York", "America/Chicago", "America/Los_Angeles"])
    overrides = _get(spec, "overrides", dict, "generate", {})
    documents = []
    for n in range(1, count + 1):
        is_fc = n <= fcs
        code = f"FC-{n}" if is_fc else f"STORE-{n - fcs:02d}"
        documents.append(
            {
                "code": code,
                "name": f"Fulfillment Center {n}" if is_fc else f"Store {n - fcs:02d}",
                "kind": "fulfillment_center" if is_fc else "store",
                "time_zone": zones[n % len(zones)],
                **(spec.get("fulfillment_center", {}) if is_fc else spec.get("store", {})),
                **overrides.get(code, {}),
            }
        )
    return documents


def scenario_parse(doc: dict[str, Any]) -> Scenario:
    """Validate a scenario document and expand generated locations."""
    if not isinstance(doc, dict):
        raise ScenarioError("A scenario is a JSON object.")
    defaults = _get(doc, "location_defaults", dict, "scenario", {})
    raw_locations = list(_get(doc, "locations", list, "scenario", []))
    if "generate" in doc:
        raw_locations += _generated_locations(_get(doc, "generate", dict, "scenario"), defaults)
    locations = tuple(_location(loc, defaults, f"locations[{i}]") for i, loc in enumerate(raw_locations))
    if not locations:
        raise ScenarioError("scenario.locations (or generate.count) must give at least one location.")
    codes = [loc.code for loc in locations]
    if len(set(codes)) != len(codes):
        raise ScenarioError("scenario.locations has duplicate codes.")
    channels = []
    for i, ch in enumerate(_get(doc, "channels", list, "scenario")):
        where = f"channels[{i}]"
        feeds = tuple(_get(ch, "locations", list, where, codes))
        if not set(feeds) <= set(codes):
            raise ScenarioError(f"{where}.locations names unknown locations {sorted(set(feeds) - set(codes))}.")
        channels.append(
            ChannelSpec(
                code=_get(ch, "code", str, where),
                name=_get(ch, "name", str, where),
                orders_per_hour=_get(ch, "orders_per_hour", float, where),
                quantity=_range(ch, "quantity", where, [1, 2]),
                locations=feeds,
                ignores_stock=_get(ch, "ignores_stock", bool, where, False),
            )
        )
    start_text = _get(doc, "start", str, "scenario", "2026-11-02T06:00:00Z")
    try:
        start = dt.datetime.fromisoformat(start_text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(f"scenario.start '{start_text}' is not an ISO-8601 time.") from exc
    if start.tzinfo is None:
        raise ScenarioError("scenario.start needs a time zone, e.g. 2026-11-02T06:00:00Z.")
    erp = _get(doc, "erp", dict, "scenario", {})
    storefront = _get(doc, "storefront", dict, "scenario", {})
    cascade = _get(doc, "cascade_loop", dict, "scenario", {})
    skus = _get(doc, "skus", dict, "scenario")
    return Scenario(
        name=_get(doc, "name", str, "scenario"),
        description=_get(doc, "description", str, "scenario", ""),
        seed=_get(doc, "seed", int, "scenario", 1),
        start=start.astimezone(dt.UTC),
        company=_get(doc, "company", str, "scenario", "ACME"),
        sku_count=_get(skus, "count", int, "skus"),
        initial_on_hand=_range(skus, "initial_on_hand", "skus", [5, 40]),
        receipt_quantity=_range(skus, "receipt_quantity", "skus", [12, 48]),
        allocation_quantity=_range(skus, "allocation_quantity", "skus", [2, 12]),
        reserve_inventory=_get(doc, "reserve_inventory", int, "scenario", 0),
        locations=locations,
        channels=tuple(channels),
        erp_clock_offset_seconds=_get(erp, "clock_offset_seconds", float, "erp", 0.0),
        erp_time_zone=_get(erp, "time_zone", str, "erp", "UTC"),
        storefront_pull_minutes=_get(storefront, "pull_interval_minutes", float, "storefront", 10.0),
        storefront_jitter_minutes=_get(storefront, "jitter_minutes", float, "storefront", 0.0),
        pick_delay_hours=_range(doc, "pick_delay_hours", "scenario", [2, 8]),
        cascade_probability=_rate(cascade, "probability", "cascade_loop", 0.0),
        cascade_delay_minutes=_range(cascade, "delay_minutes", "cascade_loop", [5, 30]),
    )
