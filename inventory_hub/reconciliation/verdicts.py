"""What reconciliation must write for each (location, SKU), decided in SQL: the set-based twin of the per-key path.

The per-key path (services._reconcile_batch) reads a key's positions into Python, computes its
comparables (comparable.key_comparables), compares each hop (classify.hop_comparison) and opens,
updates or closes discrepancies. Most keys need nothing on most runs, so reading every key into
Python made the full sweep ~4× slower than a SQL join of the same positions, and an incremental
run paid the same per-key cost on each changed key (benchmarks/reconcile.py). Here one statement
per group of locations sharing their rules and excluded bins computes the same numbers per key,
compares them with the key's open discrepancies and returns only

- the writes (open, update, close, with their values) of the keys that need any;
- counts of everything else (keys, open discrepancies per class, rule drifts): all a run reports;
- the keys SQL cannot decide exactly, for the per-key path: several storefronts that disagree (the
  per-key path lets the one furthest from the expected ATP speak, ties in row order), a new
  discrepancy dated by one of several storefronts that changed at different times, or a WMS that
  reports bins of a key but no location total.

Exact, not approximate: for every key it decides, the outcome is the per-key path's. The
arithmetic is comparable.py's and the order of explanations classify.py's, written in SQL; ages
are compared with thresholds computed in Python (`opened_at >= now − budget` ⇔ `age <= budget`),
so no date arithmetic differs between databases. tests/reconciliation/test_sweep_candidates.py
compares both paths on random data.
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
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import classify
from inventory_hub.reconciliation.comparable import HUB_DEFAULT_RULE
from inventory_hub.reconciliation.models import Discrepancy

Key = tuple[int, str]
# (safety stock, pickup reservation, channel share): all of a rule that comparables depend on.
RuleTerms = tuple[int, int, int]
# A location's rules (in the order governing_rule breaks ties) and its WMS excluded bins.
Signature = tuple[tuple[RuleTerms, ...], tuple[tuple[int, tuple[str, ...]], ...]]

CREATE, UPDATE, CLOSE = "create", "update", "close"
# Keys per statement in an incremental run: bounds the statement's size, not its cost.
MAX_KEYS = 20_000
HOP_COLUMNS = {hop: f"h{n}" for n, hop in enumerate(classify.HOPS, start=1)}
CLASSES = (classify.IN_FLIGHT, classify.STALE, classify.BOUNDARY, classify.RULE, classify.DRIFT)


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
) -> KeyVerdicts:
    """The writes and counts of reconciling `keys` (every key when None), one statement per group of locations.

    Every location in a group has the same rules and excluded bins, which the statement carries as
    literals; a sweep of a retailer whose locations share them is a single pass over the positions.
    The sweep leaves out when each value changed (three more aggregates over every position), which
    only dates a new discrepancy: keys that need one are decided again, with the times, on their own.
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
        scopes: list[tuple[Signature, _Scope]] = [(default, _Scope(not_in=others))]
        scopes += [(signature, _Scope(in_=locations)) for signature, locations in special.items()]
    else:
        grouped: dict[Signature, list[Key]] = defaultdict(list)
        for key in sorted(set(keys)):
            grouped[_signature(key[0], rules=rules, excluded_bins=excluded_bins, wms_ids=wms_ids)].append(key)
        scopes = [
            (signature, _Scope(keys=group[start : start + MAX_KEYS]))
            for signature, group in grouped.items()
            for start in range(0, len(group), MAX_KEYS)
        ]
    recheck: list[Key] = []
    with _serial_plans():
        for signature, scope in scopes:
            sql, params = _statement(
                signature=signature,
                scope=scope,
                connectors=connectors,
                budgets=budgets,
                now=now,
                timed=keys is not None,
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                _collect(cursor.fetchall(), verdicts, recheck=recheck)
    if recheck:
        timed = key_verdict_list(
            keys=recheck, connectors=connectors, excluded_bins=excluded_bins, rules=rules, budgets=budgets, now=now
        )
        verdicts.writes += timed.writes
        verdicts.per_key += timed.per_key
        verdicts.keys += timed.keys
        verdicts.open_by_class.update(timed.open_by_class)
        verdicts.drifts.update(timed.drifts)
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


@dataclasses.dataclass(frozen=True, slots=True)
class _Scope:
    """Which keys one statement reads: the given keys, or every key of some locations."""

    keys: Sequence[Key] | None = None
    in_: Sequence[int] | None = None
    not_in: Sequence[int] | None = None


def _ids(column: str, ids: Iterable[int]) -> str:
    """`column IN (…)` with int literals (each appears several times in the statement)."""
    literals = ", ".join(str(int(pk)) for pk in ids)
    return f"{column} IN ({literals})" if literals else "1 = 0"


def _atp(comparable: str, terms: RuleTerms, safety_stock: str | None = None) -> str:
    """comparable.expected_atp in SQL. Division truncates where Python floors: the two differ only
    below zero, which the clamp to zero removes alike."""
    ss, pickup, share = terms
    held_back = " ".join(f"- {term}" for term in (safety_stock or ss, pickup) if term not in (0, "0"))
    promisable = f"({comparable} {held_back})" if held_back else comparable
    if share != 100:
        promisable = f"({promisable} * {share} / 100)"
    return f"(CASE WHEN {promisable} > 0 THEN {promisable} ELSE 0 END)"


class _Rules:
    """SQL for the governing rule's terms: literals for one rule, a CASE on the `gov` column for several."""

    def __init__(self, terms: tuple[RuleTerms, ...]) -> None:
        self.terms = terms

    def governing(self, base: str) -> str:
        """comparable.governing_rule: the (1-based) rule promising the most from `base`, the first of equals."""
        if len(self.terms) == 1:
            return "1"
        atps = [_atp(base, t) for t in self.terms]
        whens = [
            f"WHEN {' AND '.join(f'{atps[i]} >= {later}' for later in atps[i + 1 :])} THEN {i + 1}"
            for i in range(len(atps) - 1)
        ]
        return f"(CASE {' '.join(whens)} ELSE {len(atps)} END)"

    def _pick(self, build: Any) -> str:
        if len(self.terms) == 1:
            return build(self.terms[0])
        return "(CASE gov " + " ".join(f"WHEN {i} THEN {build(t)}" for i, t in enumerate(self.terms, 1)) + " END)"

    def atp(self, comparable: str, safety_stock: str | None = None) -> str:
        return self._pick(lambda t: _atp(comparable, t, safety_stock))

    def safety_stock(self) -> str:
        return self._pick(lambda t: str(t[0]))


def _statement(
    *,
    signature: Signature,
    scope: _Scope,
    connectors: Mapping[str, list[Connector]],
    budgets: Mapping[str, dt.timedelta],
    now: dt.datetime,
    timed: bool,
) -> tuple[str, dict[str, Any]]:
    """One SELECT: a row per location (counts, and the keys to write or leave to the per-key path
    as a JSON list), and a last row with the number of open keys (see _collect).

    Levels, each evaluated once per key: the positions summed per key, with the key's open
    discrepancies (one row per key) → its comparables (→ its governing rule, with several) →
    each hop's numbers, class and write → per location. On PostgreSQL positions and open
    discrepancies come in (location, SKU) order from their indexes and are merge-joined: the
    statement streams, with no sort and no hash table per key. Every key passes every level, so
    each level is kept to what the next one reads.
    Untimed, the statement reads no changed_at and lists a key that needs a new discrepancy (which
    it would date) for a timed statement, marked undecided = 2.
    """
    rule_terms, excluded = signature
    rules = _Rules(rule_terms)
    postgresql = connection.vendor == "postgresql"
    wms_ids = [c.pk for c in connectors.get(Role.WMS, [])]
    storefront_ids = [c.pk for c in connectors.get(Role.STOREFRONT, [])]
    is_wms = _ids("p.connector_id", wms_ids)
    is_erp = _ids("p.connector_id", [c.pk for c in connectors.get(Role.ERP, [])])
    is_sf = _ids("p.connector_id", storefront_ids)
    all_ids = _ids("p.connector_id", [c.pk for role in connectors.values() for c in role])
    params: dict[str, Any] = {"now": _db_datetime(now)}
    for hop, h in HOP_COLUMNS.items():
        params[f"{h}_in_flight"] = _db_datetime(now - budgets[hop])
        params[f"{h}_drift"] = _db_datetime(now - budgets[hop] * classify.DRIFT_BUDGETS)
    hs = list(HOP_COLUMNS.values())

    def each(template: str, hops: Sequence[str] = hs, sep: str = ",\n") -> str:
        return sep.join(template.format(h=h) for h in hops)

    # --- the positions of each key: a SUM over no row is NULL, so "no position" needs no count.
    wms_total, sf_total = f"{is_wms} AND p.bin = ''", f"{is_sf} AND p.bin = ''"
    held = "CASE WHEN p.on_hand - p.allocated - p.available > 0 THEN p.on_hand - p.allocated - p.available ELSE 0 END"
    sums = [
        f"SUM(CASE WHEN {wms_total} THEN p.on_hand - p.allocated END) AS wms_all",
        f"SUM(CASE WHEN {is_erp} AND p.bin = '' THEN p.on_hand - p.allocated END) AS erp",
        f"MAX(CASE WHEN {sf_total} THEN p.available END) AS shown",
        f"MAX(CASE WHEN {sf_total} THEN {held} END) AS held",
    ]
    if timed:
        sums.append(f"MAX(CASE WHEN {is_wms} THEN p.changed_at END) AS wms_at")
        sums.append(f"MAX(CASE WHEN {is_erp} AND p.bin = '' THEN p.changed_at END) AS erp_at")
        sums.append(f"MAX(CASE WHEN {sf_total} THEN p.changed_at END) AS sf_at")
    excluded_whens = []
    for n, (connector_id, bins) in enumerate(excluded):
        names = ", ".join(f"%(bin_{n}_{i})s" for i in range(len(bins)))
        params.update({f"bin_{n}_{i}": name for i, name in enumerate(bins)})
        excluded_whens.append(f"WHEN p.connector_id = {int(connector_id)} AND p.bin IN ({names}) THEN p.on_hand")
    if excluded_whens:
        sums.append(f"SUM(CASE {' '.join(excluded_whens)} ELSE 0 END) AS wms_excluded")
    # The per-key path ignores every row of a WMS that has no location total for the key. Summed
    # here, its bins would count as excluded on hand, or date the key: such keys are left to it.
    # Untimed and with no excluded bins, its bins change nothing, and nothing needs telling.
    bins_without_total = "1 = 0"
    if timed or excluded_whens:
        if len(wms_ids) > 1:
            sums.append(f"SUM(CASE WHEN {wms_total} THEN 1 ELSE 0 END) AS wms_totals")
            connectors_with_rows = " + ".join(
                f"MAX(CASE WHEN p.connector_id = {int(c)} THEN 1 ELSE 0 END)" for c in wms_ids
            )
            sums.append(f"{connectors_with_rows} AS wms_connectors")
            bins_without_total = "k.wms_connectors <> k.wms_totals"
        else:
            if not timed:
                sums.append(f"MAX(CASE WHEN {is_wms} THEN 1 END) AS wms_at")
            bins_without_total = "k.wms_at IS NOT NULL AND k.wms_all IS NULL"
    # Several storefronts: decided here only when they all show the same and hold back the same.
    storefronts_differ = "1 = 0"
    storefront_times_differ = "1 = 0"
    if len(storefront_ids) > 1:
        sums += [
            f"MIN(CASE WHEN {sf_total} THEN p.available END) AS shown_min",
            f"MIN(CASE WHEN {sf_total} THEN {held} END) AS held_min",
        ]
        storefronts_differ = "k.shown_min <> k.shown OR (k.shown > 0 AND k.held_min <> k.held)"
        if timed:
            sums.append(f"MIN(CASE WHEN {sf_total} THEN p.changed_at END) AS sf_at_min")
            storefront_times_differ = "k.sf_at_min <> k.sf_at"

    positions = InventoryPosition._meta.db_table
    discrepancies = Discrepancy._meta.db_table
    key_cte, key_join = "", ""
    if scope.keys is not None:
        key_cte = f"WITH {_keys_cte(scope.keys, params)}"
        key_join = "JOIN scope_keys s ON s.location_id = {t}.location_id AND s.sku = {t}.sku"
    location_where = ""
    if scope.in_ is not None:
        location_where = f"AND {_ids('{t}.location_id', scope.in_)}"
    elif scope.not_in:
        location_where = f"AND NOT {_ids('{t}.location_id', scope.not_in)}"
    # Without the fence both databases would inline a level into the next, evaluating an
    # expression again wherever it is referenced.
    fence = "OFFSET 0" if postgresql else "LIMIT -1 OFFSET 0"

    open_fields = {"id": "id", "cls": "classification", "up": "upstream_quantity", "down": "downstream_quantity"}
    open_fields |= {"peak": "peak_gap", "opened": "opened_at"}
    open_pivot = ",\n".join(
        f"MAX(CASE WHEN d.hop = '{hop}' THEN d.{column} END) AS {h}_{name}"
        for hop, h in HOP_COLUMNS.items()
        for name, column in open_fields.items()
    )
    open_columns = ", ".join(f"o.{h}_{name} AS {h}_{name}" for h in hs for name in open_fields)
    wms = "k.wms_all - k.wms_excluded" if excluded_whens else "k.wms_all"
    comparables = f"""
        SELECT k.location_id AS location_id, k.sku AS sku,
               {wms} AS wms, k.wms_all AS wms_all, k.erp AS erp, k.shown AS shown,
               CASE WHEN k.shown > 0 THEN k.held END AS ss,
               {"k.wms_at AS wms_at, k.erp_at AS erp_at, k.sf_at AS sf_at," if timed else ""}
               CASE WHEN k.wms_all IS NOT NULL OR k.erp IS NOT NULL OR k.shown IS NOT NULL
                      OR o.location_id IS NOT NULL THEN 1 ELSE 0 END AS counted,
               CASE WHEN ({bins_without_total}) AND (k.wms_all IS NOT NULL OR k.erp IS NOT NULL
                      OR k.shown IS NOT NULL) OR {storefronts_differ} THEN 1 ELSE 0 END AS undecided,
               CASE WHEN {storefront_times_differ} THEN 1 ELSE 0 END AS sf_times_differ,
               CASE WHEN o.location_id IS NOT NULL THEN 1 ELSE 0 END AS has_open,
               {open_columns}
        FROM (
            SELECT p.location_id AS location_id, p.sku AS sku, {", ".join(sums)}
            FROM {positions} p {key_join.format(t="p")}
            WHERE {all_ids} {location_where.format(t="p")}
            GROUP BY p.location_id, p.sku
        ) k
        LEFT JOIN (
            SELECT d.location_id AS location_id, d.sku AS sku, {open_pivot}
            FROM {discrepancies} d {key_join.format(t="d")}
            WHERE d.closed_at IS NULL {location_where.format(t="d")}
            GROUP BY d.location_id, d.sku
        ) o ON o.location_id = k.location_id AND o.sku = k.sku
        ORDER BY k.location_id, k.sku
        {fence}"""  # noqa: S608 (see below)
    if len(rule_terms) > 1:  # the governing rule of each key, once: every hop's numbers use it
        comparables = f"""
            SELECT n.*, {rules.governing("COALESCE(wms, erp, 0)")} AS gov FROM ({comparables}) n
            {fence}"""  # noqa: S608

    g_ss = rules.safety_stock()
    # Per hop: present (both systems report), upstream, downstream, what explains the gap
    # (classify.hop_comparison, boundary before rule) and since when the compared values hold.
    own_rule = f"ss IS NOT NULL AND ss <> {g_ss}"
    hop_values = {
        "h1": (
            "wms IS NOT NULL AND erp IS NOT NULL",
            "wms",
            "erp",
            f"CASE WHEN wms_all <> wms AND erp = wms_all THEN '{classify.BOUNDARY}' END",
            "CASE WHEN wms_at >= erp_at THEN wms_at ELSE erp_at END",
        ),
        "h2": (
            "erp IS NOT NULL AND shown IS NOT NULL",
            rules.atp("erp"),
            "shown",
            f"CASE WHEN {own_rule} AND {rules.atp('erp', 'ss')} = shown THEN '{classify.RULE}' END",
            "CASE WHEN erp_at >= sf_at THEN erp_at ELSE sf_at END",
        ),
        "h3": (
            "wms IS NOT NULL AND shown IS NOT NULL",
            rules.atp("wms"),
            "shown",
            f"CASE WHEN wms_all <> wms AND (erp IS NULL OR erp = wms_all) AND ({rules.atp('wms_all')} = shown"
            f" OR ({own_rule} AND {rules.atp('wms_all', 'ss')} = shown)) THEN '{classify.BOUNDARY}'"
            f" WHEN erp = wms AND {own_rule} AND {rules.atp('wms', 'ss')} = shown THEN '{classify.RULE}' END",
            "CASE WHEN wms_at >= sf_at THEN wms_at ELSE sf_at END",
        ),
    }
    if not excluded_whens:  # wms_all = wms: no boundary explains anything
        hop_values["h1"] = (*hop_values["h1"][:3], "NULL", hop_values["h1"][4])
        hop_values["h3"] = (
            *hop_values["h3"][:3],
            f"CASE WHEN erp = wms AND {own_rule} AND {rules.atp('wms', 'ss')} = shown THEN '{classify.RULE}' END",
            hop_values["h3"][4],
        )
    hop_columns = []
    for h, (present, up, down, explained, since) in hop_values.items():
        # A new discrepancy is as old as the later of the compared values, never in the future;
        # classify.discrepancy_classify on its age or the open one's (services._reconcile_batch).
        new = f"CASE WHEN {since} > %(now)s THEN %(now)s ELSE {since} END" if timed else "NULL"
        opened = f"COALESCE({h}_opened, {new})" if timed else f"{h}_opened"
        age_class = (
            f"CASE WHEN {opened} >= %({h}_in_flight)s THEN '{classify.IN_FLIGHT}'"
            f" WHEN {opened} < %({h}_drift)s THEN '{classify.DRIFT}' ELSE '{classify.STALE}' END"
        )
        gap = f"{present} AND {down} <> {up}"
        hop_columns.append(
            f"""CASE WHEN {gap} THEN COALESCE({explained}, {age_class}) END AS {h}_class,
            CASE WHEN NOT ({present}) THEN NULL
                 WHEN {down} = {up} THEN CASE WHEN {h}_id IS NOT NULL THEN '{CLOSE}' END
                 WHEN {h}_id IS NULL THEN '{CREATE}'
                 WHEN {h}_cls = COALESCE({explained}, {age_class}) AND {h}_up = {up} AND {h}_down = {down}
                      AND {h}_peak >= ABS({down} - {up}) THEN NULL
                 ELSE '{UPDATE}' END AS {h}_action,
            {up} AS {h}_u, {down} AS {h}_d, {h}_id, {h}_peak,
            {f"CASE WHEN {gap} AND {h}_id IS NULL THEN {new} END" if timed else "NULL"} AS {h}_new"""
        )
    # A new discrepancy on a storefront hop is dated by the storefront the per-key path picks.
    new_on = {
        h: f"({present} AND {down} <> {up} AND {h}_id IS NULL)" for h, (present, up, down, *_) in hop_values.items()
    }
    new_on_storefront_hop = f"{new_on['h2']} OR {new_on['h3']}"
    recheck = f"WHEN {' OR '.join(new_on.values())} THEN 2" if not timed else ""
    has_class = " OR ".join(f"({present} AND {down} <> {up})" for present, up, down, *_ in hop_values.values())
    hop_sql = ",\n".join(hop_columns)
    classified = f"""
        SELECT location_id, sku, counted, has_open,
               CASE WHEN undecided = 1 OR (sf_times_differ = 1 AND ({new_on_storefront_hop})) THEN 1
                    {recheck} ELSE 0 END AS undecided,
               CASE WHEN {has_class} THEN 1 ELSE 0 END AS has_class,
               CASE WHEN {own_rule} THEN ss END AS drift_ss, CASE WHEN {own_rule} THEN {g_ss} END AS drift_hub_ss,
               {hop_sql}
        FROM ({comparables}) g
        {fence}"""  # noqa: S608

    # Cheap tests first: most keys agree and have no open discrepancy.
    listed = "undecided > 0 OR drift_ss IS NOT NULL OR " + each("{h}_action IS NOT NULL", sep=" OR ")
    row_values = "sku, undecided, drift_ss, drift_hub_ss, " + each(
        "{h}_action, {h}_id, {h}_class, {h}_u, {h}_d, {h}_peak, {h}_new", sep=", "
    )
    rows_json = (
        f"json_agg(json_build_array({row_values}))" if postgresql else f"json_group_array(json_array({row_values}))"
    )

    def class_count(name: str) -> str:
        terms = each(f"CASE WHEN {{h}}_class = '{name}' THEN 1 ELSE 0 END", sep=" + ")
        return f"SUM(CASE WHEN has_class = 1 AND undecided = 0 THEN {terms} ELSE 0 END)"

    # Built from table names, our own hop and class names, int literals and placeholders: every
    # string from the data (bin names, SKUs) is a bound parameter.
    sql = f"""
    {key_cte}
    SELECT location_id, SUM(CASE WHEN undecided = 0 THEN counted ELSE 0 END), SUM(has_open),
           {", ".join(class_count(name) for name in CLASSES)},
           {rows_json} FILTER (WHERE {listed})
    FROM ({classified}) c
    GROUP BY location_id
    UNION ALL
    SELECT NULL, COUNT(*), 0, {", ".join(["0"] * len(CLASSES))}, NULL FROM (
        SELECT d.location_id, d.sku FROM {discrepancies} d {key_join.format(t="d")}
        WHERE d.closed_at IS NULL {location_where.format(t="d")}
        GROUP BY d.location_id, d.sku
    ) open_keys
    """  # noqa: S608
    return sql, params


def _keys_cte(keys: Sequence[Key], params: dict[str, Any]) -> str:
    """A `scope_keys(location_id, sku)` CTE over the keys, bound as one JSON list.

    One string parameter, not two arrays: the driver quotes an array element by element in
    Python (a quarter of a second for 10,000 keys), a string in one call.
    """
    params["keys"] = json.dumps([[location_id, sku] for location_id, sku in keys])
    if connection.vendor == "postgresql":
        return (
            "scope_keys AS (SELECT (k->>0)::bigint AS location_id, k->>1 AS sku"
            " FROM json_array_elements(%(keys)s::json) AS k)"
        )
    return (
        "scope_keys AS (SELECT json_extract(value, '$[0]') AS location_id, json_extract(value, '$[1]') AS sku"
        " FROM json_each(%(keys)s))"
    )


def _collect(rows: Iterable[Sequence[Any]], verdicts: KeyVerdicts, *, recheck: list[Key]) -> None:
    """Fold one statement's rows into the verdicts.

    Per location: decided keys, keys with an open discrepancy, open discrepancies per class, and
    a JSON list of the keys to write, left to the per-key path, or with a rule drift: [sku,
    undecided, drift safety stock, hub safety stock, then per hop action, open discrepancy id,
    class, upstream, downstream, open peak gap, opened_at if new]. Last, with location None, the
    number of open keys.
    """
    open_keys = with_open = 0
    for location_id, decided, matched, *counts, listed in rows:
        if location_id is None:
            open_keys += decided
            continue
        verdicts.keys += decided
        with_open += matched
        for name, count in zip(CLASSES, counts, strict=True):
            if count:
                verdicts.open_by_class[name] += count
        listed_rows = json.loads(listed) if isinstance(listed, str) else listed or ()
        for sku, undecided, drift_ss, hub_ss, *per_hop in listed_rows:
            if undecided:
                (verdicts.per_key if undecided == 1 else recheck).append((location_id, sku))
                continue
            if drift_ss is not None:
                verdicts.drifts[(location_id, drift_ss, hub_ss)] += 1
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


def _db_datetime(value: dt.datetime) -> Any:
    """A datetime as the database compares it with stored ones (SQLite: the text Django stores)."""
    return connection.ops.adapt_datetimefield_value(value)


def _python_datetime(value: Any) -> dt.datetime:
    """A datetime a raw query returned (SQLite: stored text, naive UTC)."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"Not a datetime: {value!r}")
        value = parsed
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
