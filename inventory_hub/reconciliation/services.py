"""Writes about discrepancies: reconciliation opens, updates and closes them; people acknowledge them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone

from inventory_hub.connectors.models import Connector, Role
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import PositionChange
from inventory_hub.reconciliation import classify, comparable, selectors
from inventory_hub.reconciliation.models import Discrepancy

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
        location_ids = selectors.reconciliation_location_ids(connector_ids=all_ids) if keys is None else []
        scope = selectors.scope_from_keys(keys) if keys is not None else {}
        if location_ids or scope:
            excluded = selectors.wms_excluded_bin_map(connector_ids=[c.pk for c in connectors[Role.WMS]])
            rules = selectors.rules_in_force_by_location(at=now)
            batches: Iterable[selectors.Scope]
            if keys is None:
                batches = _sweep_batches(
                    location_ids=location_ids, connectors=connectors, excluded=excluded, rules=rules, tally=tally
                )
            else:
                batches = selectors.scope_batches(scope, max_keys=BATCH_KEYS)
            for batch in batches:
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


def _sweep_batches(
    *,
    location_ids: Iterable[int],
    connectors: Mapping[str, list[Connector]],
    excluded: Mapping[tuple[int, int], frozenset[str]],
    rules: Mapping[int, tuple[RuleValues, ...]],
    tally: _Tally,
) -> Iterator[selectors.Scope]:
    """The full sweep's batches: per location only the keys SQL cannot rule out; the rest only counted.

    Most keys agree most of the time; reading them into Python only to find nothing to do made
    the sweep ~20× slower than a SQL join of the same positions (benchmarks/reconcile.py).
    """
    for location_id in location_ids:
        candidates = selectors.sweep_candidate_list(
            location_id=location_id,
            connectors=connectors,
            excluded_bins=excluded,
            rules=rules.get(location_id, ()),
        )
        tally.keys += candidates.agreeing
        if candidates.skus:
            yield from selectors.scope_batches({location_id: candidates.skus}, max_keys=BATCH_KEYS)


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
    _discrepancies_update(to_update, fields=UPDATED_FIELDS)
    _discrepancies_update(to_close, fields=("closed_at", "upstream_quantity", "downstream_quantity"))
    tally.opened += len(to_create)
    tally.updated += len(to_update)
    tally.closed += len(to_close)


def _discrepancies_update(discrepancies: Sequence[Discrepancy], *, fields: Sequence[str]) -> None:
    """Save `fields` of each discrepancy: one UPDATE … FROM (VALUES …) per 1000 on PostgreSQL.

    Django's bulk_update builds a CASE WHEN per row and field (about 1 ms a row in Python, and a
    CASE the database searches per row): 10,000 closes took 7 s of an incremental run.
    """
    if connection.vendor != "postgresql":
        Discrepancy.objects.bulk_update(discrepancies, fields=list(fields), batch_size=1000)
        return
    meta = Discrepancy._meta
    pk = meta.get_field("id")
    columns = [meta.get_field(name) for name in fields]
    # Typed placeholders: a VALUES list does not take its column types from the table.
    row = "(" + ", ".join(f"%s::{field.cast_db_type(connection)}" for field in (pk, *columns)) + ")"
    names = ", ".join(connection.ops.quote_name(field.column) for field in (pk, *columns))
    assignments = ", ".join(
        f"{connection.ops.quote_name(f.column)} = v.{connection.ops.quote_name(f.column)}" for f in columns
    )
    table, key = connection.ops.quote_name(meta.db_table), connection.ops.quote_name(pk.column)
    with connection.cursor() as cursor:
        for start in range(0, len(discrepancies), 1000):
            chunk = discrepancies[start : start + 1000]
            params = [
                field.get_db_prep_save(getattr(d, field.attname), connection) for d in chunk for field in (pk, *columns)
            ]
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))}) AS v({names}) "  # noqa: S608 (names from _meta; values bound)
                f"WHERE t.{key} = v.{key}",
                params,
            )


def poll_run_keys(poll_run_id: int) -> list[tuple[int, str]]:
    return list(PositionChange.objects.filter(poll_run_id=poll_run_id).values_list("location_id", "sku").distinct())


def reconciliation_after_poll(*, poll_run_id: int, now: dt.datetime | None = None) -> ReconciliationResult:
    """Reconcile exactly the (location, SKU) keys one poll changed."""
    return reconciliation_run(keys=poll_run_keys(poll_run_id), now=now)
