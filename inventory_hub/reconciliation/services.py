"""Writes about discrepancies: reconciliation opens, updates and closes them; people acknowledge them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from inventory_hub.connectors.erpnext import parsing as erpnext_parsing
from inventory_hub.connectors.models import Connector, Role
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import PositionChange
from inventory_hub.reconciliation import classify, comparable, lineage, selectors
from inventory_hub.reconciliation.models import Discrepancy, Hop, HopLagSample

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# The lag budget of a hop is this many poll intervals of its downstream connectors (see
# hop_lag_budgets): a change needs up to one interval to be polled on each side, and a batch sync
# between them takes about as long again. Measured hop lags (issue 5 item 4) will replace it.
LAG_BUDGET_POLLS = 3
# Whose poll intervals make up each hop's budget: end to end crosses both downstream systems.
HOP_DOWNSTREAM_ROLES = {
    classify.WMS_ERP: (Role.ERP,),
    classify.ERP_STOREFRONT: (Role.STOREFRONT,),
    classify.WMS_STOREFRONT: (Role.ERP, Role.STOREFRONT),
}
# Keys read and written per batch: bounds memory and the size of each query's SKU list.
BATCH_KEYS = 5000
UPDATED_FIELDS = ("classification", "upstream_quantity", "downstream_quantity", "peak_gap")


@dataclasses.dataclass(frozen=True, slots=True)
class RuleDriftSummary:
    """At one location, how many SKUs the storefront holds back a different safety stock for."""

    location_id: int
    effective_safety_stock: int
    hub_safety_stock: int
    skus: int


@dataclasses.dataclass(frozen=True, slots=True)
class ReconciliationResult:
    """What one reconciliation run looked at and changed."""

    keys: int
    opened: int
    updated: int
    closed: int
    open_by_class: Mapping[str, int]  # discrepancies left open by this run's keys, per class
    rule_drifts: tuple[RuleDriftSummary, ...]
    lag_budgets: Mapping[str, dt.timedelta]


class AcknowledgementError(Exception):
    """The acknowledgement was refused, with a message for the user."""


def discrepancy_acknowledge(
    *, discrepancy: Discrepancy, user: AbstractBaseUser, note: str, now: dt.datetime | None = None
) -> Discrepancy:
    """Mark an open discrepancy as seen by a person, with their note."""
    if not note.strip():
        raise AcknowledgementError("Add a note: what did you find, or who is on it?")
    updated = Discrepancy.objects.filter(pk=discrepancy.pk, closed_at__isnull=True).update(
        acknowledged_at=now or timezone.now(), acknowledged_by=user, acknowledgement_note=note.strip()
    )
    if updated == 0:
        raise AcknowledgementError("This discrepancy has already closed.")
    discrepancy.refresh_from_db()
    return discrepancy


def hop_lag_budgets(*, connectors: Mapping[str, list[Connector]]) -> dict[str, dt.timedelta]:
    """Each hop's normal lag: LAG_BUDGET_POLLS × the longest poll interval of each downstream role, summed."""
    budgets = {}
    for hop, roles in HOP_DOWNSTREAM_ROLES.items():
        seconds = sum(max((c.poll_interval_seconds for c in connectors.get(role, [])), default=0) for role in roles)
        budgets[hop] = dt.timedelta(seconds=LAG_BUDGET_POLLS * seconds)
    return budgets


@dataclasses.dataclass
class _Tally:
    keys: int = 0
    opened: int = 0
    updated: int = 0
    closed: int = 0
    open_by_class: Counter[str] = dataclasses.field(default_factory=Counter)
    drifts: Counter[tuple[int, int, int]] = dataclasses.field(default_factory=Counter)


def reconciliation_run(
    *,
    keys: Iterable[tuple[int, str]] | None = None,
    now: dt.datetime | None = None,
    lag_budget: dt.timedelta | None = None,
) -> ReconciliationResult:
    """Open, update and close discrepancies on the given (location_id, sku) keys, or on every key when None.

    Idempotent: a discrepancy is upserted per (location, SKU, hop), so running again on the same
    data changes nothing. A hop where either system has no position for the key is not compared
    (an open discrepancy there stays as it is until both sides report again).
    """
    now = now or timezone.now()
    connectors = selectors.reconciliation_connector_list()
    budgets = hop_lag_budgets(connectors=connectors)
    if lag_budget is not None:
        budgets = dict.fromkeys(budgets, lag_budget)
    all_ids = [c.pk for role_connectors in connectors.values() for c in role_connectors]
    tally = _Tally()
    with transaction.atomic():
        if keys is None:
            # A whole location per batch: its positions in one query per role, without listing SKUs.
            scope: selectors.Scope = dict.fromkeys(selectors.reconciliation_location_ids(connector_ids=all_ids))
        else:
            scope = selectors.scope_from_keys(keys)
        if scope:
            excluded = selectors.wms_excluded_bin_map(connector_ids=[c.pk for c in connectors[Role.WMS]])
            rules = selectors.rules_in_force_by_location(at=now)
            for batch in selectors.scope_batches(scope, max_keys=BATCH_KEYS):
                _reconcile_batch(
                    scope=batch,
                    connectors=connectors,
                    excluded=excluded,
                    rules=rules,
                    budgets=budgets,
                    now=now,
                    tally=tally,
                )
    return ReconciliationResult(
        keys=tally.keys,
        opened=tally.opened,
        updated=tally.updated,
        closed=tally.closed,
        open_by_class=dict(sorted(tally.open_by_class.items())),
        rule_drifts=tuple(
            RuleDriftSummary(location_id=loc, effective_safety_stock=eff, hub_safety_stock=hub, skus=n)
            for (loc, eff, hub), n in sorted(tally.drifts.items())
        ),
        lag_budgets=budgets,
    )


def _reconcile_batch(
    *,
    scope: selectors.Scope,
    connectors: Mapping[str, list[Connector]],
    excluded: Mapping[tuple[int, int], frozenset[str]],
    rules: Mapping[int, tuple[RuleValues, ...]],
    budgets: Mapping[str, dt.timedelta],
    now: dt.datetime,
    tally: _Tally,
) -> None:
    observations = selectors.key_observation_map(
        scope=scope, connectors=connectors, excluded_bins=excluded, rules=rules
    )
    # Locked, so a concurrent run waits instead of updating the same rows from stale reads.
    open_now = {
        (d.location_id, d.sku, d.hop): d for d in selectors.discrepancy_open_list(scope=scope).select_for_update()
    }
    keys = set(observations) | {(location_id, sku) for location_id, sku, _ in open_now}
    to_create: list[Discrepancy] = []
    to_update: list[Discrepancy] = []
    to_close: list[Discrepancy] = []
    for key in sorted(keys):
        tally.keys += 1
        observation = observations.get(key)
        if observation is None:
            continue  # no system reports it any more: nothing to compare
        values = comparable.key_comparables(observation)
        drift = comparable.rule_drift(effective_safety_stock=values.storefront_safety_stock, rule=values.rule)
        if drift is not None:
            tally.drifts[(key[0], drift.effective_safety_stock, drift.hub_safety_stock)] += 1
        for hop in classify.HOPS:
            comparison = classify.hop_comparison(values, hop)
            if comparison is None:
                continue
            existing = open_now.get((key[0], key[1], hop))
            if comparison.gap == 0:
                if existing is not None:
                    existing.upstream_quantity = comparison.upstream
                    existing.downstream_quantity = comparison.downstream
                    # closed_at may not precede opened_at, even when called with an earlier `now`.
                    existing.closed_at = max(now, existing.opened_at)
                    to_close.append(existing)
                continue
            # A new gap is as old as the later of the two values that disagree (never in the future).
            opened_at = existing.opened_at if existing else min(now, comparison.since or now)
            classification = classify.discrepancy_classify(
                comparison=comparison, age=now - opened_at, lag_budget=budgets[hop]
            )
            if classification is None:  # unreachable: a non-zero gap always has a class
                continue
            tally.open_by_class[classification] += 1
            if existing is None:
                to_create.append(
                    Discrepancy(
                        location_id=key[0],
                        sku=key[1],
                        hop=hop,
                        classification=classification,
                        opened_at=opened_at,
                        upstream_quantity=comparison.upstream,
                        downstream_quantity=comparison.downstream,
                        peak_gap=abs(comparison.gap),
                    )
                )
                continue
            new = (
                classification,
                comparison.upstream,
                comparison.downstream,
                max(existing.peak_gap, abs(comparison.gap)),
            )
            if new != tuple(getattr(existing, name) for name in UPDATED_FIELDS):
                for name, value in zip(UPDATED_FIELDS, new, strict=True):
                    setattr(existing, name, value)
                to_update.append(existing)
    # A concurrent run may have opened the same key first: the partial unique constraint keeps
    # one, the conflicting insert is skipped, and the next run updates the survivor.
    Discrepancy.objects.bulk_create(to_create, batch_size=1000, ignore_conflicts=True)
    Discrepancy.objects.bulk_update(to_update, fields=list(UPDATED_FIELDS), batch_size=1000)
    Discrepancy.objects.bulk_update(
        to_close, fields=["closed_at", "upstream_quantity", "downstream_quantity"], batch_size=1000
    )
    tally.opened += len(to_create)
    tally.updated += len(to_update)
    tally.closed += len(to_close)


def _poll_run_keys(poll_run_id: int) -> list[tuple[int, str]]:
    return list(PositionChange.objects.filter(poll_run_id=poll_run_id).values_list("location_id", "sku").distinct())


def reconciliation_after_poll(*, poll_run_id: int, now: dt.datetime | None = None) -> ReconciliationResult:
    """Reconcile exactly the (location, SKU) keys one poll changed."""
    return reconciliation_run(keys=_poll_run_keys(poll_run_id), now=now)


# --- hop lags (issue 5 item 4) ------------------------------------------------------------------

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
    rules = selectors.rules_in_force_by_location(at=now)
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
        sources: dict[tuple[int, str], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
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
        for key in sorted(wms_rows):
            key_count += 1
            wms = _wms_series(wms_rows[key], excluded=excluded)
            erp = _plain_series(erp_rows.get(key, []), offsets=offsets)
            # A storefront that never listed the key has nothing to reflect there.
            storefronts = [
                _storefront_series(found[key], offsets=offsets) for found in storefront_rows.values() if key in found
            ]
            for sample in _key_samples(
                key=key,
                wms=wms,
                erp=erp if erp_ids else None,
                storefronts=storefronts,
                sources=sources.get(key, []),
                rules=rules.get(key[0], ()),
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
    totals: dict[int, tuple[int, int]] = {}
    excluded_on_hand: dict[tuple[int, str], int] = {}
    series: list[lineage.Reading] = []
    for changed_at, group in _groups(rows):
        stamps = []
        for connector_id, location_id, _sku, bin_name, on_hand, allocated, _available, as_of, _ in group:
            if not bin_name:
                totals[connector_id] = (on_hand, allocated)
            elif bin_name in excluded.get((connector_id, location_id), frozenset()):
                excluded_on_hand[(connector_id, bin_name)] = on_hand
            else:
                continue
            if as_of is not None:
                stamps.append(as_of)
        if not totals:
            continue
        all_bins = sum(on_hand - allocated for on_hand, allocated in totals.values())
        value = all_bins - sum(q for (connector_id, _), q in excluded_on_hand.items() if connector_id in totals)
        at = max(stamps) if stamps else changed_at
        series.append(lineage.Reading(at=at, value=value, alternatives=(all_bins,) if all_bins != value else ()))
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
    return _in_time_order(series)


def _in_time_order(series: list[lineage.Reading]) -> list[lineage.Reading]:
    return sorted(series, key=lambda reading: reading.at)


def _key_samples(
    *,
    key: tuple[int, str],
    wms: list[lineage.Reading],
    erp: list[lineage.Reading] | None,
    storefronts: list[list[lineage.Reading]],
    sources: list[tuple[dt.datetime, dt.datetime]],
    rules: tuple[RuleValues, ...],
    since: dt.datetime | None,
    look_back: dt.timedelta,
) -> list[HopLagSample]:
    """One sample per hop for each WMS change of one key since `since`."""
    accepts = lineage.atp_accepts(rules)
    erp_at: dict[int, lineage.Reflection] = {}
    erp_lineage: list[int | None] = []
    if erp is not None:
        erp_lineage = lineage.lineages(wms, erp, look_back=look_back)
        found = lineage.first_reflections(wms, erp, erp_lineage)
        reflections = [
            lineage.Reflection(changed_at=wms[i].at, reflected_at=at, method=lineage.VALUE_MATCH, upstream_index=i)
            for i, at in sorted(found.items())
        ]
        erp_at = {r.upstream_index: r for r in lineage.sources_preferred(reflections, sources)}
    per_storefront: list[dict[int, dt.datetime | None]] = []
    for series in storefronts:
        if erp is not None:
            through = lineage.chained_lineage(
                erp_lineage, lineage.lineages(erp, series, look_back=look_back, accepts=accepts)
            )
        else:
            through = lineage.lineages(wms, series, look_back=look_back, accepts=accepts)
        per_storefront.append(lineage.first_reflections(wms, series, through))
    samples = []
    for i in lineage.changes(wms):
        changed_at = wms[i].at
        if since is not None and changed_at < since:
            continue
        erp_reflection = erp_at.get(i)
        erp_time = erp_reflection.reflected_at if erp_reflection else None
        if erp is not None and erp_reflection is not None:
            samples.append(_sample(key, changed_at, Hop.WMS_ERP, erp_time, erp_reflection.method))
        if storefronts:
            # The change has reached "the storefront" once every storefront shows it.
            times = [found.get(i) for found in per_storefront]
            shown_at = None if any(t is None for t in times) else max(t for t in times if t is not None)
            samples.append(_sample(key, changed_at, Hop.WMS_STOREFRONT, shown_at, lineage.VALUE_MATCH))
            if erp is not None:
                samples.append(
                    _sample(key, changed_at, Hop.ERP_STOREFRONT, shown_at, lineage.VALUE_MATCH, lag_from=erp_time)
                )
    return samples


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
    return hop_lags_measure(keys=_poll_run_keys(poll_run_id), now=now)
