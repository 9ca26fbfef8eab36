"""What reconciliation must write for each (location, SKU), decided in SQL: the set-based twin of the per-key path.

The per-key path (services._reconcile_batch) reads a key's positions into Python, computes its
comparables (comparable.key_comparables), compares each hop (classify.hop_comparison) and opens,
updates or closes discrepancies. Most keys need nothing on most runs, so reading every key into
Python made the full sweep ~4× slower than a SQL join of the same positions, and an incremental
run paid the same per-key cost on each changed key (benchmarks/reconcile.py). Here one statement
per group of locations sharing their rules and excluded bins computes the same numbers per key,
compares them with the key's open discrepancies and returns only

- the writes (open, update, close, with their values) of the keys that need any, or, asked to
  apply them, applies them itself with the writer's statements (PostgreSQL, statements given the
  keys: see key_verdict_list) and returns how many;
- counts of everything else (keys, open discrepancies per class, rule drifts): all a run reports;
- the keys SQL cannot decide exactly, for the per-key path: several storefronts that disagree (the
  per-key path lets the one furthest from the expected ATP speak, ties in row order), a new
  discrepancy dated by one of several storefronts that changed at different times, or a WMS that
  reports bins of a key but no location total.

Exact, not approximate: for every key it decides, the outcome is the per-key path's. The
arithmetic is comparable.py's and the order of explanations classify.py's, written in SQL; ages
are compared with thresholds computed in Python (`opened_at >= now − budget` ⇔ `age <= budget`),
so no date arithmetic differs between databases. tests/reconciliation/test_sweep_candidates.py
compares both paths on random data. The SQL itself is in verdict_sql.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.db import connection
from django.utils.dateparse import parse_datetime

from inventory_hub.connectors.models import Connector, Role
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.reconciliation.comparable import HUB_DEFAULT_RULE
from inventory_hub.reconciliation.verdict_sql import (
    CLASSES,
    CLOSE,
    CREATE,
    HOP_COLUMNS,
    UPDATE,
    Key,
    Scope,
    Signature,
    statement,
)

__all__ = ["CLOSE", "CREATE", "UPDATE", "DiscrepancyWrite", "Key", "KeyVerdicts", "key_verdict_list"]

# Keys per statement in an incremental run: bounds the statement's size, not its cost.
MAX_KEYS = 20_000


@dataclasses.dataclass(frozen=True, slots=True)
class DiscrepancyWrite:
    """One write of a run: open a discrepancy, update an open one's values, or close it."""

    action: str  # CREATE, UPDATE or CLOSE
    location_id: int
    sku: str
    hop: str
    upstream: int
    downstream: int
    discrepancy_id: int | None = None  # the open one (UPDATE, CLOSE)
    classification: str | None = None  # CREATE, UPDATE
    peak_gap: int | None = None  # CREATE, UPDATE
    opened_at: dt.datetime | None = None  # CREATE


@dataclasses.dataclass
class KeyVerdicts:
    """A run's writes and counts for the keys SQL decided, and the keys left to the per-key path."""

    writes: list[DiscrepancyWrite] = dataclasses.field(default_factory=list)
    # Writes the statements applied themselves (apply_writes), per action: opened, updated, closed.
    applied: Counter[str] = dataclasses.field(default_factory=Counter)
    per_key: list[Key] = dataclasses.field(default_factory=list)
    keys: int = 0
    open_by_class: Counter[str] = dataclasses.field(default_factory=Counter)
    drifts: Counter[tuple[int, int, int]] = dataclasses.field(default_factory=Counter)


def key_verdict_list(
    *,
    keys: Iterable[Key] | None,
    connectors: Mapping[str, list[Connector]],
    excluded_bins: Mapping[tuple[int, int], frozenset[str]],
    rules: Mapping[int, tuple[RuleValues, ...]],
    budgets: Mapping[str, dt.timedelta],
    now: dt.datetime,
    apply_writes: bool = False,
) -> KeyVerdicts:
    """The writes and counts of reconciling `keys` (every key when None), one statement per group of locations.

    Every location in a group has the same rules and excluded bins, which the statement carries as
    literals; a sweep of a retailer whose locations share them is a single pass over the positions.
    The sweep leaves out when each value changed (three more aggregates over every position), which
    only dates a new discrepancy: keys that need one are decided again, with the times, on their own.

    With apply_writes, on PostgreSQL, a statement given the keys (an incremental run, or the sweep's
    keys decided again) applies its writes itself, with the statements of services' writer, and
    only counts them in `applied`: no write comes into Python and goes back. (An incremental run of
    10,000 changed keys spent a third of its time building, parsing and binding its writes.) Sweep
    statements, which stream every key, and SQLite, which has no INSERT in a WITH, list them.
    """
    wms_ids = [c.pk for c in connectors.get(Role.WMS, [])]
    default = _signature(0, rules={}, excluded_bins={}, wms_ids=wms_ids)
    verdicts = KeyVerdicts()
    if keys is None:
        special: dict[Signature, list[int]] = defaultdict(list)
        for location_id in sorted(set(rules) | {loc for (c, loc) in excluded_bins if c in wms_ids}):
            signature = _signature(location_id, rules=rules, excluded_bins=excluded_bins, wms_ids=wms_ids)
            if signature != default:
                special[signature].append(location_id)
        others = sorted(loc for locations in special.values() for loc in locations)
        scopes: list[tuple[Signature, Scope]] = [(default, Scope(not_in=others))]
        scopes += [(signature, Scope(in_=locations)) for signature, locations in special.items()]
    else:
        grouped: dict[Signature, list[Key]] = defaultdict(list)
        by_location: dict[int, Signature] = {}
        for key in sorted(set(keys)):
            if key[0] not in by_location:
                by_location[key[0]] = _signature(key[0], rules=rules, excluded_bins=excluded_bins, wms_ids=wms_ids)
            grouped[by_location[key[0]]].append(key)
        scopes = [
            (signature, Scope(keys=group[start : start + MAX_KEYS]))
            for signature, group in grouped.items()
            for start in range(0, len(group), MAX_KEYS)
        ]
    recheck: list[Key] = []
    timed = keys is not None
    with _serial_plans():
        for signature, scope in scopes:
            sql, params = statement(
                signature=signature,
                scope=scope,
                connectors=connectors,
                budgets=budgets,
                now=now,
                timed=timed,
                apply_writes=apply_writes and timed and connection.vendor == "postgresql",
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                _collect(cursor.fetchall(), verdicts, recheck=recheck)
    if recheck:
        again = key_verdict_list(
            keys=recheck,
            connectors=connectors,
            excluded_bins=excluded_bins,
            rules=rules,
            budgets=budgets,
            now=now,
            apply_writes=apply_writes,
        )
        verdicts.writes += again.writes
        verdicts.applied.update(again.applied)
        verdicts.per_key += again.per_key
        verdicts.keys += again.keys
        verdicts.open_by_class.update(again.open_by_class)
        verdicts.drifts.update(again.drifts)
    return verdicts


@contextlib.contextmanager
def _serial_plans() -> Iterator[None]:
    """Plan the statements without parallel workers (PostgreSQL), as before afterwards.

    Workers can only share the first level (summing positions per key), and must hand their keys
    back in order to the leader, which does the rest: the sweep took 2.6 s with two workers, 2.1 s
    without (benchmarks/reconcile.py, 1M keys on two cores).
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_parallel_workers_per_gather'),"
            " set_config('max_parallel_workers_per_gather', '0', true)"
        )
        (previous, _) = cursor.fetchone()
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('max_parallel_workers_per_gather', %s, true)", [previous])


def _signature(
    location_id: int,
    *,
    rules: Mapping[int, tuple[RuleValues, ...]],
    excluded_bins: Mapping[tuple[int, int], frozenset[str]],
    wms_ids: Sequence[int],
) -> Signature:
    # Rules equal in all three terms are one rule to governing_rule: the first of equals wins.
    terms = dict.fromkeys(
        (r.safety_stock, r.pickup_reservation, r.channel_share_percent) for r in rules.get(location_id) or ()
    )
    bins = tuple(
        (connector_id, tuple(sorted(excluded_bins[(connector_id, location_id)])))
        for connector_id in wms_ids
        if excluded_bins.get((connector_id, location_id))
    )
    default = (
        HUB_DEFAULT_RULE.safety_stock,
        HUB_DEFAULT_RULE.pickup_reservation,
        HUB_DEFAULT_RULE.channel_share_percent,
    )
    return tuple(terms) or (default,), bins


def _collect(rows: Iterable[Sequence[Any]], verdicts: KeyVerdicts, *, recheck: list[Key]) -> None:
    """Fold one statement's rows into the verdicts.

    Per location: decided keys, keys with an open discrepancy, open discrepancies per class, the
    discrepancies the statement opened, updated and closed itself (apply_writes), and a JSON list
    of the keys to write, left to the per-key path, or with a rule drift: [sku, undecided, drift
    safety stock, hub safety stock, then (unless the statement applied them) per hop action, open
    discrepancy id, class, upstream, downstream, open peak gap, opened_at if new]. Last, with
    location None, the number of open keys.
    """
    open_keys = with_open = 0
    for location_id, decided, matched, *counts, opened, updated, closed, listed in rows:
        if location_id is None:
            open_keys += decided
            continue
        verdicts.keys += decided
        with_open += matched
        for name, count in zip(CLASSES, counts, strict=True):
            if count:
                verdicts.open_by_class[name] += count
        for action, count in ((CREATE, opened), (UPDATE, updated), (CLOSE, closed)):
            if count:
                verdicts.applied[action] += count
        listed_rows = json.loads(listed) if isinstance(listed, str) else listed or ()
        for sku, undecided, drift_ss, hub_ss, *per_hop in listed_rows:
            if undecided:
                (verdicts.per_key if undecided == 1 else recheck).append((location_id, sku))
                continue
            if drift_ss is not None:
                verdicts.drifts[(location_id, drift_ss, hub_ss)] += 1
            if not per_hop:  # applied by the statement
                continue
            for hop, start in zip(HOP_COLUMNS, range(0, len(per_hop), 7), strict=True):
                if per_hop[start] is not None:
                    verdicts.writes.append(_write((location_id, sku), hop, per_hop[start : start + 7]))
    # Open discrepancies of keys no enabled system reports any more: the per-key path counts them too.
    verdicts.keys += open_keys - with_open


def _write(key: Key, hop: str, values: Sequence[Any]) -> DiscrepancyWrite:
    """One hop's write from its listed values (see _collect)."""
    action, pk, classification, upstream, downstream, open_peak, opened_at = values
    common = {"action": action, "location_id": key[0], "sku": key[1], "hop": hop}
    gap = abs(downstream - upstream)
    if action == CREATE:
        return DiscrepancyWrite(
            **common,
            upstream=upstream,
            downstream=downstream,
            classification=classification,
            peak_gap=gap,
            opened_at=_python_datetime(opened_at),
        )
    if action == UPDATE:
        return DiscrepancyWrite(
            **common,
            upstream=upstream,
            downstream=downstream,
            discrepancy_id=pk,
            classification=classification,
            peak_gap=max(open_peak, gap),
        )
    return DiscrepancyWrite(**common, upstream=upstream, downstream=downstream, discrepancy_id=pk)


def _python_datetime(value: Any) -> dt.datetime:
    """A datetime a raw query returned (SQLite: stored text, naive UTC)."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"Not a datetime: {value!r}")
        value = parsed
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
