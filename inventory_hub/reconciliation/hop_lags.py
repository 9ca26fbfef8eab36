"""Hop lags (DESIGN.md §5): for each WMS change, when the ERP and then the storefront first reflected it.

Reads the position history and the ERP's ledger, runs the pure lineage functions and upserts one
`HopLagSample` per change and hop.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from inventory_hub.connectors.erpnext import parsing as erpnext_parsing
from inventory_hub.connectors.models import Role
from inventory_hub.observations.models import EventKind
from inventory_hub.reconciliation import comparable, lineage, selectors
from inventory_hub.reconciliation.models import Hop, HopLagSample
from inventory_hub.reconciliation.services import BATCH_KEYS, poll_run_keys

# A ledger entry dates a WMS change when its posting time is this close to it.
SOURCE_TOLERANCE = dt.timedelta(seconds=1)

HistoryRow = tuple[Any, ...]  # selectors.HISTORY_FIELDS


@dataclasses.dataclass(frozen=True, slots=True)
class HopLagMeasureResult:
    """What one measurement looked at and stored."""

    keys: int
    changes: int  # WMS changes measured
    samples: int  # rows upserted (one per change and hop)
    reflected: int  # of them, already reflected downstream
    clock_offsets: Mapping[int, dt.timedelta | None]  # connector_id → estimated offset from the hub's clock


def hop_lags_measure(
    *,
    keys: Iterable[tuple[int, str]] | None = None,
    since: dt.datetime | None = None,
    now: dt.datetime | None = None,
    look_back: dt.timedelta = lineage.DEFAULT_LOOK_BACK,
) -> HopLagMeasureResult:
    """Measure, for each WMS change since `since`, when the ERP and then the storefront first reflected it.

    Keys default to every (location, SKU) whose WMS position changed since `since`. WMS times are
    the WMS's own stamps (`as_of`; the WMS and the hub are taken to share a synchronised clock);
    ERP and storefront stamps are moved onto the hub's clock by each connector's estimated offset
    (`lineage.clock_offset_estimate`). The ERP hop prefers the ERP's ledger entries (posting time
    = the WMS change, creation = when the ERP recorded it); otherwise values are matched
    (DESIGN.md §5). Idempotent: samples are upserted per (location, SKU, hop, WMS change time),
    so measuring again fills in what has since been reflected and never double counts.
    """
    now = now or timezone.now()
    connectors = selectors.reconciliation_connector_list()
    wms_ids = [c.pk for c in connectors[Role.WMS]]
    erp_ids = [c.pk for c in connectors[Role.ERP]]
    storefront_ids = [c.pk for c in connectors[Role.STOREFRONT]]
    offsets = selectors.clock_offset_map(connector_ids=erp_ids + storefront_ids, until=now)
    if not wms_ids or not (erp_ids or storefront_ids):
        return HopLagMeasureResult(keys=0, changes=0, samples=0, reflected=0, clock_offsets=offsets)
    ledger_zones = {
        c.pk: erpnext_parsing.time_zone(c.options.get("time_zone", "UTC"))
        for c in connectors[Role.ERP]
        if c.adapter == "erpnext"
    }
    excluded = selectors.wms_excluded_bin_map(connector_ids=wms_ids)
    rules = selectors.rules_timeline_by_location(until=now)
    if keys is None:
        keys = selectors.history_key_list(connector_ids=wms_ids, since=since)
    scope = selectors.scope_from_keys(keys)
    # The states in force a look-back before `since` explain downstream values seen after it.
    history_since = since - look_back if since is not None else None
    key_count = changes = reflected = 0
    samples: list[HopLagSample] = []
    for batch in selectors.scope_batches(scope, max_keys=BATCH_KEYS):

        def rows(ids: list[int], batch: selectors.Scope = batch) -> dict[tuple[int, str], list[HistoryRow]]:
            grouped: dict[tuple[int, str], list[HistoryRow]] = defaultdict(list)
            for row in selectors.position_history_rows(connector_ids=ids, scope=batch, since=history_since, until=now):
                grouped[(row[1], row[2])].append(row)
            return grouped

        wms_rows, erp_rows = rows(wms_ids), rows(erp_ids)
        storefront_rows = {connector_id: rows([connector_id]) for connector_id in storefront_ids}
        own_orders = selectors.own_order_map(
            connector_ids=storefront_ids, scope=batch, since=history_since, until=now, offsets=offsets
        )
        wms_events = selectors.event_time_map(connector_ids=wms_ids, scope=batch, since=history_since, until=now)
        sources: dict[tuple[int, str], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        moved: dict[tuple[int, str], dict[dt.datetime, float]] = defaultdict(dict)  # posting time → on-hand delta
        for connector_id, location_id, sku, posted_at, raw in selectors.ledger_entry_rows(
            connector_ids=list(ledger_zones), scope=batch, since=history_since, until=now
        ):
            created = raw.get("creation") if isinstance(raw, dict) else None
            if not isinstance(created, str):
                continue
            created_at = erpnext_parsing.to_utc(dt.datetime.fromisoformat(created), ledger_zones[connector_id])
            sources[(location_id, sku)].append(
                lineage.source_reflection(posted_at=posted_at, created_at=created_at, offset=offsets[connector_id])
            )
            quantity = raw.get("actual_qty")
            if isinstance(quantity, int | float):
                moved[(location_id, sku)][posted_at] = moved[(location_id, sku)].get(posted_at, 0.0) + quantity
        for key in sorted(wms_rows):
            key_count += 1
            wms = _wms_series(wms_rows[key], excluded=excluded)
            erp = _plain_series(erp_rows.get(key, []), offsets=offsets)
            # A storefront that never listed the key has nothing to reflect there.
            storefronts = [
                (_storefront_series(found[key], offsets=offsets), own_orders.get((connector_id, key), []))
                for connector_id, found in storefront_rows.items()
                if key in found
            ]
            for sample in _key_samples(
                key=key,
                wms=wms,
                erp=erp if erp_ids else None,
                storefronts=storefronts,
                sources=sources.get(key, []),
                moved=moved.get(key, {}),
                wms_events=wms_events.get(key, []),
                rules=rules.get(key[0], lineage.RulesInForce()),
                since=since,
                look_back=look_back,
            ):
                samples.append(sample)
                reflected += sample.reflected_at is not None
            changes += sum(1 for i in lineage.changes(wms) if since is None or wms[i].at >= since)
    with transaction.atomic():
        HopLagSample.objects.bulk_create(
            samples,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["location", "sku", "hop", "wms_changed_at"],
            update_fields=["reflected_at", "lag_seconds", "method"],
        )
    return HopLagMeasureResult(
        keys=key_count, changes=changes, samples=len(samples), reflected=reflected, clock_offsets=offsets
    )


def _groups(rows: list[HistoryRow]) -> Iterable[tuple[dt.datetime, list[HistoryRow]]]:
    """Rows by the poll that wrote them (same changed_at): a total and its bins change together."""
    start = 0
    for end in range(1, len(rows) + 1):
        if end == len(rows) or rows[end][8] != rows[start][8]:
            yield rows[start][8], rows[start:end]
            start = end


def _wms_series(rows: list[HistoryRow], *, excluded: Mapping[tuple[int, int], frozenset[str]]) -> list[lineage.Reading]:
    """The WMS comparable (and its all-bins alternative) over time, stamped by the WMS's own clock."""
    series = []
    for poll in selectors.wms_poll_totals(rows, excluded=excluded):
        all_bins = poll.on_hand - poll.allocated
        value = all_bins - poll.excluded_on_hand
        series.append(lineage.Reading(at=poll.at, value=value, alternatives=(all_bins,) if all_bins != value else ()))
    return _in_time_order(series)


def _plain_series(rows: list[HistoryRow], *, offsets: Mapping[int, dt.timedelta | None]) -> list[lineage.Reading]:
    """An ERP's comparable (actual − reserved, summed over its connectors) over time, on the hub's clock."""
    totals: dict[int, int] = {}
    series: list[lineage.Reading] = []
    for changed_at, group in _groups([row for row in rows if not row[3]]):
        stamps = []
        for connector_id, _loc, _sku, _bin, on_hand, allocated, _available, as_of, _ in group:
            totals[connector_id] = on_hand - allocated
            if as_of is not None:
                stamps.append(lineage.on_hub_clock(as_of, offsets.get(connector_id)))
        series.append(lineage.Reading(at=max(stamps) if stamps else changed_at, value=sum(totals.values())))
    return _in_time_order(series)


def _storefront_series(rows: list[HistoryRow], *, offsets: Mapping[int, dt.timedelta | None]) -> list[lineage.Reading]:
    """One storefront's available over time, with the safety stock it holds back, on the hub's clock."""
    series = []
    for connector_id, _loc, _sku, bin_name, on_hand, allocated, available, as_of, changed_at in rows:
        if bin_name:
            continue
        at = lineage.on_hub_clock(as_of, offsets.get(connector_id)) if as_of is not None else changed_at
        held_back = comparable.storefront_safety_stock(comparable.Position(on_hand, allocated, available))
        series.append(lineage.Reading(at=at, value=available, held_back=held_back))
    # A change of another quantity (a fulfilment lowering on hand) re-reports the same number.
    return list(dict.fromkeys(_in_time_order(series)))


def _in_time_order(series: list[lineage.Reading]) -> list[lineage.Reading]:
    return sorted(series, key=lambda reading: reading.at)


def _key_samples(
    *,
    key: tuple[int, str],
    wms: list[lineage.Reading],
    erp: list[lineage.Reading] | None,
    storefronts: list[tuple[list[lineage.Reading], list[lineage.OwnOrder]]],
    sources: list[tuple[dt.datetime, dt.datetime]],
    wms_events: list[tuple[dt.datetime, str]],
    moved: Mapping[dt.datetime, float],
    rules: lineage.RulesInForce,
    since: dt.datetime | None,
    look_back: dt.timedelta,
) -> list[HopLagSample]:
    """One sample per hop for each WMS change of one key since `since`."""
    erp_at: dict[int, lineage.Reflection] = {}
    erp_lineage: list[int | None] = []
    event_times = [at for at, _ in wms_events]
    if erp is not None:
        # The ERP's own entries (no WMS movement at their posting time), by when it recorded them.
        own_entries = sorted(
            (reflected, moved.get(posted, 0.0)) for posted, reflected in set(sources) if not _near(event_times, posted)
        )
        erp_lineage = lineage.own_entries_lineage(
            wms, erp, lineage.lineages(wms, erp, look_back=look_back), own_entries, look_back=look_back
        )
        found = lineage.first_reflections(wms, erp, erp_lineage)
        reflections = [
            lineage.Reflection(changed_at=wms[i].at, reflected_at=at, method=lineage.VALUE_MATCH, upstream_index=i)
            for i, at in sorted(found.items())
        ]
        erp_at = {r.upstream_index: r for r in lineage.sources_preferred(reflections, sources)}
        wms_times, erp_times = [reading.at for reading in wms], [reading.at for reading in erp]
        shown_in_boundary = _erp_boundary_shows(wms, erp, erp_lineage)
        for i, reflection in erp_at.items():
            if reflection.method == lineage.VALUE_MATCH and lineage.already_shown(
                wms, wms_times, erp, erp_times, wms[i].at, shown_in_boundary
            ):
                # The ERP's number already was what this state calls for (its boundary counts the
                # bin the units moved into): nothing to carry, so no sync can date it.
                erp_at[i] = dataclasses.replace(reflection, reflected_at=wms[i].at, method=lineage.UNCHANGED)
    # What is sampled: each change of the WMS comparable, and each on-hand movement the ERP's ledger
    # dates that changed no comparable (a pick lowers on hand and allocated together): (time, index
    # of the WMS state that includes it, the ERP's reflection).
    sampled: list[tuple[dt.datetime, int, lineage.Reflection | None]] = [
        (wms[i].at, i, erp_at.get(i)) for i in lineage.changes(wms)
    ]
    change_times = sorted(at for at, _, _ in sampled)
    wms_times = [reading.at for reading in wms]
    # On-hand movements the storefront had to learn: all but picks (on hand and allocated drop together).
    learnable = sorted(at for at, kind in wms_events if kind != EventKind.PICK)
    changed_states = set(lineage.changes(wms))
    all_orders = sorted((order for _, placed in storefronts for order in placed), key=lambda order: order.at)
    learned_events: set[dt.datetime] = set()
    for posted, erp_reflected in sorted(set(sources)):
        if not _near(event_times, posted):
            continue  # the ERP's own entry (a reconciliation of its own), not a WMS movement
        if _near(change_times, posted):
            continue  # the comparable change above, already dated by this entry
        index = bisect.bisect_left(wms_times, posted - SOURCE_TOLERANCE)
        if index < len(wms):
            reflection = lineage.Reflection(posted, erp_reflected, lineage.SOURCE_TIMESTAMP, index)
            sampled.append((posted, index, reflection))
            if _near(learnable, posted) and (index in changed_states or _orders_placed(wms, index, all_orders)):
                # One of several movements the same poll saw: the storefront learns it with the others;
                # also when its own orders netted the comparable back (it took those off at once, so
                # the movement still moves its number).
                learned_events.add(posted)
    sampled.sort(key=lambda item: item[0])
    # The storefront hops date what the storefront had to learn through its syncs: changes of the
    # comparable, less those its own orders made (it took those off when the customer ordered).
    is_change = [at == wms[i].at for at, i, _ in sampled]
    own = [
        changed and _own_orders_explain(wms, i, all_orders, learnable)
        for changed, (_, i, _) in zip(is_change, sampled, strict=True)
    ]
    # A change sampled through its movements: the WMS stamps a product with its last movement, so
    # a poll that saw several yields one change stamped by the last. When the movements the ledger
    # dated on their own (sampled above) and the storefront's own orders make the whole change,
    # the stamp is a pick or an order: counting the change too would count those movements twice,
    # from the pick's or the order's time.
    separate = sorted(learned_events)
    covered = [
        changed and not mine and _separately_sampled(wms, i, all_orders, separate, moved)
        for changed, mine, (_, i, _) in zip(is_change, own, sampled, strict=True)
    ]
    # The storefront learns through the ERP: a change the ERP's number already showed, or one
    # that moved units only between bins its boundary counts alike, gives it nothing to carry.
    all_bins_erp = erp is not None and _follows_all_bins(wms, erp, erp_lineage)
    carried_by_erp = [
        not (r is not None and r.method == lineage.UNCHANGED) and not (all_bins_erp and _all_bins_delta(wms, i) == 0)
        for _, i, r in sampled
    ]
    learned = [
        (changed and not mine and not done and erp_moves) or at in learned_events
        for changed, mine, done, erp_moves, (at, _, _) in zip(
            is_change, own, covered, carried_by_erp, sampled, strict=True
        )
    ]
    per_storefront: list[list[tuple[dt.datetime | None, str]]] = []
    for readings, orders in storefronts:
        accepts = lineage.atp_accepts(rules, orders)
        # Each stamp of the level that no own order explains is a sync that touched it.
        sync_times = lineage.sync_instants(readings, orders)
        if sync_times:
            if erp is not None:
                middle, middle_lineage = erp, erp_lineage
                starts = [
                    (i, r.reflected_at if r and keep else None)
                    for (_, i, r), keep in zip(sampled, learned, strict=True)
                ]
            else:
                middle, middle_lineage = wms, list(range(len(wms)))
                starts = [(i, at if keep else None) for (at, i, _), keep in zip(sampled, learned, strict=True)]
            per_storefront.append(
                lineage.sync_reflections(
                    changes=starts,
                    middle=middle,
                    middle_lineage=middle_lineage,
                    downstream=readings,
                    syncs=sync_times,
                    accepts=accepts,
                    shows=lineage.atp_accepts(rules, orders, storefront_rule=True),
                    look_back=look_back,
                )
            )
            continue
        series = lineage.own_order_readings_drop(readings, orders)
        if erp is not None:
            through = lineage.chained_lineage(
                erp_lineage, lineage.lineages(erp, series, look_back=look_back, accepts=accepts)
            )
        else:
            through = lineage.lineages(wms, series, look_back=look_back, accepts=accepts)
        by_change = lineage.first_reflections(wms, series, through)
        # Value matching dates changes of the comparable only.
        per_storefront.append(
            [(by_change.get(i) if at == wms[i].at else None, lineage.VALUE_MATCH) for at, i, _ in sampled]
        )
    samples = []
    for position, (changed_at, _, erp_reflection) in enumerate(sampled):
        if since is not None and changed_at < since:
            continue
        erp_time = erp_reflection.reflected_at if erp_reflection else None
        if erp is not None and erp_reflection is not None:
            samples.append(_sample(key, changed_at, Hop.WMS_ERP, erp_time, erp_reflection.method))
        if not storefronts or not (learned[position] or own[position]):
            continue
        if own[position]:
            # The storefront took it off when the customer ordered: it had it before the WMS did.
            shown_at, method = changed_at, lineage.OWN_ORDER
        else:
            # The change has reached "the storefront" once every storefront shows it.
            found = [by_storefront[position] for by_storefront in per_storefront]
            times = [at for at, _ in found]
            shown_at = None if any(t is None for t in times) else max(t for t in times if t is not None)
            undated = all(m == lineage.UNCHANGED for _, m in found)
            method = lineage.UNCHANGED if undated else found[0][1]
        samples.append(_sample(key, changed_at, Hop.WMS_STOREFRONT, shown_at, method))
        if erp is not None:
            samples.append(_sample(key, changed_at, Hop.ERP_STOREFRONT, shown_at, method, lag_from=erp_time))
    return samples


def _own_orders_explain(
    wms: Sequence[lineage.Reading], index: int, own: Sequence[lineage.OwnOrder], events: Sequence[dt.datetime]
) -> bool:
    """Did the storefront's own orders alone make this WMS change (no on-hand event that moves the comparable)?

    `events` are the movements that move the comparable: a pick lowers on hand and allocated together.
    """
    if index == 0:
        return False
    start, end = wms[index - 1].at, wms[index].at
    placed = [order.quantity for order in own if start < order.at <= end + SOURCE_TOLERANCE]
    moved = bisect.bisect_right(events, end) > bisect.bisect_right(events, start)
    return bool(placed) and not moved and wms[index].value - wms[index - 1].value == -sum(placed)


def _orders_placed(wms: Sequence[lineage.Reading], index: int, own: Sequence[lineage.OwnOrder]) -> bool:
    """Were any of the storefront's own orders placed in the poll that saw WMS state `index`?"""
    if index == 0:
        return False
    start, end = wms[index - 1].at, wms[index].at
    return any(start < order.at <= end + SOURCE_TOLERANCE for order in own)


def _all_bins(reading: lineage.Reading) -> int:
    return reading.alternatives[0] if reading.alternatives else reading.value


def _erp_boundary_shows(
    wms: Sequence[lineage.Reading], erp: Sequence[lineage.Reading], erp_lineage: Sequence[int | None]
) -> lineage.Accepts:
    """Does an ERP number show a WMS state, in the ERP's own boundary (either one while its readings cannot tell)?

    A number that equals the other boundary's quantity of a new state is the old state's, not that
    one's (an allocation can make the all-bins quantity what the sellable one was).
    """
    all_bins = comparable = 0
    for reading, index in zip(erp, erp_lineage, strict=True):
        if index is not None and wms[index].alternatives:
            comparable += reading.value == wms[index].value
            all_bins += reading.value in wms[index].alternatives
    if all_bins == comparable:
        return lineage.same_value
    follows_all_bins = all_bins > comparable
    return lambda state, shown: shown.value == (_all_bins(state) if follows_all_bins else state.value)


def _all_bins_delta(wms: Sequence[lineage.Reading], index: int) -> int | None:
    """How much a WMS change moved the all-bins quantity (None for the starting state)."""
    return None if index == 0 else _all_bins(wms[index]) - _all_bins(wms[index - 1])


def _follows_all_bins(
    wms: Sequence[lineage.Reading], erp: Sequence[lineage.Reading], erp_lineage: Sequence[int | None]
) -> bool:
    """Does the ERP's boundary count the bins the comparable excludes (its numbers match the all-bins quantity)?

    Decided by the ERP readings that tell the two apart: those explained by a WMS state whose
    all-bins quantity differs from its comparable.
    """
    all_bins = comparable = 0
    for reading, index in zip(erp, erp_lineage, strict=True):
        if index is None or not wms[index].alternatives:
            continue
        if reading.value == wms[index].value:
            comparable += 1
        elif reading.value in wms[index].alternatives:
            all_bins += 1
    return all_bins > comparable


def _separately_sampled(
    wms: Sequence[lineage.Reading],
    index: int,
    own: Sequence[lineage.OwnOrder],
    separate: Sequence[dt.datetime],
    moved: Mapping[dt.datetime, float],
) -> bool:
    """Do the movements sampled on their own, with the storefront's own orders, make this whole WMS change?

    `separate` are the posting times of the on-hand movements sampled on their own (their ledger
    entries date them), `moved` their on-hand deltas. When those deltas and the own orders placed
    in the poll sum to the change (on the comparable, or on every bin: the ledger follows the
    ERP's boundary), what stamps the change moved nothing the storefront learns (a pick lowers on
    hand and allocated together; a move between bins the ERP counts alike). Anything else, such as
    an allocation to another channel (no ledger entry), leaves a remainder and the change is kept.
    """
    if index == 0:
        return False
    start, end = wms[index - 1].at, wms[index].at
    low = bisect.bisect_right(separate, start)
    high = bisect.bisect_right(separate, end + SOURCE_TOLERANCE)
    if low == high:
        return False
    placed = sum(order.quantity for order in own if start < order.at <= end + SOURCE_TOLERANCE)
    total = sum(moved.get(at, 0.0) for at in separate[low:high]) - placed
    return total in (wms[index].value - wms[index - 1].value, _all_bins_delta(wms, index))


def _near(times: Sequence[dt.datetime], at: dt.datetime) -> bool:
    """Is one of the sorted `times` within SOURCE_TOLERANCE of `at`?"""
    index = bisect.bisect_left(times, at - SOURCE_TOLERANCE)
    return index < len(times) and times[index] <= at + SOURCE_TOLERANCE


def _sample(
    key: tuple[int, str],
    changed_at: dt.datetime,
    hop: str,
    reflected_at: dt.datetime | None,
    method: str,
    *,
    lag_from: dt.datetime | None = None,
) -> HopLagSample:
    """One stored lag: from the WMS change (or, for ERP → storefront, from the ERP's reflection of it)."""
    start = changed_at if hop != Hop.ERP_STOREFRONT else lag_from
    lag = None
    if reflected_at is not None and start is not None:
        # Never negative: a clock estimate may put a reflection a moment before its source.
        lag = max(0.0, (reflected_at - start).total_seconds())
    return HopLagSample(
        location_id=key[0],
        sku=key[1],
        hop=hop,
        wms_changed_at=changed_at,
        reflected_at=reflected_at if lag is not None else None,
        lag_seconds=lag,
        method=method,
    )


def hop_lags_after_poll(*, poll_run_id: int, now: dt.datetime | None = None) -> HopLagMeasureResult:
    """Measure hop lags on the keys one poll changed (a downstream change reflects earlier WMS ones)."""
    return hop_lags_measure(keys=poll_run_keys(poll_run_id), now=now)
