"""Reads for tracing: order lines to check, and everything the tracer needs about their keys, in batches."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet

from inventory_hub.connectors.models import Role
from inventory_hub.observations.models import InventoryEvent, InventoryPosition, OrderLine, PositionChange
from inventory_hub.reconciliation import selectors as reconciliation_selectors
from inventory_hub.reconciliation.lineage import on_hub_clock
from inventory_hub.reconciliation.models import Hop, HopLagSample
from inventory_hub.tracing import trace
from inventory_hub.tracing.models import Oversell

Key = tuple[int, str]
# The WMS reserve is a setting that rarely changes; reading it over a location's every SKU once
# in this many seconds keeps one trace cheap.
RESERVE_CACHE_SECONDS = 300
# Keys of a batch above which history rows stream through a server-side cursor (memory bound).
STREAMED_KEYS = 50


@dataclasses.dataclass(frozen=True, slots=True)
class SystemReading:
    """One downstream system's value from `at` (its own stamp on the hub's clock) on; `seen_at` = hub's changed_at."""

    at: dt.datetime
    seen_at: dt.datetime
    value: int  # storefront: available; ERP: actual − reserved


@dataclasses.dataclass
class KeyFacts:
    """Everything about one (location, SKU) the tracer reads."""

    observations: list[trace.WmsObservation] = dataclasses.field(default_factory=list)
    events: list[trace.WmsEvent] = dataclasses.field(default_factory=list)
    orders: list[tuple[int, trace.OrderAllocation]] = dataclasses.field(default_factory=list)  # (line id, allocation)
    storefront: list[SystemReading] = dataclasses.field(default_factory=list)
    erp: list[SystemReading] = dataclasses.field(default_factory=list)
    lineage: list[trace.HopFacts] = dataclasses.field(default_factory=list)
    default_reserve: int = 0  # the WMS reserve most products at the location hold


def order_line_unchecked_list(
    *, order_line_ids: Iterable[int] | None = None, since: dt.datetime | None = None, until: dt.datetime
) -> QuerySet[OrderLine]:
    """Storefront order lines placed by `until` (and since `since`) that have no oversell recorded yet."""
    lines = OrderLine.objects.filter(
        order__connector__role=Role.STOREFRONT, order__placed_at__lte=until, oversell__isnull=True
    )
    if order_line_ids is not None:
        lines = lines.filter(pk__in=list(order_line_ids))
    if since is not None:
        lines = lines.filter(order__placed_at__gte=since)
    return lines.select_related("order").order_by("order__placed_at", "pk")


def key_facts_map(*, keys: Iterable[Key], until: dt.datetime) -> dict[Key, KeyFacts]:
    """The WMS history, events, orders, downstream readings and lineage of each key (a few queries per batch)."""
    connectors = reconciliation_selectors.reconciliation_connector_list()
    wms_ids = [c.pk for c in connectors[Role.WMS]]
    erp_ids = [c.pk for c in connectors[Role.ERP]]
    storefront_ids = [c.pk for c in connectors[Role.STOREFRONT]]
    excluded = reconciliation_selectors.wms_excluded_bin_map(connector_ids=wms_ids)
    offsets = reconciliation_selectors.clock_offset_map(connector_ids=erp_ids + storefront_ids, until=until)
    scope = reconciliation_selectors.scope_from_keys(keys)
    facts: dict[Key, KeyFacts] = defaultdict(KeyFacts)
    storefronts, erps = set(storefront_ids), set(erp_ids)
    for batch in reconciliation_selectors.scope_batches(scope, max_keys=2000):
        condition = _scope_q(batch)
        streamed = sum(STREAMED_KEYS if skus is None else len(skus) for skus in batch.values()) > STREAMED_KEYS
        wms_rows: dict[Key, list[tuple[Any, ...]]] = defaultdict(list)
        history = _history_rows(
            condition, connector_ids=wms_ids + erp_ids + storefront_ids, until=until, streamed=streamed
        )
        for row in history:
            connector_id, location_id, sku, bin_name, on_hand, allocated, available, as_of, changed_at = row
            if connector_id not in storefronts and connector_id not in erps:
                wms_rows[(location_id, sku)].append(row)
            elif not bin_name:
                at = on_hub_clock(as_of, offsets.get(connector_id)) if as_of is not None else changed_at
                if connector_id in storefronts:
                    facts[(location_id, sku)].storefront.append(SystemReading(at, changed_at, available))
                else:
                    facts[(location_id, sku)].erp.append(SystemReading(at, changed_at, on_hand - allocated))
        _wms_observations(facts, wms_rows, excluded=excluded)
        for pk, location_id, sku, kind, delta, bin_name, after, occurred_at, connector_id in _fetch(
            InventoryEvent.objects.filter(condition, connector_id__in=wms_ids, occurred_at__lte=until)
            .order_by("occurred_at", "pk")
            .values_list(
                "pk", "location_id", "sku", "kind", "delta", "bin", "quantity_after", "occurred_at", "connector_id"
            )
        ):
            facts[(location_id, sku)].events.append(
                trace.WmsEvent(
                    at=occurred_at,
                    kind=kind,
                    delta=delta,
                    excluded_bin=bin_name in excluded.get((connector_id, location_id), frozenset()),
                    quantity_after=after if len(wms_ids) == 1 else None,
                    event_id=pk,
                )
            )
        for pk, location_id, sku, quantity, placed_at, channel in _fetch(
            OrderLine.objects.filter(condition, order__connector_id__in=storefront_ids, order__placed_at__lte=until)
            .order_by("order__placed_at", "pk")
            .values_list("pk", "location_id", "sku", "quantity", "order__placed_at", "order__channel")
        ):
            facts[(location_id, sku)].orders.append((pk, trace.OrderAllocation(placed_at, quantity, channel)))
        samples: dict[tuple[Key, dt.datetime], dict[str, dt.datetime | None]] = defaultdict(dict)
        for location_id, sku, hop, changed_at, reflected_at in _fetch(
            HopLagSample.objects.filter(condition, hop__in=[Hop.WMS_ERP, Hop.WMS_STOREFRONT])
            .order_by("wms_changed_at")
            .values_list("location_id", "sku", "hop", "wms_changed_at", "reflected_at")
        ):
            samples[((location_id, sku), changed_at)][hop] = reflected_at
        states = {key: {o.at for o in found.observations} for key, found in facts.items()}
        firsts = {key: min(stamps) for key, stamps in states.items() if stamps}
        for (key, changed_at), hops in samples.items():
            erp_at = hops.get(Hop.WMS_ERP)
            if storefront_ids and Hop.WMS_STOREFRONT not in hops:
                if changed_at not in states.get(key, ()):
                    first = firsts.get(key)
                    if first is not None and abs(changed_at - first) < trace.SAME_CHANGE:
                        # A movement in the first WMS state read, dated by the ERP's ledger alone.
                        facts[key].lineage.append(trace.HopFacts(changed_at, erp_at, None, storefront_dated=False))
                    continue  # a movement that changed no available (a pick): never an originating event
                # A change of a WMS state the storefront had nothing to learn from (the ERP's boundary
                # counts the bin the units moved into): it had it once the ERP did.
                facts[key].lineage.append(trace.HopFacts(changed_at, erp_at, erp_at))
                continue
            facts[key].lineage.append(trace.HopFacts(changed_at, erp_at, hops[Hop.WMS_STOREFRONT]))
    reserves = _location_reserves_cached(wms_ids=wms_ids, location_ids={key[0] for key in facts}, excluded=excluded)
    for (location_id, _sku), found in facts.items():
        found.default_reserve = reserves.get(location_id, 0)
    for found in facts.values():
        found.storefront.sort(key=lambda r: (r.at, r.seen_at))
        found.erp.sort(key=lambda r: (r.at, r.seen_at))
        found.lineage.sort(key=lambda f: f.wms_changed_at)
    return dict(facts)


def _scope_q(scope: reconciliation_selectors.Scope) -> Q:
    condition = Q(pk__in=[])
    for location_id, skus in scope.items():
        condition |= Q(location_id=location_id) if skus is None else Q(location_id=location_id, sku__in=sorted(skus))
    return condition


def _history_rows(
    condition: Q, *, connector_ids: list[int], until: dt.datetime, streamed: bool
) -> Iterable[tuple[Any, ...]]:
    """Every system's history rows of the keys, in (location, SKU, changed_at) order: one query.

    Streamed through a server-side cursor only for many keys: for the few keys of one trace its
    three extra round trips (and one query per system) were a quarter of the trace's time.
    """
    if not connector_ids:
        return ()
    rows = (
        PositionChange.objects.filter(condition, connector_id__in=connector_ids, changed_at__lte=until)
        .order_by("location_id", "sku", "changed_at", "pk")
        .values_list(*reconciliation_selectors.HISTORY_FIELDS)
    )
    return rows.iterator(chunk_size=5000) if streamed else _fetch(rows)


def _fetch(rows: QuerySet[Any, tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """A values_list queryset's rows; on PostgreSQL read with psycopg's own timestamptz loader.

    Django's (a Python subclass that pins the time zone) took ~3 µs a value: one trace reads about
    a thousand timestamps. The session's time zone is Django's, so the values are the same aware
    datetimes; the fields read here (ints, text, timestamps) have no Django converters.
    """
    if connection.vendor != "postgresql":
        return list(rows)
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        loader = psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, psycopg.pq.Format.TEXT)
        cursor.cursor.adapters.register_loader("timestamptz", loader)
        cursor.execute(sql, params)
        return cursor.fetchall()


def _wms_observations(
    facts: dict[Key, KeyFacts],
    rows_by_key: Mapping[Key, list[tuple[Any, ...]]],
    *,
    excluded: dict[tuple[int, int], frozenset[str]],
) -> None:
    """WMS location totals over time, with the on hand of the excluded bins as of each poll."""
    for key, key_rows in rows_by_key.items():
        for poll in reconciliation_selectors.wms_poll_totals(key_rows, excluded=excluded):
            facts[key].observations.append(
                trace.WmsObservation(
                    at=poll.at,
                    on_hand=poll.on_hand,
                    excluded_on_hand=poll.excluded_on_hand,
                    allocated=poll.allocated,
                    available=poll.available,
                )
            )


def _location_reserves_cached(
    *, wms_ids: list[int], location_ids: set[int], excluded: dict[tuple[int, int], frozenset[str]]
) -> dict[int, int]:
    """`_location_reserves`, remembered per location for RESERVE_CACHE_SECONDS (a setting, read over every SKU)."""
    found: dict[int, int] = {}
    missing = set()
    for location_id in location_ids:
        cached = cache.get(f"wms-reserve:{location_id}")
        if cached is None:
            missing.add(location_id)
        else:
            found[location_id] = cached
    if missing:
        fresh = _location_reserves(wms_ids=wms_ids, location_ids=missing, excluded=excluded)
        for location_id in missing:
            found[location_id] = fresh.get(location_id, 0)
            cache.set(f"wms-reserve:{location_id}", found[location_id], RESERVE_CACHE_SECONDS)
    return found


def _location_reserves(
    *, wms_ids: list[int], location_ids: set[int], excluded: dict[tuple[int, int], frozenset[str]]
) -> dict[int, int]:
    """location_id → the WMS reserve most of its products hold now (one query).

    A product at or below its reserve reports available 0, which hides the reserve; the setting
    is usually the same for a warehouse's products, so the most common one stands in for it.
    """
    totals: dict[tuple[int, int, str], tuple[int, int, int]] = {}
    excluded_on_hand: dict[tuple[int, int, str], int] = defaultdict(int)
    rows = InventoryPosition.objects.filter(connector_id__in=wms_ids, location_id__in=sorted(location_ids))
    for connector_id, location_id, sku, bin_name, on_hand, allocated, available in rows.values_list(
        "connector_id", "location_id", "sku", "bin", "on_hand", "allocated", "available"
    ):
        if not bin_name:
            totals[(connector_id, location_id, sku)] = (on_hand, allocated, available)
        elif bin_name in excluded.get((connector_id, location_id), frozenset()):
            excluded_on_hand[(connector_id, location_id, sku)] += on_hand
    counts: dict[int, Counter[int]] = defaultdict(Counter)
    for key, (on_hand, allocated, available) in totals.items():
        if available > 0:
            counts[key[1]][on_hand - excluded_on_hand[key] - allocated - available] += 1
    return {location_id: min(c.items(), key=lambda item: (-item[1], item[0]))[0] for location_id, c in counts.items()}


def oversell_list(*, location_id: int | None = None) -> QuerySet[Oversell]:
    """Oversells, newest first, with their location and originating event."""
    oversells = Oversell.objects.select_related("location", "originating_event")
    if location_id is not None:
        oversells = oversells.filter(location_id=location_id)
    return oversells
