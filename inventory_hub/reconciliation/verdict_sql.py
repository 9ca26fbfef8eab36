"""The SQL of reconciliation's set-based path (verdicts.py): the statement deciding a group of keys,
and the statements writing discrepancies, shared by that statement and services' writer.

Built from table names, our own hop and class names, int literals and placeholders: every string
from the data (bin names, SKUs) is a bound parameter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection

from inventory_hub.connectors.models import Connector, Role
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import classify
from inventory_hub.reconciliation.models import Discrepancy

Key = tuple[int, str]
# (safety stock, pickup reservation, channel share): all of a rule that comparables depend on.
RuleTerms = tuple[int, int, int]
# A location's rules (in the order governing_rule breaks ties) and its WMS excluded bins.
Signature = tuple[tuple[RuleTerms, ...], tuple[tuple[int, tuple[str, ...]], ...]]

CREATE, UPDATE, CLOSE = "create", "update", "close"
HOP_COLUMNS = {hop: f"h{n}" for n, hop in enumerate(classify.HOPS, start=1)}
CLASSES = (classify.IN_FLIGHT, classify.STALE, classify.BOUNDARY, classify.RULE, classify.DRIFT)


@dataclasses.dataclass(frozen=True, slots=True)
class Scope:
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


def statement(
    *,
    signature: Signature,
    scope: Scope,
    connectors: Mapping[str, list[Connector]],
    budgets: Mapping[str, dt.timedelta],
    now: dt.datetime,
    timed: bool,
    apply_writes: bool = False,
) -> tuple[str, dict[str, Any]]:
    """One SELECT: a row per location (counts, and the keys to write or leave to the per-key path
    as a JSON list), and a last row with the number of open keys (see verdicts._collect).
    With apply_writes (PostgreSQL, timed), it applies the writes itself and only counts them.

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
    params: dict[str, Any] = {"now": db_datetime(now)}
    for hop, h in HOP_COLUMNS.items():
        params[f"{h}_in_flight"] = db_datetime(now - budgets[hop])
        params[f"{h}_drift"] = db_datetime(now - budgets[hop] * classify.DRIFT_BUDGETS)
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
    key_join = ""
    if scope.keys is not None:
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
    listed = "undecided > 0 OR drift_ss IS NOT NULL"
    row_values = "sku, undecided, drift_ss, drift_hub_ss"
    if not apply_writes:
        listed += " OR " + each("{h}_action IS NOT NULL", sep=" OR ")
        row_values += ", " + each("{h}_action, {h}_id, {h}_class, {h}_u, {h}_d, {h}_peak, {h}_new", sep=", ")
    rows_json = (
        f"json_agg(json_build_array({row_values}))" if postgresql else f"json_group_array(json_array({row_values}))"
    )

    def class_count(name: str) -> str:
        terms = each(f"CASE WHEN {{h}}_class = '{name}' THEN 1 ELSE 0 END", sep=" + ")
        return f"SUM(CASE WHEN has_class = 1 AND undecided = 0 THEN {terms} ELSE 0 END)"

    def action_count(action: str) -> str:
        if not apply_writes:
            return "0"
        terms = each(f"CASE WHEN {{h}}_action = '{action}' THEN 1 ELSE 0 END", sep=" + ")
        return f"SUM(CASE WHEN undecided = 0 THEN {terms} ELSE 0 END)"

    ctes = [_keys_cte(scope.keys, params)] if scope.keys is not None else []
    source = f"({classified}) c"
    if apply_writes:
        # The decided keys once (MATERIALIZED: read by the writes and by the counts), their writes
        # one row per hop, applied by the writer's statements (see discrepancy_write_sql).
        hop_rows = ", ".join(
            f"('{hop}', {h}_action, {h}_id, {h}_class, {h}_u, {h}_d, {h}_peak, {h}_new)"
            for hop, h in HOP_COLUMNS.items()
        )
        writes = f"""SELECT c.location_id AS location_id, c.sku AS sku, w.hop AS hop, w.action AS action,
                   w.id AS id, w.cls AS cls, w.u AS u, w.d AS d, w.peak AS peak, w.new AS new
            FROM classified c CROSS JOIN LATERAL (VALUES {hop_rows}) AS w(hop, action, id, cls, u, d, peak, new)
            WHERE c.undecided = 0 AND w.action IS NOT NULL"""  # noqa: S608
        # Each kind in the order its rows are locked (by id: two runs lock the same rows alike).
        rows = {
            CREATE: ("location_id, sku, hop, cls, u, d, ABS(d - u) AS peak, new AS opened", "location_id, sku, hop"),
            UPDATE: ("id, cls, u, d, GREATEST(peak, ABS(d - u)) AS peak", "id"),
            CLOSE: ("id, u, d", "id"),
        }
        ctes += [f"classified AS MATERIALIZED ({classified})", f"writes AS MATERIALIZED ({writes})"]
        ctes += [
            f"{action}_done AS ({discrepancy_write_sql(action, f'({select}) AS w')})"
            for action, (columns, order) in rows.items()
            for select in [f"SELECT {columns} FROM writes WHERE action = '{action}' ORDER BY {order}"]  # noqa: S608
        ]
        source = "classified c"

    sql = f"""
    {"WITH " + ", ".join(ctes) if ctes else ""}
    SELECT location_id, SUM(CASE WHEN undecided = 0 THEN counted ELSE 0 END), SUM(has_open),
           {", ".join(class_count(name) for name in CLASSES)},
           {", ".join(action_count(action) for action in (CREATE, UPDATE, CLOSE))},
           {rows_json} FILTER (WHERE {listed})
    FROM {source}
    GROUP BY location_id
    UNION ALL
    SELECT NULL, COUNT(*), 0, {", ".join(["0"] * (len(CLASSES) + 3))}, NULL FROM (
        SELECT d.location_id, d.sku FROM {discrepancies} d {key_join.format(t="d")}
        WHERE d.closed_at IS NULL {location_where.format(t="d")}
        GROUP BY d.location_id, d.sku
    ) open_keys
    """  # noqa: S608
    return sql, params


def discrepancy_write_sql(action: str, rows: str) -> str:
    """The writer's statement for one kind of write (PostgreSQL), applying the rows of the relation `rows`.

    Its columns: CREATE (location_id, sku, hop, cls, u, d, peak, opened), UPDATE (id, cls, u, d,
    peak), CLOSE (id, u, d); u and d are the upstream and downstream quantities, peak the gap to
    keep at least. services' writer binds them as JSON; a statement applying its own writes
    selects them from its writes (statement, apply_writes). Guarded for a concurrent run: an
    insert that finds the key already open is skipped (the partial unique constraint keeps one;
    the next run updates it), and updates and closes touch only rows still open, never lowering a
    peak gap another run raised. Closing uses the `now` parameter: closed_at may not precede
    opened_at, even when called with an earlier `now`.
    """
    table = connection.ops.quote_name(Discrepancy._meta.db_table)
    if action == CREATE:
        return f"""INSERT INTO {table} (location_id, sku, hop, classification, opened_at, upstream_quantity,
                                 downstream_quantity, peak_gap, acknowledgement_note)
            SELECT w.location_id, w.sku, w.hop, w.cls, w.opened, w.u, w.d, w.peak, '' FROM {rows}
            ON CONFLICT DO NOTHING"""  # noqa: S608
    if action == UPDATE:
        return f"""UPDATE {table} AS t
            SET classification = w.cls, upstream_quantity = w.u, downstream_quantity = w.d,
                peak_gap = GREATEST(t.peak_gap, w.peak)
            FROM {rows} WHERE t.id = w.id AND t.closed_at IS NULL"""  # noqa: S608
    return f"""UPDATE {table} AS t
            SET closed_at = CASE WHEN t.opened_at > %(now)s THEN t.opened_at ELSE %(now)s END,
                upstream_quantity = w.u, downstream_quantity = w.d
            FROM {rows} WHERE t.id = w.id AND t.closed_at IS NULL"""  # noqa: S608


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


def db_datetime(value: dt.datetime) -> Any:
    """A datetime as the database compares it with stored ones (SQLite: the text Django stores)."""
    return connection.ops.adapt_datetimefield_value(value)
