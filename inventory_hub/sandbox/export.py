"""The ground truth as JSON: stable, sorted, byte-identical for the same scenario and seed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import statistics
from collections import Counter, defaultdict
from typing import Any

from inventory_hub.sandbox.simulation import WHOLESALE
from inventory_hub.sandbox.world import World


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _row(record: Any) -> dict[str, Any]:
    return {k: _iso(v) if isinstance(v, dt.datetime) else v for k, v in dataclasses.asdict(record).items()}


def hop_lags(world: World, *, since: dt.datetime | None = None) -> dict[str, dict[str, dict[str, float | int]]]:
    """True lag per location and hop (seconds): p50, p95, max and the number of WMS changes.

    With `since` (when an observer first read the WMS), only the events from then on: one made
    earlier is already in the first state that observer reads, and nothing dates it for them.

    WMS → ERP counts every WMS event. The storefront hops count the events the storefront had to
    learn through the ERP: those that changed the ERP's comparable (on hand in its boundary −
    allocated), less the storefront's own orders' allocations (it took those off its number when
    the customer ordered; the sync that later carries them changes nothing it shows, so no
    observer outside the storefront can date it), and less the events that did not move the
    available the storefront shows for the key (`storefront_moved` false): the pull that carried
    them left the number where it was (clamped at zero by the safety stock before and after, a
    batch that nets out), or the ERP state that first carried them already called for the number
    shown, so the pull that moved it later moved it for a newer ERP state. A storefront stamps its
    number only when it changes, so such a pull is as invisible outside the storefront as the one
    carrying its own orders, and no observer can date it: like those, it is left out, and the lag
    is defined over the pulls that showed the event. Decided from the storefront's own number
    (before and after the pull, and what the ERP's new state calls for under its own safety
    stock), never from what a tracer made of it.
    """
    events = {event.id: event for event in world.truth.events}
    lags: dict[tuple[str, str], list[float]] = defaultdict(list)
    for reflection in world.truth.reflections.values():
        if since is not None and reflection.at < since:
            continue
        if reflection.erp_at is not None:
            lags[(reflection.location, "wms_erp")].append((reflection.erp_at - reflection.at).total_seconds())
            event = events.get(reflection.event_id)
            learned = event is not None and event.downstream_delta != 0
            if learned and event is not None and event.kind == "channel_allocation":
                learned = event.channel == WHOLESALE
            learned = learned and reflection.storefront_moved is True
            if reflection.storefront_at is not None and learned:
                lags[(reflection.location, "erp_storefront")].append(
                    (reflection.storefront_at - reflection.erp_at).total_seconds()
                )
                lags[(reflection.location, "wms_storefront")].append(
                    (reflection.storefront_at - reflection.at).total_seconds()
                )
    result: dict[str, dict[str, dict[str, float | int]]] = defaultdict(dict)
    for (location, hop), values in sorted(lags.items()):
        values.sort()
        result[location][hop] = {
            "p50": round(statistics.median(values), 3),
            "p95": round(values[min(len(values) - 1, int(len(values) * 0.95))], 3),
            "max": round(values[-1], 3),
            "count": len(values),
        }
    return dict(result)


def truth_summary(world: World) -> dict[str, Any]:
    """Counts a person reads first: oversells by root cause, events, orders."""
    return {
        "oversells": len(world.truth.oversells),
        "oversells_by_root_cause": dict(sorted(Counter(o.root_cause for o in world.truth.oversells).items())),
        "oversells_by_hop_lost": dict(sorted(Counter(o.hop_lost or "none" for o in world.truth.oversells).items())),
        "wms_events": len(world.truth.events),
        "wms_events_by_kind": dict(sorted(Counter(e.kind for e in world.truth.events).items())),
        "erp_ledger_entries": len(world.erp_ledger),
        "orders": len(world.shop_orders),
        "cascade_events": len(world.truth.cascade_events),
    }


def truth_export(world: World) -> dict[str, Any]:
    """Everything the simulation knows, as plain JSON types."""
    with world.lock:
        return {
            "scenario": world.scenario,
            "seed": world.seed,
            "start": _iso(world.start),
            "now": _iso(world.now),
            "summary": truth_summary(world),
            "hop_lags_seconds": hop_lags(world),
            "oversells": [_row(o) for o in world.truth.oversells],
            "events": [_row(e) for e in world.truth.events],
            "reflections": [_row(world.truth.reflections[k]) for k in sorted(world.truth.reflections)],
            "cascade_events": list(world.truth.cascade_events),
        }


def truth_export_json(world: World) -> str:
    """The export as sorted, compact JSON text."""
    return json.dumps(truth_export(world), sort_keys=True, separators=(",", ":"))
