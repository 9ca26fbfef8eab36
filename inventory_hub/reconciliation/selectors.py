"""Reads for reconciliation: positions by role for a set of keys, boundaries, rules in force.

Every read is set-based: one query per role for a whole batch of keys, never one per key.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Max, Q, QuerySet

from inventory_hub.connectors.models import Connector, LocationMapping, PollRun, Role
from inventory_hub.inventory import selectors as inventory_selectors
from inventory_hub.inventory.models import AllocationRuleVersion, Pool, PoolBoundary, PoolBoundaryEntry
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import InventoryEvent, InventoryPosition, OrderLine, PositionChange
from inventory_hub.reconciliation.comparable import (
    KeyObservation,
    Position,
    WmsPosition,
    key_comparables,
)
from inventory_hub.reconciliation.lineage import OwnOrder, RulesInForce, clock_offset_estimate, lag_stats, on_hub_clock
from inventory_hub.reconciliation.models import Discrepancy, HopLagSample

Key = tuple[int, str]  # (location_id, sku)
# location_id → the SKUs to look at there, or None for every SKU of the location.
Scope = Mapping[int, frozenset[str] | None]

POSITION_FIELDS = ("connector_id", "location_id", "sku", "bin", "on_hand", "allocated", "available", "changed_at")


def reconciliation_connector_list() -> dict[str, list[Connector]]:
    """Enabled connectors by role (without their secrets: nothing here calls a system)."""
    by_role: dict[str, list[Connector]] = {role: [] for role in Role.values}
    for connector in Connector.objects.filter(enabled=True).defer("credentials").order_by("pk"):
        by_role[connector.role].append(connector)
    return by_role


def _scope_q(scope: Scope) -> Q:
    """One OR term per location: the number of locations, not of keys, bounds the query's size."""
    condition = Q(pk__in=[])
    for location_id, skus in scope.items():
        condition |= Q(location_id=location_id) if skus is None else Q(location_id=location_id, sku__in=sorted(skus))
    return condition


def scope_from_keys(keys: Iterable[Key]) -> dict[int, frozenset[str] | None]:
    """Group (location_id, sku) keys by location."""
    grouped: dict[int, set[str]] = defaultdict(set)
    for location_id, sku in keys:
        grouped[location_id].add(sku)
    return {location_id: frozenset(skus) for location_id, skus in grouped.items()}


def scope_batches(scope: Scope, *, max_keys: int) -> Iterator[dict[int, frozenset[str] | None]]:
    """Split a scope so no batch lists more than `max_keys` SKUs (a whole location goes alone)."""
    batch: dict[int, set[str]] = defaultdict(set)
    size = 0
    for location_id in sorted(scope):
        skus = scope[location_id]
        if skus is None:
            yield {location_id: None}
            continue
        for sku in sorted(skus):
            batch[location_id].add(sku)
            size += 1
            if size == max_keys:
                yield {loc: frozenset(found) for loc, found in batch.items()}
                batch, size = defaultdict(set), 0
    if batch:
        yield {loc: frozenset(found) for loc, found in batch.items()}


def reconciliation_location_ids(*, connector_ids: Iterable[int]) -> list[int]:
    """Every location some enabled connector reports, or that has an open discrepancy."""
    with_positions = set(
        InventoryPosition.objects.filter(connector_id__in=list(connector_ids))
        .values_list("location_id", flat=True)
        .distinct()
    )
    with_open = set(Discrepancy.objects.filter(closed_at__isnull=True).values_list("location_id", flat=True).distinct())
    return sorted(with_positions | with_open)


def wms_excluded_bin_map(*, connector_ids: Iterable[int]) -> dict[tuple[int, int], frozenset[str]]:
    """(WMS connector id, location_id) → the bins its pool boundaries exclude there.

    A bin any of the connector's boundaries excludes at a site is out of the comparable: in
    practice these are the non-sellable bins (quarantine, damaged), out of every pool alike.
    """
    ids = [int(pk) for pk in connector_ids]
    if not ids:
        return {}
    entries, boundaries = PoolBoundaryEntry._meta.db_table, PoolBoundary._meta.db_table
    mappings = LocationMapping._meta.db_table
    # One plain statement (the mapping is unique per connector and external id): every trace
    # reads this, and the ORM took longer to build the query than the database to run it.
    sql = f"""
        SELECT b.connector_id, m.location_id, e.bin
        FROM {entries} e
        JOIN {boundaries} b ON b.id = e.boundary_id
        JOIN {mappings} m ON m.connector_id = b.connector_id AND m.external_id = e.external_location_id
        WHERE b.connector_id IN ({", ".join(["%s"] * len(ids))}) AND NOT e.included AND e.bin <> ''
          AND m.location_id IS NOT NULL
    """  # noqa: S608 (table names from _meta; values bound)
    excluded: dict[tuple[int, int], set[str]] = defaultdict(set)
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        for connector_id, location_id, bin_name in cursor.fetchall():
            excluded[(connector_id, location_id)].add(bin_name)
    return {key: frozenset(bins) for key, bins in excluded.items()}


def rules_in_force_by_location(*, at: dt.datetime) -> dict[int, tuple[RuleValues, ...]]:
    """location_id → the values in force at `at` of every active rule whose pool holds it (in 3 queries)."""
    memberships: dict[int, list[int]] = defaultdict(list)
    for pool_id, location_id in Pool.locations.through.objects.values_list("pool_id", "location_id"):
        memberships[pool_id].append(location_id)
    by_location: dict[int, list[RuleValues]] = defaultdict(list)
    for rule, values in inventory_selectors.allocation_rule_current_list(at=at):
        if not rule.is_active or values is None:
            continue
        for location_id in memberships.get(rule.pool_id, ()):
            by_location[location_id].append(values)
    return {location_id: tuple(values) for location_id, values in by_location.items()}


def rules_timeline_by_location(*, until: dt.datetime) -> dict[int, RulesInForce]:
    """location_id → the rules in force over time up to `until`: one entry per instant any of them changed.

    Lineage reads the rules in force when each upstream state began, not today's (a rule edited
    this afternoon does not explain this morning's storefront numbers). Three queries.
    """
    memberships: dict[int, list[int]] = defaultdict(list)
    for pool_id, location_id in Pool.locations.through.objects.values_list("pool_id", "location_id"):
        memberships[pool_id].append(location_id)
    rules = {rule.pk: rule for rule in inventory_selectors.allocation_rule_list() if rule.is_active}
    versions: dict[int, list[AllocationRuleVersion]] = defaultdict(list)
    for version in AllocationRuleVersion.objects.filter(rule__in=list(rules), effective_from__lte=until).order_by(
        "rule_id", "effective_from", "number"
    ):
        versions[version.rule_id].append(version)
    by_location: dict[int, list[int]] = defaultdict(list)
    for rule_id, rule in rules.items():
        for location_id in memberships.get(rule.pool_id, ()):
            by_location[location_id].append(rule_id)
    timelines: dict[int, RulesInForce] = {}
    for location_id, rule_ids in by_location.items():
        instants = sorted({version.effective_from for rule_id in rule_ids for version in versions[rule_id]})
        changes = []
        for instant in instants:
            in_force = []
            for rule_id in rule_ids:
                current = [version for version in versions[rule_id] if version.effective_from <= instant]
                if current:
                    in_force.append(inventory_selectors.version_values(current[-1]))
            changes.append((instant, tuple(in_force)))
        timelines[location_id] = RulesInForce(tuple(changes))
    return timelines


def own_order_map(
    *,
    connector_ids: Iterable[int],
    scope: Scope,
    since: dt.datetime | None,
    until: dt.datetime,
    offsets: Mapping[int, dt.timedelta | None],
) -> dict[tuple[int, Key], list[OwnOrder]]:
    """(connector_id, key) → the storefront's own order lines there, in time order (one query).

    Placement times are moved onto the hub's clock by the storefront's offset, like its level
    stamps, so an order and the level change it caused keep the same instant.
    """
    lines = OrderLine.objects.filter(_scope_q(scope), order__connector_id__in=list(connector_ids))
    lines = lines.filter(order__placed_at__lte=until)
    if since is not None:
        lines = lines.filter(order__placed_at__gte=since)
    found: dict[tuple[int, Key], list[OwnOrder]] = defaultdict(list)
    for connector_id, location_id, sku, placed_at, quantity in lines.order_by("order__placed_at", "pk").values_list(
        "order__connector_id", "location_id", "sku", "order__placed_at", "quantity"
    ):
        at = on_hub_clock(placed_at, offsets.get(connector_id))
        found[(connector_id, (location_id, sku))].append(OwnOrder(at=at, quantity=quantity))
    return found


# Up to this many (location, SKU) keys, positions are fetched at once rather than streamed.
SMALL_SCOPE = 1000


def _position_rows(*, connector_ids: list[int], scope: Scope) -> Iterator[tuple[Any, ...]]:
    if not connector_ids:
        return iter(())
    rows = InventoryPosition.objects.filter(_scope_q(scope), connector_id__in=connector_ids).values_list(
        *POSITION_FIELDS
    )
    if all(skus is not None for skus in scope.values()) and sum(len(skus) for skus in scope.values()) <= SMALL_SCOPE:
        # A page's or a trace's few keys: one round trip (a streaming cursor costs three).
        return iter(list(rows))
    return rows.iterator(chunk_size=5000)


def _by_connector(position: Position) -> int:
    return position.connector_id or 0


def key_observation_map(
    *,
    scope: Scope,
    connectors: Mapping[str, list[Connector]],
    excluded_bins: Mapping[tuple[int, int], frozenset[str]],
    rules: Mapping[int, tuple[RuleValues, ...]],
) -> dict[Key, KeyObservation]:
    """What every enabled system says about each key of the scope (one query for all of them)."""
    role_of = {c.pk: role for role in (Role.WMS, Role.ERP, Role.STOREFRONT) for c in connectors.get(role, [])}
    wms_totals: dict[Key, dict[int, Position]] = defaultdict(dict)
    wms_bins: dict[Key, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    wms_bins_changed: dict[tuple[int, int, str], dt.datetime] = {}
    others: dict[str, dict[Key, list[Position]]] = {Role.ERP: defaultdict(list), Role.STOREFRONT: defaultdict(list)}
    for connector_id, location_id, sku, bin_name, on_hand, allocated, available, changed_at in _position_rows(
        connector_ids=sorted(role_of), scope=scope
    ):
        key = (location_id, sku)
        role = role_of[connector_id]
        if role != Role.WMS:
            if not bin_name:  # only the WMS stores bins; a location total is what the others report
                others[role][key].append(Position(on_hand, allocated, available, changed_at, connector_id))
        elif bin_name:
            wms_bins[key][connector_id][bin_name] = on_hand
            previous = wms_bins_changed.get((connector_id, location_id, sku))
            if previous is None or changed_at > previous:
                wms_bins_changed[(connector_id, location_id, sku)] = changed_at
        else:
            wms_totals[key][connector_id] = Position(on_hand, allocated, available, changed_at, connector_id)
    # Rows come in no particular order: each key's systems in connector order, as before by chance.
    erp = {key: sorted(found, key=_by_connector) for key, found in others[Role.ERP].items()}
    storefronts = {key: sorted(found, key=_by_connector) for key, found in others[Role.STOREFRONT].items()}
    observations: dict[Key, KeyObservation] = {}
    for key in set(wms_totals) | set(erp) | set(storefronts):
        location_id, sku = key
        wms = tuple(
            WmsPosition(
                total=total,
                bins=dict(wms_bins[key].get(connector_id, {})) if key in wms_bins else {},
                excluded_bins=excluded_bins.get((connector_id, location_id), frozenset()),
                bins_changed_at=wms_bins_changed.get((connector_id, location_id, sku)),
            )
            for connector_id, total in sorted(wms_totals.get(key, {}).items())
        )
        observations[key] = KeyObservation(
            wms=wms,
            erp=tuple(erp.get(key, ())),
            storefronts=tuple(storefronts.get(key, ())),
            rules=rules.get(location_id, ()),
        )
    return observations


def discrepancy_open_list(*, scope: Scope) -> QuerySet[Discrepancy]:
    """The open discrepancies of the scope's keys."""
    return Discrepancy.objects.filter(_scope_q(scope), closed_at__isnull=True)


# --- lineage, hop lags, exposure and point in time (issue 5 items 4 and 6) ----------------------

HISTORY_FIELDS = (
    "connector_id",
    "location_id",
    "sku",
    "bin",
    "on_hand",
    "allocated",
    "available",
    "as_of",
    "changed_at",
)
# Changes read per connector to estimate its clock offset: plenty for the smallest poll delay to be small.
CLOCK_SAMPLE_ROWS = 2000
# A clock's offset drifts slowly: one estimate serves every read within this many seconds of
# `until` (a trace built on its own then costs no offset queries).
CLOCK_CACHE_SECONDS = 300
# How far before the sample's first poll to look for the poll before it.
MAX_POLL_GAP = dt.timedelta(days=1)


def clock_offset_map(*, connector_ids: Iterable[int], until: dt.datetime) -> dict[int, dt.timedelta | None]:
    """connector_id → its clock's offset from the hub's, estimated from its latest stamped changes (two queries each)."""
    offsets: dict[int, dt.timedelta | None] = {}
    bucket = int(until.timestamp()) // CLOCK_CACHE_SECONDS
    for connector_id in connector_ids:
        cache_key = f"clock-offset:{connector_id}:{bucket}"
        cached = cache.get(cache_key)
        if cached is not None:
            offsets[connector_id] = cached[0]
            continue
        rows = list(
            PositionChange.objects.filter(connector_id=connector_id, as_of__isnull=False, changed_at__lte=until)
            .order_by("-changed_at")
            .values_list("location_id", "sku", "bin", "as_of", "changed_at", "poll_run__started_at")[:CLOCK_SAMPLE_ROWS]
        )
        starts = sorted({row[5] for row in rows if row[5] is not None})
        if starts:
            # Every start of this connector's polls in the sample's span, for "the poll before".
            starts = sorted(
                PollRun.objects.filter(
                    connector_id=connector_id, started_at__gte=starts[0] - MAX_POLL_GAP, started_at__lte=starts[-1]
                ).values_list("started_at", flat=True)
            )
        after_pairs = []
        previous_stamp: dict[tuple[int, str, str], dt.datetime] = {}
        for location_id, sku, bin_name, stamp, _, start in reversed(rows):
            key = (location_id, sku, bin_name)
            # Only a stamp that moved dates this change: a row written because another quantity
            # changed keeps an older stamp, which says nothing about the poll before.
            fresh = key in previous_stamp and previous_stamp[key] != stamp
            previous_stamp[key] = stamp
            index = bisect.bisect_left(starts, start) - 1 if start is not None else -1
            if fresh and index >= 0:
                after_pairs.append((stamp, starts[index]))
        pairs = [(row[3], row[4]) for row in rows]
        offsets[connector_id] = clock_offset_estimate(pairs, after_pairs)
        cache.set(cache_key, (offsets[connector_id],), CLOCK_CACHE_SECONDS)
    return offsets


@dataclasses.dataclass(frozen=True, slots=True)
class WmsPollTotal:
    """A key's WMS totals as of one poll (summed over WMS connectors), stamped by the WMS's own clock."""

    at: dt.datetime
    on_hand: int
    excluded_on_hand: int  # on hand in the bins the boundary excludes
    allocated: int
    available: int


def wms_poll_totals(
    rows: Iterable[tuple[Any, ...]], *, excluded: Mapping[tuple[int, int], frozenset[str]]
) -> list[WmsPollTotal]:
    """One key's WMS history rows (HISTORY_FIELDS, in changed_at order) folded poll by poll.

    A poll writes a location total and its bins together (same changed_at); each connector's
    latest total and excluded bins carry over to later polls that did not change them.
    """
    totals: dict[int, tuple[int, int, int]] = {}
    excluded_on_hand: dict[tuple[int, str], int] = {}
    found: list[WmsPollTotal] = []
    for changed_at, group in itertools.groupby(rows, key=lambda row: row[8]):
        stamps = []
        for connector_id, location_id, _sku, bin_name, on_hand, allocated, available, as_of, _ in group:
            if not bin_name:
                totals[connector_id] = (on_hand, allocated, available)
            elif bin_name in excluded.get((connector_id, location_id), frozenset()):
                excluded_on_hand[(connector_id, bin_name)] = on_hand
            else:
                continue
            if as_of is not None:
                stamps.append(as_of)
        if not totals:
            continue
        found.append(
            WmsPollTotal(
                at=max(stamps) if stamps else changed_at,
                on_hand=sum(t[0] for t in totals.values()),
                excluded_on_hand=sum(q for (c, _), q in excluded_on_hand.items() if c in totals),
                allocated=sum(t[1] for t in totals.values()),
                available=sum(t[2] for t in totals.values()),
            )
        )
    return found


def position_history_rows(
    *, connector_ids: list[int], scope: Scope, since: dt.datetime | None, until: dt.datetime
) -> Iterator[tuple[Any, ...]]:
    """History rows of the scope's keys, in (location, SKU, changed_at) order: one query for all the connectors."""
    if not connector_ids:
        return iter(())
    rows = PositionChange.objects.filter(_scope_q(scope), connector_id__in=connector_ids, changed_at__lte=until)
    if since is not None:
        rows = rows.filter(changed_at__gte=since)
    return (
        rows.order_by("location_id", "sku", "changed_at", "pk").values_list(*HISTORY_FIELDS).iterator(chunk_size=5000)
    )


def ledger_entry_rows(
    *, connector_ids: list[int], scope: Scope, since: dt.datetime | None, until: dt.datetime
) -> Iterator[tuple[int, int, str, dt.datetime, dict[str, Any]]]:
    """ERP ledger entries of the scope's keys: (connector_id, location_id, sku, posting time, raw)."""
    if not connector_ids:
        return iter(())
    rows = InventoryEvent.objects.filter(_scope_q(scope), connector_id__in=connector_ids, occurred_at__lte=until)
    if since is not None:
        rows = rows.filter(occurred_at__gte=since)
    return rows.values_list("connector_id", "location_id", "sku", "occurred_at", "raw").iterator(chunk_size=5000)


def event_time_map(
    *, connector_ids: list[int], scope: Scope, since: dt.datetime | None, until: dt.datetime
) -> dict[Key, list[tuple[dt.datetime, str]]]:
    """key → (when, kind) of the given connectors' events there, in time order (one query)."""
    rows = InventoryEvent.objects.filter(_scope_q(scope), connector_id__in=connector_ids, occurred_at__lte=until)
    if since is not None:
        rows = rows.filter(occurred_at__gte=since)
    found: dict[Key, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for location_id, sku, occurred_at, kind in rows.order_by("occurred_at").values_list(
        "location_id", "sku", "occurred_at", "kind"
    ):
        found[(location_id, sku)].append((occurred_at, kind))
    return found


def history_key_list(*, connector_ids: list[int], since: dt.datetime | None) -> list[Key]:
    """Every (location, SKU) the given connectors changed since `since` (or ever)."""
    rows = PositionChange.objects.filter(connector_id__in=connector_ids)
    if since is not None:
        rows = rows.filter(changed_at__gte=since)
    return sorted(set(rows.values_list("location_id", "sku").distinct()))


def hop_lag_stats(
    *, window: dt.timedelta, now: dt.datetime, location_ids: Iterable[int] | None = None
) -> dict[int, dict[str, dict[str, float | int]]]:
    """location_id → hop → p50, p95, max (seconds) and count of the lags of WMS changes in the window (one query).

    On PostgreSQL the percentiles are computed by the database (a day of samples at a hundred
    busy locations is millions of rows: never brought into Python); elsewhere by lineage.lag_stats.
    Both give the same numbers: the median of the two middle values, p95 the nearest rank below.
    """
    samples = HopLagSample.objects.filter(
        wms_changed_at__gt=now - window, wms_changed_at__lte=now, lag_seconds__isnull=False
    ).exclude(method__in=HopLagSample.UNDATED_METHODS)
    if location_ids is not None:
        samples = samples.filter(location_id__in=list(location_ids))
    result: dict[int, dict[str, dict[str, float | int]]] = defaultdict(dict)
    if connection.vendor == "postgresql":
        grouped = (
            samples.values("location_id", "hop")
            .annotate(
                p50=_Percentile("lag_seconds"),
                p95=_NearestRankBelow("lag_seconds"),
                max=Max("lag_seconds"),
                count=Count("*"),
            )
            .order_by("location_id", "hop")
        )
        for row in grouped:
            result[row["location_id"]][row["hop"]] = {k: row[k] for k in ("p50", "p95", "max", "count")}
        return dict(result)
    lags: dict[tuple[int, str], list[float]] = defaultdict(list)
    for location_id, hop, seconds in samples.values_list("location_id", "hop", "lag_seconds").iterator(
        chunk_size=10000
    ):
        lags[(location_id, hop)].append(seconds)
    for (location_id, hop), values in sorted(lags.items()):
        stats = lag_stats(values)
        if stats is not None:
            result[location_id][hop] = {"p50": stats.p50, "p95": stats.p95, "max": stats.max, "count": stats.count}
    return dict(result)


class _Percentile(Aggregate):
    """PostgreSQL's median: the mean of the two middle values when the count is even."""

    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


class _NearestRankBelow(Aggregate):
    """values[min(n − 1, floor(0.95 n))] of the sorted values (0-based), as lineage.lag_stats takes it."""

    template = (
        "(array_agg(%(expressions)s ORDER BY %(expressions)s))[LEAST(COUNT(*), FLOOR(COUNT(*) * 0.95)::bigint + 1)]"
    )
    output_field = FloatField()


def exposure_by_location() -> dict[int, int]:
    """location_id → phantom units now: Σ over SKUs of max(0, storefront available − WMS comparable).

    One query per role. Of several storefronts, the one promising the most speaks for the key.
    """
    connectors = reconciliation_connector_list()
    ids = [c.pk for role_connectors in connectors.values() for c in role_connectors]
    scope: Scope = dict.fromkeys(
        InventoryPosition.objects.filter(connector_id__in=ids).values_list("location_id", flat=True).distinct()
    )
    observations = key_observation_map(
        scope=scope,
        connectors=connectors,
        excluded_bins=wms_excluded_bin_map(connector_ids=[c.pk for c in connectors[Role.WMS]]),
        rules={},
    )
    exposure: dict[int, int] = defaultdict(int)
    for (location_id, _sku), observation in observations.items():
        if not observation.storefronts or not observation.wms:
            continue
        wms = key_comparables(observation).wms
        shown = max(p.available for p in observation.storefronts)
        if wms is not None:
            exposure[location_id] += max(0, shown - wms)
    return {location_id: exposure.get(location_id, 0) for location_id in sorted(scope)}


@dataclasses.dataclass(frozen=True, slots=True)
class PositionAt:
    """What one system believed about (location, SKU) from `changed_at` on, and its comparable quantity."""

    connector_id: int
    on_hand: int
    allocated: int
    available: int
    comparable: int
    changed_at: dt.datetime
    as_of: dt.datetime | None


def position_at(*, location_id: int, sku: str, at: dt.datetime) -> dict[str, PositionAt | None]:
    """What each system believed about (location, SKU) at `at`, and what was true (the WMS's).

    Per role, the latest change at or before `at` of its first enabled connector (one query per
    system, walking the (location, sku, connector, changed_at) index backwards). The WMS value is
    its location total with the bins its boundary excludes taken off (its comparable); "truth"
    is that WMS value.
    """
    connectors = reconciliation_connector_list()
    result: dict[str, PositionAt | None] = {}
    for role in Role.values:
        role_connectors = connectors.get(role, [])
        if not role_connectors:
            result[role] = None
            continue
        connector_id = role_connectors[0].pk
        excluded: frozenset[str] = frozenset()
        if role == Role.WMS:
            excluded = wms_excluded_bin_map(connector_ids=[connector_id]).get((connector_id, location_id), frozenset())
        result[role] = _position_at(
            connector_id=connector_id, location_id=location_id, sku=sku, at=at, role=role, excluded=excluded
        )
    result["truth"] = result.get(Role.WMS)
    return result


def _position_at(
    *, connector_id: int, location_id: int, sku: str, at: dt.datetime, role: str, excluded: frozenset[str]
) -> PositionAt | None:
    wanted = {"", *excluded}
    rows = (
        PositionChange.objects.filter(
            location_id=location_id, sku=sku, connector_id=connector_id, changed_at__lte=at, bin__in=sorted(wanted)
        )
        .order_by("-changed_at", "-pk")
        .values_list("bin", "on_hand", "allocated", "available", "changed_at", "as_of")
    )
    latest: dict[str, tuple[Any, ...]] = {}
    for row in rows.iterator(chunk_size=200):
        latest.setdefault(row[0], row)
        if len(latest) == len(wanted):
            break  # the newest row of every bin we need: the rest of the history is older
    total = latest.get("")
    if total is None:
        return None
    _, on_hand, allocated, available, changed_at, as_of = total
    if role == Role.WMS:
        comparable = on_hand - sum(latest[b][1] for b in excluded if b in latest) - allocated
    elif role == Role.ERP:
        comparable = on_hand - allocated
    else:
        comparable = available
    return PositionAt(connector_id, on_hand, allocated, available, comparable, changed_at, as_of)
