"""The seeded discrete-event simulation of a multi-location retailer.

The WMS applies every event at once, per bin. The ERP syncs each location from the WMS on its
own window (interval ± jitter, occasional failed or partial syncs) and posts stock ledger
entries stamped by its own skewed clock. The storefront pulls from the ERP on its own interval
and applies its own safety stock; its boundary is the ERP's (which may count quarantine bins).
Customers order against what the storefront shows; an order the WMS cannot fill at that instant
is an oversell, recorded with its true cause (DESIGN.md §5). Same scenario and seed, same world.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import random
from collections import defaultdict
from typing import Any

from inventory_hub.sandbox.scenario import ChannelSpec, LocationSpec, Scenario
from inventory_hub.sandbox.truth import HopReflection, TrueEvent, TrueOversell
from inventory_hub.sandbox.world import (
    SHOPIFY_QUANTITY_NAMES,
    ErpBin,
    ErpLedgerEntry,
    Item,
    Key,
    Location,
    ShopLevel,
    ShopOrder,
    ShopOrderLine,
    WmsChange,
    WmsProduct,
    World,
)

LOOKBACK = dt.timedelta(days=7)  # how far back the originating event is searched
WHOLESALE = "wholesale"  # the channel the WMS allocates stock to on its own (B2B, marketplace FBA, …)
VOUCHER_TYPES = {
    "receipt": "Purchase Receipt",
    "pick": "Delivery Note",
    "cycle_count": "Stock Reconciliation",
    "adjustment": "Stock Entry",
    "transfer": "Stock Entry",
}


class Simulation:
    """Builds the world from a scenario and advances it event by event."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.rng = random.Random(scenario.seed)
        self.specs = {spec.code: spec for spec in scenario.locations}
        self.world = self._world_build()
        self._queue: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._ids: dict[str, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._events_by_key: dict[Key, list[TrueEvent]] = defaultdict(list)
        self._erp_delta: dict[str, int] = {}  # event id → change of the ERP-boundary quantity
        self._erp_pending: dict[Key, list[TrueEvent]] = defaultdict(list)
        self._erp_dirty: dict[str, set[str]] = defaultdict(set)
        self._sf_pending: dict[Key, list[str]] = defaultdict(list)
        # event id → did the ERP state that first carried it call for another storefront number?
        self._sf_due: dict[str, bool] = {}
        self._sf_dirty: dict[str, set[str]] = defaultdict(set)
        self._unsynced_orders: dict[Key, list[tuple[float, int]]] = defaultdict(list)
        self._clock = 0.0  # simulated seconds since scenario.start
        self._schedule_start()

    # --- public ----------------------------------------------------------------------------

    def advance_to(self, until: dt.datetime) -> None:
        """Run every event up to true time `until` (holding the world's lock while mutating)."""
        limit = (until - self.scenario.start).total_seconds()
        while True:
            with self.world.lock:
                for _ in range(2000):
                    if not self._queue or self._queue[0][0] > limit:
                        self._clock = max(self._clock, limit)
                        self.world.now = self._at(self._clock)
                        return
                    at, _, kind, args = heapq.heappop(self._queue)
                    self._clock = at
                    getattr(self, f"_on_{kind}")(*args)
                self.world.now = self._at(self._clock)

    def advance(self, seconds: float) -> None:
        """Run the next `seconds` of simulated time."""
        self.advance_to(self._at(self._clock + seconds))

    # --- building --------------------------------------------------------------------------

    def _at(self, seconds: float) -> dt.datetime:
        return self.scenario.start + dt.timedelta(seconds=round(seconds, 3))

    def _world_build(self) -> World:
        sc = self.scenario
        locations = {
            spec.code: Location(
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                time_zone=spec.time_zone,
                shopify_id=70_000_000 + i,
                shiphero_id=76_700 + i,
                erp_warehouse=f"{spec.name} - {sc.company}",
                bins=spec.bins,
                non_sellable_bins=spec.non_sellable_bins,
            )
            for i, spec in enumerate(sc.locations, start=1)
        }
        items = {
            f"SKU-{n:05d}": Item(f"SKU-{n:05d}", f"Item {n}", 30_000_000 + n, 40_000_000 + n, 50_000_000 + n, sc.start)
            for n in range(1, sc.sku_count + 1)
        }
        world = World(
            scenario=sc.name,
            seed=sc.seed,
            company=sc.company,
            start=sc.start,
            now=sc.start,
            erp_clock_offset=dt.timedelta(seconds=sc.erp_clock_offset_seconds),
            erp_time_zone=sc.erp_time_zone,
            locations=locations,
            items=items,
        )
        bin_ids = itertools.count(1)
        for loc in locations.values():
            spec = self.specs[loc.code]
            for sku in items:
                on_hand = self.rng.randint(*sc.initial_on_hand)
                bins = dict.fromkeys(loc.bins, 0)
                bins[loc.bins[0]] = on_hand
                world.wms_products[(loc.code, sku)] = WmsProduct(
                    location=loc.code,
                    sku=sku,
                    legacy_id=len(world.wms_products) + 1,
                    bins=bins,
                    allocated=0,
                    reserve=sc.reserve_inventory,
                    non_sellable_bins=loc.non_sellable_bins,
                    created_at=sc.start,
                    updated_at=sc.start,
                )
                world.erp_bins[(loc.code, sku)] = ErpBin(
                    name=f"MAT-BIN-{sc.start.year}-{next(bin_ids):05d}",
                    location=loc.code,
                    sku=sku,
                    actual_qty=float(on_hand),
                    reserved_qty=0.0,
                    ordered_qty=0.0,
                    creation=sc.start,
                    modified=sc.start,
                )
                quantities = dict.fromkeys(SHOPIFY_QUANTITY_NAMES, 0)
                world.shop_levels[(loc.code, sku)] = ShopLevel(
                    location=loc.code,
                    sku=sku,
                    quantities=quantities,
                    quantity_updated_at=dict.fromkeys(SHOPIFY_QUANTITY_NAMES, None),
                    created_at=sc.start,
                    updated_at=sc.start,
                )
                self._level_set(world, spec, (loc.code, sku), sc.start, unsynced=0)
        return world

    def _schedule(self, at: float, kind: str, *args: Any) -> None:
        heapq.heappush(self._queue, (at, next(self._seq), kind, args))

    def _schedule_start(self) -> None:
        for spec in self.scenario.locations:
            for kind, rate in sorted(spec.rates_per_hour.items()):
                if rate > 0:
                    self._schedule(self.rng.expovariate(rate / 3600), "wms", spec.code, kind)
            self._schedule(self._erp_interval(spec) * self.rng.random(), "erp_sync", spec.code)
            self._schedule(self._sf_interval() * self.rng.random(), "sf_pull", spec.code)
        for channel in self.scenario.channels:
            if channel.orders_per_hour > 0:
                self._schedule(self.rng.expovariate(channel.orders_per_hour / 3600), "order", channel.code)

    def _erp_interval(self, spec: LocationSpec) -> float:
        jitter = self.rng.uniform(-spec.erp.jitter_minutes, spec.erp.jitter_minutes)
        return max(60.0, (spec.erp.interval_minutes + jitter) * 60)

    def _sf_interval(self) -> float:
        sc = self.scenario
        return max(
            60.0,
            (sc.storefront_pull_minutes + self.rng.uniform(-sc.storefront_jitter_minutes, sc.storefront_jitter_minutes))
            * 60,
        )

    # --- the WMS ---------------------------------------------------------------------------

    def _wms_apply(
        self,
        location: str,
        sku: str,
        kind: str,
        bin_deltas: dict[str, int],
        *,
        allocated: int = 0,
        channel: str = "",
        reason: str = "",
        cycle_counted: bool = False,
    ) -> TrueEvent:
        """Apply one WMS event at once and record it (ShipHero history + ground truth)."""
        key = (location, sku)
        product = self.world.wms_products[key]
        at = self._at(self._clock)
        before = product.available
        sellable_before = product.on_hand - product.non_sellable
        on_hand_before = product.on_hand
        change_ids = []
        for bin_name, delta in bin_deltas.items():
            if delta == 0:
                continue
            previous = product.on_hand
            product.bins[bin_name] += delta
            change_id = next(self._ids["shiphero_change"])
            change_ids.append(change_id)
            self.world.wms_changes.append(
                WmsChange(change_id, location, sku, bin_name, previous, delta, reason, cycle_counted, 489254, at)
            )
        product.allocated += allocated
        product.updated_at = at
        counts_all = self.specs[location].erp.counts_non_sellable_bins
        sellable_delta = (product.on_hand - product.non_sellable) - sellable_before
        erp_delta = product.on_hand - on_hand_before if counts_all else sellable_delta
        event = TrueEvent(
            id=f"wms-{next(self._ids['event']):07d}",
            kind=kind,
            location=location,
            sku=sku,
            bin=next(iter(bin_deltas), ""),
            delta_on_hand=product.on_hand - on_hand_before,
            delta_allocated=allocated,
            available_before=before,
            available_after=product.available,
            at=at,
            shiphero_change_id=change_ids[0] if change_ids else None,
            channel=channel,
            downstream_delta=erp_delta - allocated,
        )
        self._erp_delta[event.id] = erp_delta
        self.world.truth.events.append(event)
        # The storefront takes its own orders (any of its channels) off the level when they are
        # placed: it has those allocations at once, before any sync carries them.
        own_order = kind == "channel_allocation" and channel not in ("", WHOLESALE)
        self.world.truth.reflections[event.id] = HopReflection(
            event.id, location, sku, at, None, at if own_order else None
        )
        self._events_by_key[key].append(event)
        self._erp_pending[key].append(event)
        self._erp_dirty[location].add(sku)
        return event

    def _on_wms(self, location: str, kind: str) -> None:
        spec = self.specs[location]
        self._schedule(self._clock + self.rng.expovariate(spec.rates_per_hour[kind] / 3600), "wms", location, kind)
        if kind == "receipt":
            sku = self._sku_to_replenish(location)
        elif kind in ("cycle_count", "channel_allocation"):
            sku = self._sku_popular()  # ABC counting and wholesale demand favour the fast movers
        else:
            sku = self._sku_uniform()
        product = self.world.wms_products[(location, sku)]
        main = spec.bins[0]
        sc = self.scenario
        if kind == "receipt":
            q = self.rng.randint(*sc.receipt_quantity)
            self._wms_apply(location, sku, "receipt", {main: q}, reason=f"Received PO-{next(self._ids['po']):06d}")
        elif kind == "cycle_count":
            delta = self.rng.choice((-4, -3, -2, -2, -1, -1, 1, 2))
            delta = max(delta, -product.bins[main])
            if delta:
                self._wms_apply(location, sku, "cycle_count", {main: delta}, reason="Cycle count", cycle_counted=True)
        elif kind == "shrinkage":
            q = min(product.bins[main], self.rng.randint(1, 3))
            if q:
                self._wms_apply(location, sku, "adjustment", {main: -q}, reason="Shrinkage: damaged or lost")
        elif kind == "quarantine":
            target = sorted(spec.non_sellable_bins)[0]
            q = min(product.bins[main], self.rng.randint(1, 4))
            if q:
                self._wms_apply(location, sku, "transfer", {main: -q, target: q}, reason=f"Moved to {target}: damaged")
        elif kind == "channel_allocation":
            q = min(product.available, self.rng.randint(*sc.allocation_quantity))
            if q:
                self._wms_apply(
                    location,
                    sku,
                    "channel_allocation",
                    {},
                    allocated=q,
                    channel=WHOLESALE,
                    reason=f"Allocated to {WHOLESALE}",
                )
                self._schedule(self._clock + self._pick_delay(), "pick", location, sku, q, WHOLESALE)
        elif kind == "transfer":
            others = [code for code in self.specs if code != location]
            q = min(product.bins[main], self.rng.randint(*sc.allocation_quantity))
            if q and others:
                destination = self.rng.choice(others)
                self._wms_apply(location, sku, "transfer", {main: -q}, reason=f"Transfer to {destination}")
                self._schedule(self._clock + self.rng.uniform(12, 36) * 3600, "arrive", destination, sku, q, location)

    def _on_arrive(self, location: str, sku: str, q: int, origin: str) -> None:
        main = self.specs[location].bins[0]
        self._wms_apply(location, sku, "transfer", {main: q}, reason=f"Transfer from {origin}")

    def _on_pick(self, location: str, sku: str, q: int, channel: str) -> None:
        key = (location, sku)
        product = self.world.wms_products[key]
        main = self.specs[location].bins[0]
        shipped = min(q, product.bins[main])
        self._wms_apply(
            location,
            sku,
            "pick",
            {main: -shipped},
            allocated=-min(q, product.allocated),
            channel=channel,
            reason=f"Shipped {shipped} for {channel}",
        )
        if channel != WHOLESALE:  # the storefront's own order is fulfilled: committed and on hand drop
            level = self.world.shop_levels[key]
            at = self._at(self._clock)
            done = min(q, level.quantities["committed"])
            level.quantities["committed"] -= done
            level.quantities["on_hand"] -= done
            level.quantity_updated_at["committed"] = level.quantity_updated_at["on_hand"] = at
            level.updated_at = at

    def _pick_delay(self) -> float:
        return self.rng.uniform(*self.scenario.pick_delay_hours) * 3600

    def _sku_uniform(self) -> str:
        return f"SKU-{self.rng.randint(1, self.scenario.sku_count):05d}"

    def _sku_to_replenish(self, location: str) -> str:
        # Buyers reorder what runs low: the lowest-stocked of a few sampled SKUs.
        candidates = [self._sku_popular() for _ in range(6)]
        return min(candidates, key=lambda sku: (self.world.wms_products[(location, sku)].available, sku))

    def _sku_popular(self) -> str:
        # A few SKUs sell much more than the rest, as in any catalogue.
        return f"SKU-{int(self.rng.random() ** 2.5 * self.scenario.sku_count) + 1:05d}"

    # --- the ERP ---------------------------------------------------------------------------

    def _on_erp_sync(self, location: str) -> None:
        spec = self.specs[location]
        self._schedule(self._clock + self._erp_interval(spec), "erp_sync", location)
        if self.rng.random() < spec.erp.failure_rate:
            return  # the sync job failed: nothing imported, the window grows
        skus = sorted(self._erp_dirty[location])
        if skus and self.rng.random() < spec.erp.partial_rate:
            skus = sorted(self.rng.sample(skus, max(1, len(skus) // 2)))
        at = self._at(self._clock)
        for sku in skus:
            self._erp_sync_key(spec, (location, sku), at)
            self._erp_dirty[location].discard(sku)

    def _erp_boundary_qty(self, spec: LocationSpec, product: WmsProduct) -> int:
        return product.on_hand if spec.erp.counts_non_sellable_bins else product.on_hand - product.non_sellable

    def _erp_sync_key(self, spec: LocationSpec, key: Key, at: dt.datetime) -> None:
        product = self.world.wms_products[key]
        erp_bin = self.world.erp_bins[key]
        qty = erp_bin.actual_qty
        created = at  # true time; the ERPNext API renders it on the ERP's skewed clock
        carried = self._erp_pending.pop(key, [])
        for event in carried:
            delta = self._erp_delta[event.id]
            if delta:
                qty += delta
                self._ledger_post(key, event.at, created, VOUCHER_TYPES.get(event.kind, "Stock Entry"), delta, qty)
            self.world.truth.reflections[event.id] = dataclasses.replace(
                self.world.truth.reflections[event.id], erp_at=at
            )
            self._sf_pending[key].append(event.id)
        target = self._erp_boundary_qty(spec, product)
        if qty != target:  # the ERP had drifted on its own (cascade adjustments): reconcile to the WMS
            self._ledger_post(key, at, created, "Stock Reconciliation", target - qty, target)
        if erp_bin.actual_qty != target or erp_bin.reserved_qty != product.allocated:
            erp_bin.actual_qty, erp_bin.reserved_qty, erp_bin.modified = (
                float(target),
                float(product.allocated),
                created,
            )
        self._unsynced_orders.pop(key, None)  # the WMS allocations of those orders are now in the ERP
        # What the storefront would show from this state (its orders are in the ERP now) against
        # what it shows: equal, and no pull can show these events (see export.hop_lags).
        calls_for = max(0, int(erp_bin.actual_qty - erp_bin.reserved_qty) - spec.storefront_safety_stock)
        due = calls_for != self.world.shop_levels[key].quantities["available"]
        for event in carried:
            self._sf_due[event.id] = due
        self._sf_dirty[key[0]].add(key[1])

    def _ledger_post(
        self, key: Key, posted: dt.datetime, created: dt.datetime, voucher_type: str, delta: float, after: float
    ) -> None:
        prefix = {"Stock Reconciliation": "MAT-RECO", "Purchase Receipt": "MAT-PRE", "Delivery Note": "MAT-DN"}.get(
            voucher_type, "MAT-STE"
        )
        year = posted.year
        self.world.erp_ledger.append(
            ErpLedgerEntry(
                name=f"MAT-SLE-{year}-{next(self._ids['sle']):06d}",
                location=key[0],
                sku=key[1],
                posting_datetime=posted,
                creation=created,
                voucher_type=voucher_type,
                voucher_no=f"{prefix}-{year}-{next(self._ids[prefix]):05d}",
                actual_qty=float(delta),
                qty_after_transaction=float(after),
            )
        )

    # --- the storefront --------------------------------------------------------------------

    def _unsynced(self, key: Key) -> int:
        return sum(q for _, q in self._unsynced_orders.get(key, ()))

    def _level_set(self, world: World, spec: LocationSpec, key: Key, at: dt.datetime, *, unsynced: int) -> None:
        """Recompute a level's named quantities from the ERP bin, as the storefront's sync does."""
        level = world.shop_levels[key]
        erp_bin = world.erp_bins[key]
        quantities = level.quantities
        safety = spec.storefront_safety_stock
        available = max(0, int(erp_bin.actual_qty - erp_bin.reserved_qty) - safety - unsynced)
        committed = quantities["committed"]
        reserved = max(0, int(erp_bin.actual_qty) - available - committed - safety)
        new = {
            "available": available,
            "safety_stock": safety,
            "reserved": reserved,
            "on_hand": available + committed + safety + reserved,
        }
        changed = False
        for name, value in new.items():
            if quantities[name] != value:
                quantities[name], level.quantity_updated_at[name] = value, at
                changed = True
        if changed:
            level.updated_at = at

    def _on_sf_pull(self, location: str) -> None:
        self._schedule(self._clock + self._sf_interval(), "sf_pull", location)
        spec = self.specs[location]
        at = self._at(self._clock)
        for sku in sorted(self._sf_dirty.pop(location, set())):
            key = (location, sku)
            shown = self.world.shop_levels[key].quantities["available"]
            self._level_set(self.world, spec, key, at, unsynced=self._unsynced(key))
            moved = self.world.shop_levels[key].quantities["available"] != shown
            reflections = self.world.truth.reflections
            for event_id in self._sf_pending.pop(key, []):
                due = self._sf_due.pop(event_id, False)
                if reflections[event_id].storefront_at is None:
                    reflections[event_id] = dataclasses.replace(
                        reflections[event_id], storefront_at=at, storefront_moved=moved and due
                    )

    # --- customers -------------------------------------------------------------------------

    def _on_order(self, channel_code: str) -> None:
        channel = next(c for c in self.scenario.channels if c.code == channel_code)
        self._schedule(self._clock + self.rng.expovariate(channel.orders_per_hour / 3600), "order", channel_code)
        weights = [self.specs[code].order_weight for code in channel.locations]
        location = self.rng.choices(channel.locations, weights=weights)[0]
        sku = self._sku_popular()
        q = self.rng.randint(*channel.quantity)
        key = (location, sku)
        level = self.world.shop_levels[key]
        shown = level.quantities["available"]
        if shown < q and not channel.ignores_stock:
            return  # the customer sees it sold out
        at = self._at(self._clock)
        order_id = next(self._ids["order"])
        line_id = next(self._ids["line"])
        self.world.shop_orders.append(
            ShopOrder(
                900_000 + order_id,
                f"#{1000 + order_id}",
                channel.code,
                at,
                (ShopOrderLine(950_000 + line_id, sku, q, location),),
            )
        )
        truth = self.world.wms_products[key].available
        if truth < q:
            self._oversell_record(channel, key, 900_000 + order_id, 950_000 + line_id, q, shown, truth, at)
        level.quantities["available"] = max(0, shown - q)
        level.quantities["committed"] += q
        level.quantity_updated_at["available"] = level.quantity_updated_at["committed"] = at
        level.updated_at = at
        self._unsynced_orders[key].append((self._clock, q))
        self._wms_apply(
            location,
            sku,
            "channel_allocation",
            {},
            allocated=q,
            channel=channel.code,
            reason=f"Allocated order #{1000 + order_id}",
        )
        self._schedule(self._clock + self._pick_delay(), "pick", location, sku, q, channel.code)

    def _oversell_record(
        self,
        channel: ChannelSpec,
        key: Key,
        order_id: int,
        line_id: int,
        q: int,
        shown: int,
        truth: int,
        at: dt.datetime,
    ) -> None:
        """Classify the oversell by DESIGN.md §5, knowing everything, and record it."""
        origin = None
        for event in reversed(self._events_by_key[key]):
            if at - event.at > LOOKBACK:
                break
            if event.available_before >= q > event.available_after:
                origin = event
                break
        reflection = self.world.truth.reflections[origin.id] if origin else None
        erp_seen = reflection is not None and reflection.erp_at is not None and reflection.erp_at <= at
        sf_seen = reflection is not None and reflection.storefront_at is not None and reflection.storefront_at <= at
        spec = self.specs[key[0]]
        product = self.world.wms_products[key]
        boundary = spec.erp.counts_non_sellable_bins and product.non_sellable > 0
        other_channel = origin is not None and origin.kind == "channel_allocation" and origin.channel != channel.code
        # An event that moved nothing downstream (units moved into a bin the ERP counts) was in the
        # ERP's and the storefront's numbers from the start: no sync window could have lost it.
        carried = origin is not None and (origin.downstream_delta != 0 or other_channel)
        hop_lost = "" if not carried or sf_seen else ("erp_storefront" if erp_seen else "wms_erp")
        if shown < q:
            cause = "storefront_oversold"
        elif carried and not sf_seen:  # the number shown predates the event
            if other_channel:
                cause = "channel_allocation"
            else:
                cause = "sync_window_erp_storefront" if erp_seen else "sync_window_wms_erp"
        elif boundary:  # both hops had carried it; the storefront counts units the WMS does not sell
            cause = "boundary_mismatch"
        else:
            cause = "rule_divergence"
        self.world.truth.oversells.append(
            TrueOversell(
                order_id, line_id, key[0], key[1], q, at, shown, truth, origin.id if origin else None, hop_lost, cause
            )
        )
        if self.scenario.cascade_probability and self.rng.random() < self.scenario.cascade_probability:
            low, high = self.scenario.cascade_delay_minutes
            first = self._clock + self.rng.uniform(low, high) * 60
            self._schedule(first, "cascade", "erp_adjustment", key, q - max(truth, 0), order_id)

    def _on_cascade(self, step: str, key: Key, shortfall: int, order_id: int) -> None:
        """Oversell → ERP allocation adjustment → WMS backflush → ERP reconciliation."""
        at = self._at(self._clock)
        low, high = self.scenario.cascade_delay_minutes
        next_at = self._clock + self.rng.uniform(low, high) * 60
        erp_bin = self.world.erp_bins[key]
        if step == "erp_adjustment":
            after = max(0.0, erp_bin.actual_qty - shortfall)
            self._ledger_post(key, at, at, "Stock Reconciliation", after - erp_bin.actual_qty, after)
            erp_bin.actual_qty, erp_bin.modified = after, at
            self._sf_dirty[key[0]].add(key[1])
            self._schedule(next_at, "cascade", "wms_backflush", key, shortfall, order_id)
        elif step == "wms_backflush":
            main = self.specs[key[0]].bins[0]
            product = self.world.wms_products[key]
            q = min(shortfall, product.bins[main])
            if q:
                self._wms_apply(
                    key[0], key[1], "adjustment", {main: -q}, reason=f"Backflush of ERP adjustment for order {order_id}"
                )
            self._schedule(next_at, "cascade", "erp_reconciliation", key, shortfall, order_id)
        else:
            self._erp_sync_key(self.specs[key[0]], key, at)
            self._erp_dirty[key[0]].discard(key[1])
        self.world.truth.cascade_events.append(
            {
                "order_id": order_id,
                "step": step,
                "location": key[0],
                "sku": key[1],
                "at": at.isoformat(),
                "quantity": shortfall,
            }
        )
