"""Writes about discrepancies: reconciliation opens, updates and closes them; people acknowledge them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone

from inventory_hub.connectors.models import Connector, Role
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import PositionChange
from inventory_hub.reconciliation import classify, comparable, selectors, verdicts
from inventory_hub.reconciliation.models import Discrepancy
from inventory_hub.reconciliation.verdict_sql import discrepancy_write_sql
from inventory_hub.reconciliation.verdicts import DiscrepancyWrite

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
# Rows per write statement (bound as one JSON string).
WRITE_ROWS = 10_000
UPDATED_FIELDS = ("classification", "upstream_quantity", "downstream_quantity", "peak_gap")
# The writer's rows (verdict_sql.discrepancy_write_sql) from the JSON list bound as %(rows)s.
JSON_ROWS = {
    verdicts.CREATE: "(SELECT (v->>0)::bigint AS location_id, v->>1 AS sku, v->>2 AS hop, v->>3 AS cls,"
    " (v->>4)::timestamptz AS opened, (v->>5)::int AS u, (v->>6)::int AS d, (v->>7)::int AS peak"
    " FROM json_array_elements(%(rows)s::json) AS v) AS w",
    verdicts.UPDATE: "(SELECT (v->>0)::bigint AS id, v->>1 AS cls, (v->>2)::int AS u, (v->>3)::int AS d,"
    " (v->>4)::int AS peak FROM json_array_elements(%(rows)s::json) AS v) AS w",
    verdicts.CLOSE: "(SELECT (v->>0)::bigint AS id, (v->>1)::int AS u, (v->>2)::int AS d"
    " FROM json_array_elements(%(rows)s::json) AS v) AS w",
}


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

    SQL decides what each key needs (verdicts.py) and only the writes come back to Python (on
    PostgreSQL, an incremental run's statements apply them themselves); the few keys SQL cannot
    decide exactly go through the per-key path, which gives the same results.
    """
    return _reconciliation_run(keys=keys, now=now, lag_budget=lag_budget, in_sql=True)


def _reconciliation_run(
    *,
    keys: Iterable[tuple[int, str]] | None,
    now: dt.datetime | None,
    lag_budget: dt.timedelta | None,
    in_sql: bool,
) -> ReconciliationResult:
    """reconciliation_run, deciding in SQL or (in_sql=False, the reference the tests compare with) per key in Python."""
    now = now or timezone.now()
    connectors = selectors.reconciliation_connector_list()
    budgets = hop_lag_budgets(connectors=connectors)
    if lag_budget is not None:
        budgets = dict.fromkeys(budgets, lag_budget)
    key_list = None if keys is None else list(keys)
    tally = _Tally()
    with transaction.atomic():
        if key_list == []:
            pass  # a poll that changed nothing
        elif in_sql:
            _reconcile_in_sql(keys=key_list, connectors=connectors, budgets=budgets, now=now, tally=tally)
        else:
            if key_list is None:
                all_ids = [c.pk for role_connectors in connectors.values() for c in role_connectors]
                scope: selectors.Scope = dict.fromkeys(selectors.reconciliation_location_ids(connector_ids=all_ids))
            else:
                scope = selectors.scope_from_keys(key_list)
            _reconcile_per_key(scope=scope, connectors=connectors, budgets=budgets, now=now, tally=tally)
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


def _reconcile_in_sql(
    *,
    keys: list[tuple[int, str]] | None,
    connectors: Mapping[str, list[Connector]],
    budgets: Mapping[str, dt.timedelta],
    now: dt.datetime,
    tally: _Tally,
) -> None:
    excluded = selectors.wms_excluded_bin_map(connector_ids=[c.pk for c in connectors[Role.WMS]])
    rules = selectors.rules_in_force_by_location(at=now)
    found = verdicts.key_verdict_list(
        keys=keys,
        connectors=connectors,
        excluded_bins=excluded,
        rules=rules,
        budgets=budgets,
        now=now,
        apply_writes=True,
    )
    tally.opened += found.applied[verdicts.CREATE]
    tally.updated += found.applied[verdicts.UPDATE]
    tally.closed += found.applied[verdicts.CLOSE]
    tally.keys += found.keys
    tally.open_by_class.update(found.open_by_class)
    tally.drifts.update(found.drifts)
    _discrepancies_write(found.writes, now=now, tally=tally)
    if found.per_key:
        _reconcile_per_key(
            scope=selectors.scope_from_keys(found.per_key),
            connectors=connectors,
            budgets=budgets,
            now=now,
            tally=tally,
            excluded=excluded,
            rules=rules,
        )


def _reconcile_per_key(
    *,
    scope: selectors.Scope,
    connectors: Mapping[str, list[Connector]],
    budgets: Mapping[str, dt.timedelta],
    now: dt.datetime,
    tally: _Tally,
    excluded: Mapping[tuple[int, int], frozenset[str]] | None = None,
    rules: Mapping[int, tuple[RuleValues, ...]] | None = None,
) -> None:
    if not scope:
        return
    if excluded is None:
        excluded = selectors.wms_excluded_bin_map(connector_ids=[c.pk for c in connectors[Role.WMS]])
    if rules is None:
        rules = selectors.rules_in_force_by_location(at=now)
    for batch in selectors.scope_batches(scope, max_keys=BATCH_KEYS):
        writes = _reconcile_batch(
            scope=batch, connectors=connectors, excluded=excluded, rules=rules, budgets=budgets, now=now, tally=tally
        )
        _discrepancies_write(writes, now=now, tally=tally)


def _reconcile_batch(
    *,
    scope: selectors.Scope,
    connectors: Mapping[str, list[Connector]],
    excluded: Mapping[tuple[int, int], frozenset[str]],
    rules: Mapping[int, tuple[RuleValues, ...]],
    budgets: Mapping[str, dt.timedelta],
    now: dt.datetime,
    tally: _Tally,
) -> list[DiscrepancyWrite]:
    """The per-key path: each key's comparables in Python (comparable.py, classify.py) and the writes they call for."""
    observations = selectors.key_observation_map(
        scope=scope, connectors=connectors, excluded_bins=excluded, rules=rules
    )
    # Locked, so a concurrent run waits instead of updating the same rows from stale reads.
    open_now = {
        (d.location_id, d.sku, d.hop): d for d in selectors.discrepancy_open_list(scope=scope).select_for_update()
    }
    keys = set(observations) | {(location_id, sku) for location_id, sku, _ in open_now}
    writes: list[DiscrepancyWrite] = []
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
            pair = {"location_id": key[0], "sku": key[1], "hop": hop}
            if comparison.gap == 0:
                if existing is not None:
                    writes.append(
                        DiscrepancyWrite(
                            action=verdicts.CLOSE,
                            **pair,
                            upstream=comparison.upstream,
                            downstream=comparison.downstream,
                            discrepancy_id=existing.pk,
                        )
                    )
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
                writes.append(
                    DiscrepancyWrite(
                        action=verdicts.CREATE,
                        **pair,
                        upstream=comparison.upstream,
                        downstream=comparison.downstream,
                        classification=classification,
                        peak_gap=abs(comparison.gap),
                        opened_at=opened_at,
                    )
                )
                continue
            peak_gap = max(existing.peak_gap, abs(comparison.gap))
            new = (classification, comparison.upstream, comparison.downstream, peak_gap)
            if new != tuple(getattr(existing, name) for name in UPDATED_FIELDS):
                writes.append(
                    DiscrepancyWrite(
                        action=verdicts.UPDATE,
                        **pair,
                        upstream=comparison.upstream,
                        downstream=comparison.downstream,
                        discrepancy_id=existing.pk,
                        classification=classification,
                        peak_gap=peak_gap,
                    )
                )
    return writes


def _discrepancies_write(writes: Sequence[DiscrepancyWrite], *, now: dt.datetime, tally: _Tally) -> None:
    """Apply a run's writes: set-based on PostgreSQL (one statement per action and 10,000 rows).

    The statements are verdict_sql.discrepancy_write_sql's, with their guards for a concurrent run,
    over rows bound as one JSON string each (the driver quotes an array element by element in Python).
    """
    by_action: dict[str, list[DiscrepancyWrite]] = {verdicts.CREATE: [], verdicts.UPDATE: [], verdicts.CLOSE: []}
    for write in writes:
        by_action[write.action].append(write)
    creates, updates, closes = by_action[verdicts.CREATE], by_action[verdicts.UPDATE], by_action[verdicts.CLOSE]
    # In id order, so two runs writing the same rows lock them in the same order (no deadlock).
    updates.sort(key=lambda w: w.discrepancy_id or 0)
    closes.sort(key=lambda w: w.discrepancy_id or 0)
    tally.opened += len(creates)
    tally.updated += len(updates)
    tally.closed += len(closes)
    if connection.vendor == "sqlite":
        _discrepancies_write_rows(creates, updates, closes, now=now)
        return
    rows_of = {
        verdicts.CREATE: lambda w: [
            w.location_id,
            w.sku,
            w.hop,
            w.classification,
            w.opened_at.isoformat() if w.opened_at else None,  # never None: the insert would fail
            w.upstream,
            w.downstream,
            w.peak_gap,
        ],
        verdicts.UPDATE: lambda w: [w.discrepancy_id, w.classification, w.upstream, w.downstream, w.peak_gap],
        verdicts.CLOSE: lambda w: [w.discrepancy_id, w.upstream, w.downstream],
    }
    with connection.cursor() as cursor:
        for action, action_writes in by_action.items():
            sql = discrepancy_write_sql(action, JSON_ROWS[action])
            for start in range(0, len(action_writes), WRITE_ROWS):
                rows = [rows_of[action](w) for w in action_writes[start : start + WRITE_ROWS]]
                cursor.execute(sql, {"rows": json.dumps(rows), "now": now})


def _discrepancies_write_rows(
    creates: Sequence[DiscrepancyWrite],
    updates: Sequence[DiscrepancyWrite],
    closes: Sequence[DiscrepancyWrite],
    *,
    now: dt.datetime,
) -> None:
    """_discrepancies_write for SQLite (the embedded default): one statement run for many rows, same guards."""
    Discrepancy.objects.bulk_create(
        [
            Discrepancy(
                location_id=w.location_id,
                sku=w.sku,
                hop=w.hop,
                classification=w.classification,
                opened_at=w.opened_at,
                upstream_quantity=w.upstream,
                downstream_quantity=w.downstream,
                peak_gap=w.peak_gap,
            )
            for w in creates
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    table = connection.ops.quote_name(Discrepancy._meta.db_table)
    closed_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        # SQLite's two-argument MAX() is GREATEST().
        cursor.executemany(
            f"UPDATE {table} SET classification = %s, upstream_quantity = %s, downstream_quantity = %s,"  # noqa: S608
            " peak_gap = MAX(peak_gap, %s) WHERE id = %s AND closed_at IS NULL",
            [(w.classification, w.upstream, w.downstream, w.peak_gap, w.discrepancy_id) for w in updates],
        )
        cursor.executemany(
            f"UPDATE {table} SET closed_at = MAX(opened_at, %s), upstream_quantity = %s,"  # noqa: S608
            " downstream_quantity = %s WHERE id = %s AND closed_at IS NULL",
            [(closed_at, w.upstream, w.downstream, w.discrepancy_id) for w in closes],
        )


def poll_run_keys(poll_run_id: int) -> list[tuple[int, str]]:
    return list(PositionChange.objects.filter(poll_run_id=poll_run_id).values_list("location_id", "sku").distinct())


def reconciliation_after_poll(*, poll_run_id: int, now: dt.datetime | None = None) -> ReconciliationResult:
    """Reconcile exactly the (location, SKU) keys one poll changed."""
    return reconciliation_run(keys=poll_run_keys(poll_run_id), now=now)
